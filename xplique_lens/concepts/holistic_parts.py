"""The building blocks of holistic CRAFT: latent data of a layer, factorizer, decoder and
localizer (Xplique 2.0.2's names), used by :mod:`.holistic_craft`."""

from __future__ import annotations

import contextlib
import copy
import os
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from ..commons.model_splitting import split_model
from ..commons.validation import check_batch_size, check_choice, to_float_tensor
from .extractors.nmf import NMF
from .holistic_reductions import REDUCERS

if TYPE_CHECKING:  # annotations only: holistic_craft imports this module
    from .holistic_craft import HolisticCraft


# ---------------------------------------------------------------------------- latent extractor
class LayerLatentData:
    """Activations of one layer for a batch (Xplique's ``LatentData`` interface).

    Parameters
    ----------
    activations
        ``(N, h, w, p)``, ``(N, T, p)`` or ``(N, p)`` tensor.
    """

    def __init__(self, activations: tf.Tensor):
        self.activations = activations

    def __len__(self) -> int:
        return int(self.activations.shape[0])

    def __getitem__(self, indices: int | slice) -> LayerLatentData:
        return LayerLatentData(self.activations[indices])

    def get_activations(self, as_numpy: bool = True, keep_gradients: bool = False) -> Any:
        """The activations, as NumPy or as the (differentiable) tensor."""
        if as_numpy:
            return np.asarray(self.activations)
        return self.activations

    def set_activations(self, values: Any) -> None:
        """Replace the activations (the concept decoder works on a copy)."""
        self.activations = tf.convert_to_tensor(values, tf.float32)


class LayerLatentExtractor:
    """A Keras model split at a layer, with Xplique's ``LatentExtractor`` interface.

    ``g`` and ``h`` come from :func:`~xplique_lens.commons.split_model` (weights shared, nested
    models and unique bare names accepted, a skip connection across the cut refused).

    Parameters
    ----------
    model
        A built Keras model.
    layer
        The split layer (last layer of ``g``), any form of
        :func:`~xplique_lens.commons.find_layer`.
    batch_size
        Images per batch of ``g`` (Xplique's builder defaults to 1).
    """

    def __init__(self, model: keras.Model, layer: str | int, batch_size: int = 1):
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
        self.model = model
        self.input_to_latent_model, self.latent_to_logit_model = split_model(model, layer)
        self.batch_size = check_batch_size(batch_size)
        if self.batch_size is None:
            raise ValueError("`batch_size` must be a positive integer, got None.")

    @staticmethod
    def _prepare(inputs: Any) -> tf.Tensor:
        if not isinstance(inputs, tf.Tensor):
            inputs = to_float_tensor(inputs, "inputs")
        if inputs.shape.rank == 3:
            inputs = inputs[None]
        if inputs.shape.rank != 4:
            raise ValueError(
                f"`inputs` must be images (N, H, W, C) or one image (H, W, C), got shape "
                f"{tuple(inputs.shape)}."
            )
        return tf.cast(inputs, tf.float32)

    def input_to_latent(self, inputs: Any) -> LayerLatentData:
        """``g(inputs)`` as latent data."""
        return LayerLatentData(self.input_to_latent_model(self._prepare(inputs)))

    def input_to_latent_generator(
        self, inputs: Any, resize: tuple[int, int] | None = None, keep_gradients: bool = False
    ) -> Iterator[LayerLatentData]:
        """Latent data of ``inputs``, ``batch_size`` images at a time (resized first if asked)."""
        inputs = self._prepare(inputs)
        for start in range(0, int(inputs.shape[0]), self.batch_size):
            batch = inputs[start : start + self.batch_size]
            if resize:
                batch = tf.image.resize(batch, resize)
            yield LayerLatentData(self.input_to_latent_model(batch))

    def latent_to_logit(self, latent_data: LayerLatentData) -> tf.Tensor:
        """``h(activations)``: the logits ``(N, C)``."""
        return self.latent_to_logit_model(latent_data.get_activations(as_numpy=False))

    def forward(self, samples: Any) -> tf.Tensor:
        """``h(g(samples))``."""
        return self.latent_to_logit(self.input_to_latent(samples))

    __call__ = forward

    @contextlib.contextmanager
    def temporary_force_batch_size(self, batch_size: int) -> Iterator[None]:
        """Use another batch size inside the ``with`` block."""
        saved = self.batch_size
        self.batch_size = batch_size
        try:
            yield
        finally:
            self.batch_size = saved


# ---------------------------------------------------------------------------- factorizer
class ExtractorFactorizer:
    """One of our concept extractors behind Xplique's ``ConceptFactorizer`` interface.

    Parameters
    ----------
    extractor
        An unfitted extractor (``NMF``, ``PCA``, ``ICA``, ``SemiNMF``...).
    """

    def __init__(self, extractor: Any):
        if not hasattr(extractor, "fit_transform") or not hasattr(extractor, "transform"):
            raise TypeError(
                "`factorizer` must be an Xplique factorizer (fit / encode) or a concept "
                f"extractor (fit_transform / transform), got {type(extractor).__name__}."
            )
        self.extractor = extractor

    def fit(self, activations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Factorise ``A (n, p)``; returns ``(W (r, p), U (n, r))`` as Xplique."""
        codes = self.extractor.fit_transform(activations)
        return np.asarray(self.extractor.components_, np.float32), np.asarray(codes, np.float32)

    def encode(self, activations: np.ndarray) -> np.ndarray:
        """Codes of new activations (NumPy)."""
        return np.asarray(self.extractor.transform(activations), np.float32)

    def encode_differentiable(self, activations: tf.Tensor) -> tf.Tensor:
        """Codes as a differentiable tensor (implicit NNLS gradient for NMF)."""
        if not getattr(self.extractor, "differentiable", False):
            raise NotImplementedError(
                f"{type(self.extractor).__name__} codes are not differentiable in TensorFlow."
            )
        return self.extractor.tf_transform(tf.cast(activations, tf.float32))

    def decode(self, coefficients: Any) -> tf.Tensor:
        """Activations ``U W`` (plus the extractor's mean, if any)."""
        return self.extractor.tf_inverse_transform(tf.cast(coefficients, tf.float32))

    def get_concept_bank(self) -> np.ndarray:
        """The concept bank ``W (r, p)``."""
        return np.asarray(self.extractor.components_, np.float32)

    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` was called."""
        return hasattr(self.extractor, "components_")

    @property
    def requires_positive_activations(self) -> bool:
        """True for NMF."""
        return isinstance(self.extractor, NMF)


def check_latent_extractor(latent_extractor: Any) -> None:
    """Raise unless ``latent_extractor`` has Xplique's latent-extractor interface."""
    missing = [
        name
        for name in ("input_to_latent_generator", "latent_to_logit", "batch_size")
        if not hasattr(latent_extractor, name)
    ]
    if missing:
        raise TypeError(
            "`latent_extractor` must be a latent extractor (input_to_latent_generator, "
            f"latent_to_logit, batch_size), got {type(latent_extractor).__name__} without "
            f"{missing}; build one with `HolisticCraftTf.from_model(model, layer)`."
        )


def as_factorizer(factorizer: Any, number_of_concepts: int) -> Any:
    """Xplique's factorizer as is, one of our extractors wrapped, or None: ``NMF(r)``."""
    if factorizer is None:
        return ExtractorFactorizer(NMF(number_of_concepts))
    if hasattr(factorizer, "encode") and hasattr(factorizer, "fit"):
        return factorizer  # Xplique's protocol
    return ExtractorFactorizer(factorizer)


def factorization_input(
    latent_extractor: Any, inputs: Any, factorizer: Any
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Activations of every position of ``inputs`` as a float32 ``(n_positions, p)`` matrix,
    and the shape of their positions ``(N, ...)``; checked for the factorizer.

    Warns when the layer has a single position (holistic CRAFT needs a spatial or token
    layer); raises when the factorizer needs non-negative activations and gets negative ones.
    """
    batches = [
        np.asarray(latent.get_activations(as_numpy=True))
        for latent in latent_extractor.input_to_latent_generator(inputs)
    ]
    if not batches:
        raise ValueError("`inputs` is empty: no activations were extracted.")
    activations = np.concatenate(batches, axis=0)
    shape = activations.shape[:-1]
    if activations.ndim > 2 and int(np.prod(shape[1:])) <= 1:
        warnings.warn(
            f"The activations of shape {activations.shape} have a single position: holistic "
            "CRAFT needs a spatial (or token) layer, e.g. before the global pooling.",
            UserWarning,
            stacklevel=3,
        )
    flat = activations.reshape(-1, activations.shape[-1]).astype(np.float32)
    if getattr(factorizer, "requires_positive_activations", False) and flat.min() < 0:
        raise ValueError(
            f"The factorizer needs non-negative activations, got a minimum of {flat.min():.4g}:"
            " split the model after a ReLU or pass a signed factorizer (e.g. PCA)."
        )
    return flat, shape


# ---------------------------------------------------------------------------- decoder, localizer
def predictions_tensor(predictions: Any) -> tf.Tensor:
    """Predictions as a tensor (Xplique's ``TfClassifierTensor`` too); boxes raise."""
    if hasattr(predictions, "to_batched_tensor"):
        return tf.convert_to_tensor(predictions.to_batched_tensor())
    if isinstance(predictions, list | tuple):
        raise TypeError(
            "Holistic CRAFT here explains classifiers: the latent extractor returned a list "
            "(object detection boxes), which is not supported."
        )
    return tf.convert_to_tensor(predictions)


def decode_to_logits(craft: HolisticCraft, latent_data: Any, coeffs_u: Any) -> Any:
    """The latent extractor's ``latent_to_logit`` of the activations ``u W`` rebuilt from the
    codes ``coeffs_u`` (by the factorizer's ``decode`` when it has one); ``latent_data`` is
    copied, never modified."""
    craft.check_if_fitted()
    coeffs = tf.convert_to_tensor(coeffs_u, tf.float32)
    if hasattr(craft.factorizer, "decode"):
        activations = craft.factorizer.decode(coeffs)
    else:
        activations = coeffs @ tf.constant(craft.factorization.concept_bank_w)
    latent = copy.copy(latent_data)
    latent.set_activations(activations)
    return craft.latent_extractor.latent_to_logit(latent)


class ConceptDecoder:
    """``u -> h(u W)`` for one image's latent data: the model that concept importance explains.

    Callable on a batch of codes (the perturbed or differentiated ones); the image's latent
    data is copied, never modified.
    """

    def __init__(self, parent_craft: HolisticCraft, latent_data: Any):
        self.parent_craft = parent_craft
        self.latent_data = latent_data

    def __call__(self, coeffs_u: Any) -> tf.Tensor:
        return predictions_tensor(decode_to_logits(self.parent_craft, self.latent_data, coeffs_u))


def _single_inter_op_thread() -> bool:
    """Whether TensorFlow runs graphs on one inter-op thread (configured or by environment)."""
    configured = tf.config.threading.get_inter_op_parallelism_threads()
    return configured == 1 or os.environ.get("TF_NUM_INTEROP_THREADS", "").strip() == "1"


class ConceptLocalizer:
    """Images -> one score per concept ``(N, r)`` (the reduced concept codes), as a model that
    black-box explainers can attribute to the input pixels.

    The codes are computed in Python (``tf.py_function``), so any factorizer and latent
    extractor work, inside compiled explainers too.

    Parameters
    ----------
    parent_craft
        A fitted :class:`HolisticCraft`.
    concept_reducer
        ``"mean"``, ``"sum"``, ``"max"`` over the positions, or a callable
        ``(N, ..., r) -> (N, r)``.
    """

    def __init__(self, parent_craft: HolisticCraft, concept_reducer: str | Callable = "mean"):
        if isinstance(concept_reducer, str):
            check_choice(concept_reducer, "concept_reducer", ("mean", "sum", "max"))
        elif not callable(concept_reducer):
            raise TypeError(
                "`concept_reducer` must be 'mean', 'sum', 'max' or a callable returning "
                f"(N, number_of_concepts), got {type(concept_reducer).__name__}."
            )
        self.parent_craft = parent_craft
        self.concept_reducer = concept_reducer

    def reduce(self, coeffs_u: np.ndarray) -> np.ndarray:
        """``(N, ..., r)`` codes -> ``(N, r)`` float32 scores."""
        coeffs_u = np.asarray(coeffs_u)
        r = self.parent_craft.number_of_concepts
        if coeffs_u.ndim < 2 or coeffs_u.shape[-1] != r:
            raise ValueError(f"Concept codes must be (N, ..., {r}), got shape {coeffs_u.shape}.")
        axes = tuple(range(1, coeffs_u.ndim - 1))
        if callable(self.concept_reducer):
            scores = np.asarray(self.concept_reducer(coeffs_u))
        elif axes:
            scores = REDUCERS[self.concept_reducer](coeffs_u, axis=axes)
        else:
            scores = coeffs_u
        if scores.shape != (coeffs_u.shape[0], r):
            raise ValueError(
                f"`concept_reducer` must return shape {(coeffs_u.shape[0], r)}, got {scores.shape}."
            )
        return scores.astype(np.float32)

    def _scores(self, inputs: tf.Tensor) -> np.ndarray:
        if not _single_inter_op_thread():
            return self.reduce(self.parent_craft.transform(inputs))
        # Inside tf.py_function with a single inter-op thread, a compiled function called here
        # waits for the thread its caller holds (a deadlock): run them eagerly instead.
        previous = tf.config.functions_run_eagerly()
        tf.config.run_functions_eagerly(True)
        try:
            return self.reduce(self.parent_craft.transform(inputs))
        finally:
            tf.config.run_functions_eagerly(previous)

    def __call__(self, inputs: Any) -> tf.Tensor:
        inputs = tf.convert_to_tensor(inputs, tf.float32)
        scores = tf.py_function(self._scores, [inputs], tf.float32)
        scores.set_shape((inputs.shape[0], self.parent_craft.number_of_concepts))
        return scores


# ---------------------------------------------------------------------------- holistic CRAFT
def check_explanation_shape(explanation: Any, shape: tuple) -> np.ndarray:
    """Explanations as float32, raising unless they have the shape of the codes."""
    explanation = np.asarray(explanation, np.float32)
    if explanation.shape != tuple(shape):
        raise ValueError(
            f"The explainer returned explanations of shape {explanation.shape} for codes of "
            f"shape {tuple(shape)}: use an explainer that keeps the channels (e.g. "
            "reducer=None, or nb_channels=number_of_concepts)."
        )
    return explanation


def is_white_box(explainer_class: Any) -> bool:
    """Whether ``explainer_class`` needs gradients (a ``WhiteBoxExplainer``)."""
    if not isinstance(explainer_class, type):
        return False
    return any(base.__name__ == "WhiteBoxExplainer" for base in explainer_class.__mro__)
