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

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..commons.validation import check_positive_int
from .extractors.base import NotFittedError
from .holistic_explain import (
    IMPORTANCE_METHODS,
    check_partial_explainer,
    explain_codes,
    explain_image_by_image,
    importance_explainer,
    localize_concepts,
)
from .holistic_parts import (
    ConceptDecoder,
    ConceptLocalizer,
    LayerLatentData,
    LayerLatentExtractor,
    as_factorizer,
    check_latent_extractor,
    decode_to_logits,
    factorization_input,
)
from .holistic_reductions import (
    reduce_to_importance,
    reduce_to_prevalence,
    reduce_to_reliability,
    topk_images_per_concept,
)
from .xplique_names import EncodedData, Factorization, PartialExplainer

__all__ = [
    "ConceptDecoder",
    "ConceptLocalizer",
    "HolisticCraft",
    "HolisticCraftTf",
    "LayerLatentData",
    "LayerLatentExtractor",
]

METHODS = IMPORTANCE_METHODS


class HolisticCraft:
    """Xplique 2.0.2's holistic CRAFT: concepts of every position of whole images, and their
    importance, prevalence and reliability (TensorFlow implementation).

    Same constructor, methods, parameters and defaults as ``xplique.concepts.HolisticCraft``;
    the module docstring says what ``latent_extractor`` and ``factorizer`` accept. The default
    factorizer is our TensorFlow NMF (Xplique: scikit-learn's, ``alpha_W=1e-2``).

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
        check_latent_extractor(latent_extractor)
        if device is not None and not isinstance(device, str):
            raise TypeError(f"`device` must be a string or None, got {device!r}.")
        self.latent_extractor = latent_extractor
        self.number_of_concepts = check_positive_int(number_of_concepts, "number_of_concepts")
        self.batch_size = latent_extractor.batch_size
        self.device = device
        self.factorizer = as_factorizer(factorizer, self.number_of_concepts)
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
        flat, shape = factorization_input(self.latent_extractor, inputs, self.factorizer)
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
        self.check_if_fitted()
        if inputs is None:
            return self.factorization.coeffs_u
        encoded = self.encode(inputs, resize)
        if not encoded:
            raise ValueError("`inputs` is empty: no activations were extracted.")
        return np.concatenate([np.asarray(e.coeffs_u) for e in encoded], axis=0)

    def decode(self, latent_data: Any, coeffs_u: Any) -> Any:
        """Predictions of the model from concept codes (``h(u W)``) for one latent batch."""
        result = decode_to_logits(self, latent_data, coeffs_u)
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
        check_partial_explainer(partial_explainer)
        if not isinstance(self.latent_extractor, LayerLatentExtractor):
            return explain_image_by_image(
                self, images, partial_explainer, class_id, confidence, verbose
            )
        if self._decoder is None:  # h(u W) does not depend on the image: one decoder per fit
            self._decoder = ConceptDecoder(self, LayerLatentData(tf.zeros((0,))))
        codes = self.transform(images)
        return explain_codes(self._decoder, codes, partial_explainer, class_id, self.batch_size)

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
        explainer = importance_explainer(method, operator, self.number_of_concepts, **method_kwargs)
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
        return localize_concepts(
            self.make_concept_localizer(concept_reducer),
            images,
            partial_explainer,
            self.number_of_concepts,
            self.batch_size,
            concept_ids,
        )

    # ------------------------------------------------------------------ reductions
    def get_topk_images_per_concept(self, coeffs_u: Any, topk: int = 3) -> np.ndarray:
        """Indices of the ``topk`` images of highest mean code, per concept: ``(r, topk)``."""
        return topk_images_per_concept(coeffs_u, topk)

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
        return reduce_to_importance(
            explanation, spatial_reducer, abs_before_reduce, aggregation_reducer
        )

    def reduce_to_prevalence(self, explanation: Any) -> np.ndarray:
        """Fraction of the images where each concept is the most important (sums to 1)."""
        return reduce_to_prevalence(explanation, self.number_of_concepts)

    def reduce_to_reliability(self, explanation: Any, accuracy: Any) -> np.ndarray:
        """Mean ``accuracy`` of the images where each concept dominates (0 where none)."""
        return reduce_to_reliability(explanation, accuracy, self.number_of_concepts)


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
