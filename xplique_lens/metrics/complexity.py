"""Complexity metrics of explanations alone (no model): entropy (Complexity) and Gini (Sparseness).

Both kernels are compiled TensorFlow functions of a batch of explanations (absolute value,
channel mean for ``(N, H, W, C)`` maps, flattened beforehand): one reduction per row. Same formulas,
``eps`` and values as Xplique 2.0.2's ``xplique.metrics.Complexity`` / ``Sparseness``.

Refs. Bhatt et al., *Evaluating and Aggregating Feature-based Model Explanations* (IJCAI 2020),
https://arxiv.org/abs/2005.00631 (complexity as the entropy of the attributions); Chalasani et
al., *Concise Explanations of Neural Networks using Adversarial Training* (ICML 2020),
https://proceedings.mlr.press/v119/chalasani20a.html (sparseness as the Gini index).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.batching import batch_slices
from ..commons.validation import check_batch_size, check_finite, to_float_tensor

_EPS = 1e-8

# --------------------------------------------------------------------------- kernels


def flat_abs(explanations: tf.Tensor) -> tf.Tensor:
    """``|explanations|`` averaged over channels when ``(N, H, W, C)``, flattened to ``(N, F)``.

    Done before the compiled kernels, so that they only ever see matrices: a ``tf.function``
    relaxed over explanations of several ranks would lose the rank the channel mean depends on.
    """
    x = tf.abs(explanations)
    if x.shape.rank == 4:
        x = tf.reduce_mean(x, axis=-1)
    return tf.reshape(x, (x.shape[0], -1))


@tf.function(reduce_retracing=True)
def entropy_complexity(magnitudes: tf.Tensor) -> tf.Tensor:
    """Shannon entropy of each row of ``|explanations|`` ``(N, F)`` (:func:`flat_abs`)
    normalised to sum 1, ``(N,)``.

    ``-sum p log(p + eps)`` with ``p = |e| / (sum |e| + eps)``: 0 for a one-hot map, ``log F``
    for a uniform map of ``F`` features (lower is simpler).
    """
    p = magnitudes / (tf.reduce_sum(magnitudes, axis=-1, keepdims=True) + _EPS)
    return -tf.reduce_sum(p * tf.math.log(p + _EPS), axis=-1)


@tf.function(reduce_retracing=True)
def gini_sparseness(magnitudes: tf.Tensor) -> tf.Tensor:
    """Gini index of each row of ``|explanations|`` ``(N, F)`` (:func:`flat_abs`), L1-normalised,
    ``(N,)``.

    ``2 sum_i i x_(i) / (n sum_i x_(i)) - (n + 1) / n`` with ``x_(i)`` sorted ascending: 0 for a
    uniform map, ``1 - 1 / n`` for a one-hot map of ``n`` features (higher is sparser).
    """
    x = magnitudes / (tf.reduce_sum(magnitudes, axis=-1, keepdims=True) + _EPS)
    x_sorted = tf.sort(x, axis=-1)
    n = tf.cast(tf.shape(x_sorted)[1], tf.float32)
    index = tf.cast(tf.range(1, tf.shape(x_sorted)[1] + 1), tf.float32)
    num = 2.0 * tf.reduce_sum(x_sorted * index, axis=-1)
    den = n * tf.reduce_sum(x_sorted, axis=-1) + _EPS
    return num / den - (n + 1.0) / n


# --------------------------------------------------------------------------- metrics


def _check_explanations(explanations: Any) -> tf.Tensor:
    explanations = to_float_tensor(explanations, "explanations")
    if explanations.shape.rank < 2 or explanations.shape[0] == 0:
        raise ValueError(
            "`explanations` must be a non-empty batch (N, ...) of explanations, got shape "
            f"{tuple(explanations.shape)}."
        )
    check_finite(explanations, "explanations")
    return explanations


class BaseComplexityMetric(ABC):
    """A metric of explanations alone: ``evaluate(explanations) -> float`` (the mean of
    :meth:`detailed_evaluate`). Same interface as Xplique's ``BaseComplexityMetric``.

    Parameters
    ----------
    batch_size
        Number of explanations reduced at once (bounds the memory); ``None`` for all at once.
    """

    def __init__(self, batch_size: int | None = 32):
        self.batch_size = check_batch_size(batch_size)

    @staticmethod
    @abstractmethod
    def kernel(explanations: tf.Tensor) -> tf.Tensor:
        """Per-explanation score ``(N,)`` of a batch of ``|explanations|`` flattened to ``(N, F)``
        (a compiled TensorFlow function)."""

    def detailed_evaluate(self, explanations: Any) -> np.ndarray:
        """Score of each explanation, ``(N,)``.

        Parameters
        ----------
        explanations
            Attribution maps ``(N, H, W)``, ``(N, H, W, C)`` (channels averaged) or ``(N, ...)``.
        """
        magnitudes = flat_abs(_check_explanations(explanations))
        parts = [
            self.kernel(magnitudes[s])
            for s in batch_slices(int(magnitudes.shape[0]), self.batch_size)
        ]
        return tf.concat(parts, axis=0).numpy()

    def evaluate(self, explanations: Any) -> float:
        """Mean score of ``explanations``."""
        return float(np.mean(self.detailed_evaluate(explanations)))

    def __call__(self, explanations: Any, batch_size: int = 32) -> float:
        """Alias of :meth:`evaluate`; ``batch_size`` is accepted and ignored, as in Xplique (the
        constructor's is used)."""
        return self.evaluate(explanations)


class Complexity(BaseComplexityMetric):
    """Entropy of the attribution maps: how diffuse an explanation is (lower is simpler).

    For each explanation, the Shannon entropy of ``|e|`` normalised to a distribution (channels
    averaged first for ``(N, H, W, C)``): 0 for a single important feature, ``log F`` for ``F``
    equally important ones.

    Ref. Bhatt et al., *Evaluating and Aggregating Feature-based Model Explanations* (IJCAI
    2020), https://arxiv.org/abs/2005.00631. Drop-in for ``xplique.metrics.Complexity`` (same
    parameters and values), compiled; NaN / inf explanations raise a ``ValueError``.

    Parameters
    ----------
    batch_size
        Number of explanations reduced at once; ``None`` for all at once.
    """

    kernel = staticmethod(entropy_complexity)


class Sparseness(BaseComplexityMetric):
    """Gini index of the attribution maps: how concentrated an explanation is (higher is
    sparser).

    For each explanation, the Gini coefficient of ``|e|`` (channels averaged first for
    ``(N, H, W, C)``): 0 for a uniform map, ``1 - 1 / F`` for one important feature out of ``F``.

    Ref. Chalasani et al., *Concise Explanations of Neural Networks using Adversarial Training*
    (ICML 2020), https://proceedings.mlr.press/v119/chalasani20a.html. Drop-in for
    ``xplique.metrics.Sparseness`` (same parameters and values), compiled.

    Parameters
    ----------
    batch_size
        Number of explanations reduced at once; ``None`` for all at once.
    """

    kernel = staticmethod(gini_sparseness)
