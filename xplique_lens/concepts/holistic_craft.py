"""Holistic CRAFT with Xplique 2.0.2's names: ``HolisticCraft`` and ``HolisticCraftTf``.

Xplique 2.0.2's holistic CRAFT factorises the activations of *every position* of whole images
(no crops) at a layer, and measures each concept's importance by explaining the model's
prediction with respect to the concept codes through a *concept decoder*
``u -> h(u W)`` (Gradient x Input or Sobol), then reducing the explanations (importance,
prevalence, reliability: the holistic paper's measures). It talks to the model through a
*latent extractor* (``input_to_latent_generator`` / ``latent_to_logit``) and to the dictionary
through a *factorizer* (``fit`` / ``encode`` / ``encode_differentiable`` / ``decode``).

This module implements that interface for TensorFlow classifiers:

- ``latent_extractor`` may be Xplique's own (e.g. built by its ``LayeredModelExtractorBuilder``)
  or, without Xplique, :class:`LayerLatentExtractor`, built by
  ``HolisticCraftTf.from_model(model, layer)`` (any layer form of
  :func:`~xplique_lens.commons.find_layer`, nested models included);
- ``factorizer`` may be Xplique's, any of our concept extractors (``NMF``, ``PCA``...), or
  ``None``: our TensorFlow :class:`~xplique_lens.concepts.NMF`, whose codes are differentiable
  by implicit differentiation of the NNLS (Xplique unrolls a FISTA solver);
- the explainers are ours (:class:`~xplique_lens.attributions.GradientInput`,
  :class:`~xplique_lens.attributions.SobolAttributionMethod`), or any class given through
  :class:`~xplique_lens.concepts.PartialExplainer`.

Object detection (Xplique's box predictions) is not supported: predictions must be a tensor
``(N, C)`` or expose ``to_batched_tensor()`` (Xplique's ``TfClassifierTensor``). The
``display_*`` methods of Xplique are not provided: draw with :mod:`xplique_lens.plots`.

References
----------
Fel et al. (2023). *CRAFT: Concept Recursive Activation FacTorization for Explainability.*
CVPR. https://arxiv.org/abs/2211.10154
Fel et al. (2023). *A Holistic Approach to Unifying Automatic Concept Extraction and Concept
Importance Estimation.* NeurIPS. https://arxiv.org/abs/2306.07304
"""

from __future__ import annotations

import contextlib
import copy
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..commons.validation import check_choice, to_float_tensor
from .extractors.base import NotFittedError
from .holistic_parts import (
    ConceptDecoder,
    ConceptLocalizer,
    LayerLatentData,
    LayerLatentExtractor,
    _as_factorizer,
    _checked,
    _is_white_box,
    _predictions_tensor,
    _reduce,
)
from .xplique_names import EncodedData, Factorization, PartialExplainer

METHODS = ("gradient_input", "sobol")


class HolisticCraft:
    """Xplique 2.0.2's holistic CRAFT: concepts of every position of whole images, and their
    importance, prevalence and reliability (TensorFlow implementation).

    Same constructor, methods, parameters and defaults as ``xplique.concepts.HolisticCraft``
    (the framework-agnostic base Xplique specialises for TensorFlow in ``HolisticCraftTf``);
    see the module docstring for what ``latent_extractor`` and ``factorizer`` accept and for
    the differences. The default factorizer is our TensorFlow NMF (Xplique: scikit-learn's
    with ``alpha_W=1e-2``), so the concepts differ from Xplique's by the factorization.

    Parameters
    ----------
    latent_extractor
        Splits the model: ``input_to_latent_generator`` / ``latent_to_logit`` /
        ``batch_size`` (Xplique's extractors, or :class:`LayerLatentExtractor`).
    number_of_concepts
        Number of concepts ``r``.
    device
        Accepted for Xplique's signature; TensorFlow places the computation (use
        ``with tf.device(...)``).
    factorizer
        Xplique factorizer, one of our extractors, or ``None`` (``NMF(number_of_concepts)``).

    Attributes
    ----------
    factorization
        The fit's record (concept bank ``concept_bank_w``, codes ``coeffs_u``), after ``fit``.

    References
    ----------
    Fel et al. (2023). *A Holistic Approach to Unifying Automatic Concept Extraction and
    Concept Importance Estimation.* NeurIPS. https://arxiv.org/abs/2306.07304
    """

    framework = "tf"

    def __init__(
        self,
        latent_extractor: Any,
        number_of_concepts: int = 20,
        device: str | None = None,
        factorizer: Any | None = None,
    ):
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
        if isinstance(number_of_concepts, bool) or not isinstance(
            number_of_concepts, numbers.Integral
        ):
            raise TypeError(f"`number_of_concepts` must be an int, got {number_of_concepts!r}.")
        if number_of_concepts < 1:
            raise ValueError(f"`number_of_concepts` must be >= 1, got {number_of_concepts}.")
        self.latent_extractor = latent_extractor
        self.number_of_concepts = int(number_of_concepts)
        self.batch_size = latent_extractor.batch_size
        self.device = device
        self.factorizer = _as_factorizer(factorizer, self.number_of_concepts)
        self.factorization: Factorization | None = None
        self._decoder: ConceptDecoder | None = None

    @classmethod
    def from_model(
        cls,
        model: keras.Model,
        layer: str | int,
        number_of_concepts: int = 20,
        factorizer: Any | None = None,
        batch_size: int = 1,
    ) -> HolisticCraft:
        """Holistic CRAFT of ``model`` split at ``layer`` (no Xplique needed).

        Parameters
        ----------
        model
            A built Keras classifier.
        layer
            The concept layer (any form of :func:`~xplique_lens.commons.find_layer`), e.g. the
            last spatial block before the global pooling.
        number_of_concepts, factorizer
            As in the constructor.
        batch_size
            Images per batch of ``g`` (and of the explainers).
        """
        return cls(
            LayerLatentExtractor(model, layer, batch_size),
            number_of_concepts,
            factorizer=factorizer,
        )

    # ------------------------------------------------------------------ fit / encode
    def check_if_fitted(self) -> None:
        """Raise ``NotFittedError`` before ``fit``."""
        if self.factorization is None or not getattr(self.factorizer, "is_fitted", True):
            raise NotFittedError("This HolisticCraft is not fitted yet: call `fit(inputs)`.")

    def _activations(self, inputs: Any) -> np.ndarray:
        batches = [
            np.asarray(latent.get_activations(as_numpy=True))
            for latent in self.latent_extractor.input_to_latent_generator(inputs)
        ]
        if not batches:
            raise ValueError("`inputs` is empty: no activations were extracted.")
        return np.concatenate(batches, axis=0)

    def fit(self, inputs: Any, class_id: int = 0) -> HolisticCraft:
        """Factorise the activations of every position of ``inputs``; returns ``self``.

        Parameters
        ----------
        inputs
            Images ``(N, H, W, C)``.
        class_id
            The class the concepts are meant for (stored in ``factorization``).

        Raises
        ------
        ValueError
            If the factorizer needs non-negative activations and gets negative ones.
        """
        activations = self._activations(inputs)
        shape = activations.shape[:-1]
        if activations.ndim > 2 and int(np.prod(shape[1:])) <= 1:
            warnings.warn(
                f"The activations of shape {activations.shape} have a single position: holistic "
                "CRAFT needs a spatial (or token) layer, e.g. before the global pooling.",
                UserWarning,
                stacklevel=2,
            )
        flat = activations.reshape(-1, activations.shape[-1]).astype(np.float32)
        if getattr(self.factorizer, "requires_positive_activations", False) and flat.min() < 0:
            raise ValueError(
                f"The factorizer needs non-negative activations, got a minimum of {flat.min():.4g}:"
                " split the model after a ReLU or pass a signed factorizer (e.g. PCA)."
            )
        concept_bank_w, coeffs_u = self.factorizer.fit(flat)
        coeffs_u = np.asarray(coeffs_u, np.float32).reshape(*shape, -1)
        self._decoder = None  # decodes with the previous concept bank
        self.factorization = Factorization(
            inputs=None,
            class_id=int(class_id),
            crops=None,
            reducer=self.factorizer,
            crops_u=None,
            concept_bank_w=np.asarray(concept_bank_w, np.float32),
            coeffs_u=coeffs_u,
        )
        return self

    def latent_to_concept(self, latent_data: Any) -> np.ndarray:
        """Concept codes of one latent batch ``(n, ..., r)`` (NumPy, no gradient)."""
        self.check_if_fitted()
        activations = np.asarray(latent_data.get_activations(as_numpy=True), np.float32)
        flat = activations.reshape(-1, activations.shape[-1])
        return np.asarray(self.factorizer.encode(flat), np.float32).reshape(
            *activations.shape[:-1], -1
        )

    def latent_to_concept_differentiable(self, latent_data: Any) -> tf.Tensor:
        """Concept codes of one latent batch as a tensor that keeps the gradient."""
        self.check_if_fitted()
        activations = tf.convert_to_tensor(
            latent_data.get_activations(as_numpy=False, keep_gradients=True), tf.float32
        )
        flat = tf.reshape(activations, (-1, activations.shape[-1]))
        codes = self.factorizer.encode_differentiable(flat)
        return tf.reshape(codes, tf.concat([tf.shape(activations)[:-1], [-1]], 0))

    def encode(
        self, inputs: Any, resize: tuple[int, int] | None = None, differentiable: bool = False
    ) -> list[EncodedData]:
        """``[EncodedData(latent_data, coeffs_u)]``, one per batch of the latent extractor."""
        encoded = []
        for latent in self.latent_extractor.input_to_latent_generator(
            inputs, resize, keep_gradients=differentiable
        ):
            codes = (
                self.latent_to_concept_differentiable(latent)
                if differentiable
                else self.latent_to_concept(latent)
            )
            encoded.append(EncodedData(latent, codes))
        return encoded

    def transform(self, inputs: Any = None, resize: tuple[int, int] | None = None) -> np.ndarray:
        """Concept codes of ``inputs`` ``(N, ..., r)``; ``None``: those of the fitted images."""
        if inputs is None:
            self.check_if_fitted()
            return self.factorization.coeffs_u
        self.check_if_fitted()
        encoded = self.encode(inputs, resize)
        if not encoded:
            raise ValueError("`inputs` is empty: no activations were extracted.")
        return np.concatenate([np.asarray(e.coeffs_u) for e in encoded], axis=0)

    def _decode_coefficients(self, latent_data: Any, coeffs_u: Any) -> Any:
        self.check_if_fitted()
        coeffs = tf.convert_to_tensor(coeffs_u, tf.float32)
        if hasattr(self.factorizer, "decode"):
            activations = self.factorizer.decode(coeffs)
        else:
            activations = coeffs @ tf.constant(self.factorization.concept_bank_w)
        latent = copy.copy(latent_data)  # the caller's latent data is never modified
        latent.set_activations(activations)
        return self.latent_extractor.latent_to_logit(latent)

    def decode(self, latent_data: Any, coeffs_u: Any) -> Any:
        """Predictions of the model from concept codes (``h(u W)``) for one latent batch."""
        result = self._decode_coefficients(latent_data, coeffs_u)
        if isinstance(result, list):
            if len(result) != 1:
                raise ValueError(f"Expected one prediction, got {len(result)}.")
            result = result[0]
        return result

    def make_concept_decoder(self, latent_data: Any) -> ConceptDecoder:
        """The model ``u -> h(u W)`` bound to one image's latent data."""
        return ConceptDecoder(self, latent_data)

    def make_concept_localizer(self, concept_reducer: str | Callable = "mean") -> ConceptLocalizer:
        """The model images -> reduced concept codes ``(N, r)`` (float32)."""
        self.check_if_fitted()
        return ConceptLocalizer(self, concept_reducer)

    # ------------------------------------------------------------------ explanations
    def _targets(self, predictions: Any, class_id: int | None, confidence: float | None):
        """One-hot targets of a decoded prediction (or Xplique's structured ones)."""
        if hasattr(predictions, "filter") and hasattr(predictions, "to_attribution_target"):
            filtered = predictions.filter(class_id=class_id, confidence=confidence)
            if bool(getattr(filtered, "is_empty", False)):
                return None
            return np.asarray(_predictions_tensor(filtered.to_attribution_target(class_id)))
        outputs = np.asarray(_predictions_tensor(predictions))
        if class_id is None:
            return outputs
        if not 0 <= int(class_id) < outputs.shape[-1]:
            raise ValueError(f"`class_id` must be in [0, {outputs.shape[-1]}), got {class_id}.")
        return np.broadcast_to(
            np.eye(outputs.shape[-1], dtype=np.float32)[int(class_id)], outputs.shape
        ).copy()

    def compute_explanation_per_concept(
        self,
        images: Any,
        partial_explainer: PartialExplainer,
        class_id: int | None = None,
        confidence: float | None = None,
        verbose: bool = False,
    ) -> np.ndarray:
        """Explanation of the prediction with respect to the concept codes, per image.

        For each image, the explainer built by ``partial_explainer`` on the concept decoder
        ``u -> h(u W)`` explains the ``class_id`` output at the image's codes. With our
        :class:`LayerLatentExtractor` the decoder does not depend on the image: one decoder
        (one trace per fit) explains all the images in one call (Xplique: one decoder and one
        explainer per image).

        Parameters
        ----------
        images
            Images ``(N, H, W, C)``.
        partial_explainer
            A :class:`PartialExplainer` (e.g. ``PartialExplainer(GradientInput, reducer=None)``).
        class_id
            Explained output; ``None``: the raw outputs as targets (Xplique).
        confidence
            Passed to Xplique's structured predictions' ``filter`` (unused for tensors).
        verbose
            Print the progress.

        Returns
        -------
        explanations
            ``(N, ..., r)``, the shape of the codes.
        """
        if not isinstance(partial_explainer, PartialExplainer):
            raise TypeError(
                "`partial_explainer` must be a PartialExplainer, e.g. "
                f"PartialExplainer(GradientInput, reducer=None), got "
                f"{type(partial_explainer).__name__}."
            )
        if isinstance(self.latent_extractor, LayerLatentExtractor):
            return self._explain_batched(images, partial_explainer, class_id)
        force = getattr(self.latent_extractor, "temporary_force_batch_size", None)
        context = force(1) if force is not None else contextlib.nullcontext()
        explanations = []
        with context:
            encoded = self.encode(images)
            if not encoded:
                raise ValueError("`images` is empty: no activations were extracted.")
            for index, item in enumerate(encoded):
                if verbose:
                    print(f"\rProcessing image {index + 1}/{len(encoded)}...", end="", flush=True)
                codes = np.asarray(item.coeffs_u, np.float32)
                targets = self._targets(self.decode(item.latent_data, codes), class_id, confidence)
                if targets is None:
                    explanations.append(np.zeros(codes.shape, np.float32))
                    continue
                decoder = self.make_concept_decoder(item.latent_data)
                explainer = partial_explainer(model=decoder, batch_size=self.batch_size)
                explanations.append(_checked(explainer.explain(codes, targets), codes.shape))
        if verbose:
            print()
        return np.concatenate(explanations, axis=0)

    def _explain_batched(
        self, images: Any, partial_explainer: PartialExplainer, class_id: int | None
    ) -> np.ndarray:
        """Our layer split: ``h(u W)`` does not depend on the image, so one decoder (traced
        once per fit) explains every image in one call of the explainer."""
        codes = self.transform(images)
        if self._decoder is None:
            self._decoder = ConceptDecoder(self, LayerLatentData(tf.zeros((0,))))
        targets = self._targets(self._decoder(codes), class_id, None)
        explainer = partial_explainer(model=self._decoder, batch_size=self.batch_size)
        return _checked(explainer.explain(codes, targets), codes.shape)

    def estimate_importance(
        self,
        images: Any,
        operator: Any,
        class_id: int,
        method: str = "gradient_input",
        confidence: float = 0.9,
        spatial_reducer: str | None = "mean",
        abs_before_reduce: bool = True,
        aggregation_reducer: str | None = "mean",
        verbose: bool = False,
        **method_kwargs: Any,
    ) -> np.ndarray:
        """Importance of each concept for ``class_id``: explanations in concept space, reduced.

        Parameters
        ----------
        images
            Images ``(N, H, W, C)``.
        operator
            Operator of the explainer (``None``, ``"classification"``, Xplique's ``Tasks``...).
        class_id
            Explained class.
        method
            ``"gradient_input"`` (our :class:`~xplique_lens.attributions.GradientInput`, no
            channel reduction) or ``"sobol"`` (our
            :class:`~xplique_lens.attributions.SobolAttributionMethod` over the positions and
            concepts: ``grid_size=8``, ``nb_design=32``, ``perturbation_function="amplitude"``
            (our corrected amplitude) and ``nb_channels=number_of_concepts`` unless given).
        confidence
            For Xplique's structured predictions.
        spatial_reducer, abs_before_reduce, aggregation_reducer
            See :meth:`reduce_to_importance`.
        verbose
            Print the progress.
        **method_kwargs
            More settings of the explainer.

        Returns
        -------
        importances
            ``(r,)`` (or per image when ``aggregation_reducer`` is None).
        """
        from ..attributions import GradientInput, SobolAttributionMethod

        check_choice(method, "method", METHODS)
        method_kwargs.setdefault("operator", operator)
        if method == "gradient_input":
            method_kwargs.setdefault("reducer", None)
            explainer = PartialExplainer(GradientInput, **method_kwargs)
        else:
            method_kwargs.setdefault("grid_size", 8)
            method_kwargs.setdefault("nb_design", 32)
            method_kwargs.setdefault("perturbation_function", "amplitude")
            method_kwargs.setdefault("nb_channels", self.number_of_concepts)
            explainer = PartialExplainer(SobolAttributionMethod, **method_kwargs)
        explanation = self.compute_explanation_per_concept(
            images, explainer, class_id, confidence, verbose
        )
        return self.reduce_to_importance(
            explanation, spatial_reducer, abs_before_reduce, aggregation_reducer
        )

    def attribute_concepts_to_inputs(
        self,
        images: Any,
        partial_explainer: PartialExplainer,
        concept_ids: list[int] | None = None,
        concept_reducer: str | Callable = "mean",
    ) -> np.ndarray:
        """Where each concept is in the input: a black-box explainer attributes each concept's
        reduced code to the pixels.

        Parameters
        ----------
        images
            Images ``(N, H, W, C)`` (or one image).
        partial_explainer
            A black-box explainer (Rise, Sobol, Occlusion, Lime, KernelShap...), without
            ``operator``.
        concept_ids
            Concepts to localise (default all); the other channels are NaN.
        concept_reducer
            See :class:`ConceptLocalizer`.

        Returns
        -------
        concept_maps
            ``(N, H, W, r)`` float32; channel ``k`` is concept ``k``.
        """
        self.check_if_fitted()
        if not isinstance(partial_explainer, PartialExplainer):
            raise TypeError(
                f"`partial_explainer` must be a PartialExplainer, got "
                f"{type(partial_explainer).__name__}."
            )
        kwargs = dict(partial_explainer.kwargs)
        if kwargs.pop("operator", None) is not None:
            warnings.warn(
                "The operator is ignored: one-hot concept targets select the concept score.",
                UserWarning,
                stacklevel=2,
            )
        if _is_white_box(partial_explainer.explainer_class):
            raise ValueError(
                "`attribute_concepts_to_inputs` needs a black-box explainer (Rise, "
                "SobolAttributionMethod, Occlusion, Lime, KernelShap...), got "
                f"{partial_explainer.explainer_class.__name__}."
            )
        concept_ids = self._concept_ids(concept_ids)
        images = to_float_tensor(images, "images")
        if images.shape.rank == 3:
            images = images[None]
        if images.shape.rank != 4 or images.shape[0] == 0:
            raise ValueError(f"`images` must be (N, H, W, C), got shape {tuple(images.shape)}.")
        localizer = self.make_concept_localizer(concept_reducer)
        explainer = partial_explainer.explainer_class(
            model=localizer, batch_size=self.batch_size, **kwargs
        )
        n, height, width, _ = images.shape
        maps = np.full((n, height, width, self.number_of_concepts), np.nan, np.float32)
        for concept in concept_ids:
            targets = np.zeros((n, self.number_of_concepts), np.float32)
            targets[:, concept] = 1.0
            single = np.asarray(explainer.explain(images, targets), np.float32)
            if single.ndim == 4 and single.shape[-1] == 1:
                single = single[..., 0]
            if single.shape != (n, height, width):
                raise ValueError(
                    f"The explainer must return (N, H, W[, 1]) maps, got {single.shape}."
                )
            maps[..., concept] = single
        return maps

    def _concept_ids(self, concept_ids: Any) -> list[int]:
        if concept_ids is None:
            return list(range(self.number_of_concepts))
        ids = list(concept_ids)
        bad = [
            c
            for c in ids
            if isinstance(c, bool)
            or not isinstance(c, numbers.Integral)
            or not 0 <= c < self.number_of_concepts
        ]
        if not ids or bad or len(set(ids)) != len(ids):
            raise ValueError(
                f"`concept_ids` must be distinct ints in [0, {self.number_of_concepts}), got "
                f"{concept_ids!r}."
            )
        return [int(c) for c in ids]

    # ------------------------------------------------------------------ reductions
    def get_topk_images_per_concept(self, coeffs_u: Any, topk: int = 3) -> np.ndarray:
        """Indices of the ``topk`` images of highest mean code, per concept: ``(r, topk)``."""
        coeffs_u = np.asarray(coeffs_u)
        means = (
            coeffs_u.mean(axis=tuple(range(1, coeffs_u.ndim - 1)))
            if coeffs_u.ndim > 2
            else coeffs_u
        )
        return np.argsort(-means, axis=0, kind="stable")[:topk].T

    def reduce_to_importance(
        self,
        explanation: Any,
        spatial_reducer: str | None = "max",
        abs_before_reduce: bool = True,
        aggregation_reducer: str | None = "mean",
    ) -> np.ndarray:
        """Explanations ``(N, ..., r)`` -> importances ``(r,)``: absolute value (optional),
        ``spatial_reducer`` over the positions, ``aggregation_reducer`` over the images
        (``"min"``, ``"max"``, ``"sum"``, ``"mean"``, ``"median"`` or None to skip)."""
        explanation = np.asarray(explanation, np.float32)
        if abs_before_reduce:
            explanation = np.abs(explanation)
        axes = tuple(range(1, explanation.ndim - 1))
        if axes:
            explanation = _reduce(explanation, spatial_reducer, axes, "spatial_reducer")
        return _reduce(explanation, aggregation_reducer, 0, "aggregation_reducer")

    def reduce_to_prevalence(self, explanation: Any) -> np.ndarray:
        """Fraction of the images where each concept is the most important (sums to 1)."""
        dominant = self._dominant(explanation)
        return np.bincount(dominant, minlength=self.number_of_concepts) / len(dominant)

    def reduce_to_reliability(self, explanation: Any, accuracy: Any) -> np.ndarray:
        """Mean ``accuracy`` of the images where each concept dominates (0 where none)."""
        dominant = self._dominant(explanation)
        accuracy = np.asarray(accuracy, np.float64).ravel()
        if len(accuracy) != len(dominant):
            raise ValueError(
                f"`accuracy` must hold one value per image ({len(dominant)}), got {len(accuracy)}."
            )
        sums = np.bincount(dominant, weights=accuracy, minlength=self.number_of_concepts)
        counts = np.bincount(dominant, minlength=self.number_of_concepts)
        return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)

    def _dominant(self, explanation: Any) -> np.ndarray:
        explanation = np.asarray(explanation, np.float32)
        axes = tuple(range(1, explanation.ndim - 1))
        per_image = explanation.mean(axis=axes) if axes else explanation
        return np.argmax(per_image, axis=-1)


class HolisticCraftTf(HolisticCraft):
    """Xplique 2.0.2's ``HolisticCraftTf``: :class:`HolisticCraft` with Xplique's TensorFlow
    constructor (no ``device``).

    Parameters
    ----------
    latent_extractor
        Xplique's latent extractor, or :class:`LayerLatentExtractor` (see
        :meth:`HolisticCraft.from_model`).
    number_of_concepts
        Number of concepts.
    factorizer
        Xplique factorizer, one of our extractors, or ``None`` (our TensorFlow NMF).

    References
    ----------
    Fel et al. (2023). *A Holistic Approach to Unifying Automatic Concept Extraction and
    Concept Importance Estimation.* NeurIPS. https://arxiv.org/abs/2306.07304
    """

    def __init__(
        self, latent_extractor: Any, number_of_concepts: int = 20, factorizer: Any | None = None
    ):
        super().__init__(latent_extractor, number_of_concepts, None, factorizer)
