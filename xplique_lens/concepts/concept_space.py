"""Concept space: the concept bank ``W``, the codes ``U`` and the model on codes ``H``.

Activations factorise as ``A ~ U W (+ mean)``; the latent-to-logit function ``h`` composed with
the reconstruction gives a model on concept codes, ``H(U) = h(U W + mean)`` (Fel et al. 2023,
"A Holistic Approach to Unifying Automatic Concept Extraction and Concept Importance
Estimation", NeurIPS, arXiv 2306.07304, section 3). The importance estimators
(:mod:`~xplique_lens.concepts.importance`) and the C-fidelity metrics
(:mod:`~xplique_lens.concepts.fidelity`) both explain ``H``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ..attributions.sobol import Perturbation
from ..commons.validation import check_finite, to_float_tensor

__all__ = [
    "ConceptMasking",
    "as_codes",
    "as_concept_bank",
    "concept_space_model",
    "neuron_basis",
]


def as_concept_bank(concept_bank: Any, name: str = "concept_bank") -> tf.Tensor:
    """The concept bank ``W`` as a finite float32 ``(r, p)`` tensor; clear errors otherwise."""
    bank = to_float_tensor(concept_bank, name)
    if bank.shape.rank != 2 or bank.shape[0] == 0 or bank.shape[1] == 0:
        raise ValueError(
            f"`{name}` must be a non-empty matrix (number_of_concepts, n_features), got shape "
            f"{tuple(bank.shape)}."
        )
    check_finite(bank, name)
    return bank


def as_codes(codes: Any, number_of_concepts: int, name: str = "codes") -> tf.Tensor:
    """Codes ``(N, r)``, spatial ``(N, h, w, r)`` or per token ``(N, T, r)`` as float32,
    checked against ``r``."""
    tensor = to_float_tensor(codes, name)
    if tensor.shape.rank not in (2, 3, 4):
        raise ValueError(
            f"`{name}` must be concept codes (N, r), spatial codes (N, h, w, r) or token codes "
            f"(N, T, r), got shape {tuple(tensor.shape)}."
        )
    if tensor.shape[-1] != number_of_concepts:
        raise ValueError(
            f"`{name}` has {tensor.shape[-1]} concepts on its last axis but the concept bank has "
            f"{number_of_concepts} rows."
        )
    if tensor.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: expected at least one sample.")
    check_finite(tensor, name)
    return tensor


def concept_space_model(
    latent_to_logit_model: Callable, concept_bank: Any, mean: Any = None
) -> Callable:
    """``H(U) = h(U W + mean)``: the model on concept codes ``(B, r)`` or ``(B, h, w, r)``.

    Differentiable with respect to the codes; ``mean`` is the extractor's mean (PCA, ICA) or None.
    """
    if not callable(latent_to_logit_model):
        raise TypeError(
            "`latent_to_logit_model` must be callable (a Keras model), got "
            f"{type(latent_to_logit_model).__name__}."
        )
    bank = as_concept_bank(concept_bank)
    offset = None if mean is None else tf.reshape(to_float_tensor(mean, "mean"), (-1,))
    if offset is not None and offset.shape[0] != bank.shape[1]:
        raise ValueError(
            f"`mean` has {offset.shape[0]} features but the concept bank has {bank.shape[1]}."
        )

    def model(codes: tf.Tensor) -> tf.Tensor:
        activations = tf.tensordot(tf.cast(codes, tf.float32), bank, axes=1)
        if offset is not None:
            activations = activations + offset
        return tf.cast(latent_to_logit_model(activations), tf.float32)

    model.concept_bank = bank
    model.number_of_concepts = int(bank.shape[0])
    return model


def neuron_basis(activations: Any) -> tuple[np.ndarray, np.ndarray]:
    """Single neurons as concepts: codes ``U = A`` and the identity bank ``W = I`` ``(p, p)``.

    Feeding these to the importance estimators and the C-fidelity metrics gives the
    "local" (canonical basis) counterpart of a dictionary's "distributed" directions.
    """
    tensor = to_float_tensor(activations, "activations")
    if tensor.shape.rank not in (2, 4):
        raise ValueError(
            f"`activations` must be (N, p) or (N, h, w, p), got shape {tuple(tensor.shape)}."
        )
    return tensor.numpy(), np.eye(int(tensor.shape[-1]), dtype=np.float32)


class ConceptMasking(Perturbation):
    """``u * m + (1 - m) * baseline`` with one mask value per concept, broadcast over positions.

    ``masks`` is ``(B, r)``; ``inputs`` ``(B, r)`` or spatial ``(B, h, w, r)``.
    """

    def __init__(self, baseline_value: float = 0.0):
        self.baseline_value = float(baseline_value)

    def __call__(self, inputs, masks, *extras):
        masks = tf.reshape(masks, (-1, *([1] * (inputs.shape.rank - 2)), masks.shape[-1]))
        return inputs * masks + (1.0 - masks) * self.baseline_value

    def __repr__(self) -> str:
        return f"ConceptMasking(baseline_value={self.baseline_value})"
