"""Reductions of holistic CRAFT's concept explanations: importance, prevalence, reliability.

Pure functions on explanations in concept space ``(N, ..., r)`` (one explanation per image,
position and concept), the holistic paper's measures (Fel et al. 2023, "A Holistic Approach to
Unifying Automatic Concept Extraction and Concept Importance Estimation", NeurIPS, section 5):

- importance: how much a concept weighs in the decisions, averaged over images;
- prevalence: how often it is the most important concept of an image;
- reliability: how often the decision is right when it is the most important one.

:class:`~xplique_lens.concepts.HolisticCraft` exposes them under Xplique 2.0.2's method names.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..commons.validation import check_choice

__all__ = [
    "REDUCERS",
    "dominant_concepts",
    "reduce_to_importance",
    "reduce_to_prevalence",
    "reduce_to_reliability",
    "reduce_values",
    "topk_images_per_concept",
]

#: Reducer name -> numpy reduction (Xplique's names).
REDUCERS = {
    "min": np.min,
    "max": np.max,
    "sum": np.sum,
    "mean": np.mean,
    "median": np.median,
}


def reduce_values(values: np.ndarray, reducer: str | None, axis: Any, name: str) -> np.ndarray:
    """``values`` reduced over ``axis`` by the reducer named ``reducer`` (None: unchanged);
    ``name`` is the argument quoted when the reducer is unknown."""
    if reducer is None:
        return values
    check_choice(reducer, name, tuple(REDUCERS))
    return REDUCERS[reducer](values, axis=axis)


def topk_images_per_concept(coeffs_u: Any, topk: int = 3) -> np.ndarray:
    """Indices of the ``topk`` images of highest mean code, per concept: ``(r, topk)``."""
    coeffs_u = np.asarray(coeffs_u)
    means = (
        coeffs_u.mean(axis=tuple(range(1, coeffs_u.ndim - 1))) if coeffs_u.ndim > 2 else coeffs_u
    )
    return np.argsort(-means, axis=0, kind="stable")[:topk].T


def reduce_to_importance(
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
        explanation = reduce_values(explanation, spatial_reducer, axes, "spatial_reducer")
    return reduce_values(explanation, aggregation_reducer, 0, "aggregation_reducer")


def dominant_concepts(explanation: Any) -> np.ndarray:
    """The most important concept of each image ``(N,)`` (explanations averaged over positions)."""
    explanation = np.asarray(explanation, np.float32)
    axes = tuple(range(1, explanation.ndim - 1))
    per_image = explanation.mean(axis=axes) if axes else explanation
    return np.argmax(per_image, axis=-1)


def reduce_to_prevalence(explanation: Any, number_of_concepts: int) -> np.ndarray:
    """Fraction of the images where each concept is the most important (sums to 1)."""
    dominant = dominant_concepts(explanation)
    return np.bincount(dominant, minlength=number_of_concepts) / len(dominant)


def reduce_to_reliability(explanation: Any, accuracy: Any, number_of_concepts: int) -> np.ndarray:
    """Mean ``accuracy`` of the images where each concept dominates (0 where none)."""
    dominant = dominant_concepts(explanation)
    accuracy = np.asarray(accuracy, np.float64).ravel()
    if len(accuracy) != len(dominant):
        raise ValueError(
            f"`accuracy` must hold one value per image ({len(dominant)}), got {len(accuracy)}."
        )
    sums = np.bincount(dominant, weights=accuracy, minlength=number_of_concepts)
    counts = np.bincount(dominant, minlength=number_of_concepts)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
