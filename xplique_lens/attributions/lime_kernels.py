"""The pure kernels of LIME and KernelSHAP: pattern sampling, perturbation, similarity and the
closed-form weighted ridge fit.

They are small TensorFlow functions with no state, shared by
:class:`~xplique_lens.attributions.lime.Lime` and
:class:`~xplique_lens.attributions.kernel_shap.KernelShap` (and importable from
:mod:`xplique_lens.attributions.lime`, their former home).

Ref. Ribeiro, Singh & Guestrin, *"Why Should I Trust You?"* (2016),
https://arxiv.org/abs/1602.04938; Lundberg & Lee, *A Unified Approach to Interpreting Model
Predictions* (2017), https://arxiv.org/abs/1705.07874.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf


def bernoulli_samples(
    uniform: tf.Tensor, prob: float, nb_features: tf.Tensor, rows: tf.Tensor
) -> tf.Tensor:
    """LIME's patterns: feature ``f`` of pattern ``j`` is on when ``uniform[j, f] < prob``.

    ``uniform`` ``(S, F)``, ``nb_features`` ``(b,)`` (features beyond it are off), ``rows``
    ``(b,)`` pattern indices -> ``(b, F)`` float32 in ``{0, 1}``.
    """
    width = uniform.shape[1]
    valid = tf.range(width)[None, :] < nb_features[:, None]
    return tf.cast((tf.gather(uniform, rows) < prob) & valid, tf.float32)


def shapley_samples(
    keys: tf.Tensor, levels: tf.Tensor, nb_features: tf.Tensor, rows: tf.Tensor
) -> tf.Tensor:
    """KernelSHAP's patterns: a size ``k`` in ``[1, F - 1]`` drawn with ``p(k) ~ (F - 1) /
    (k (F - k))``, then the ``k`` features with the largest random keys switched on (a uniform
    subset of size ``k``). Sampling this way makes the Shapley kernel weights uniform.

    ``keys`` ``(S, F)`` random keys, ``levels`` ``(S,)`` uniforms (inverse-CDF draw of ``k``),
    ``nb_features`` ``(b,)`` at least 2, ``rows`` ``(b,)`` pattern indices -> ``(b, F)`` float32.
    """
    width = keys.shape[1]
    valid = tf.range(width)[None, :] < nb_features[:, None]
    count = tf.cast(nb_features, tf.float32)[:, None]
    k = tf.range(1, width, dtype=tf.float32)[None, :]  # (1, F - 1)
    probs = tf.where(k < count, (count - 1.0) / (k * tf.maximum(count - k, 1.0)), 0.0)
    cdf = tf.cumsum(probs, axis=1) / tf.reduce_sum(probs, axis=1, keepdims=True)
    level = tf.gather(levels, rows)[:, None]
    size = 1 + tf.reduce_sum(tf.cast(cdf < level, tf.int32), axis=1)
    size = tf.minimum(size, tf.cast(nb_features, tf.int32) - 1)
    row_keys = tf.where(valid, tf.gather(keys, rows), -np.inf)
    order = tf.argsort(row_keys, axis=1, direction="DESCENDING", stable=True)
    rank = tf.argsort(order, axis=1, stable=True)  # 0 for the largest key
    return tf.cast((rank < size[:, None]) & valid, tf.float32)


def perturb_with_patterns(
    inputs: tf.Tensor, patterns: tf.Tensor, mappings: tf.Tensor, ref_value: tf.Tensor
) -> tf.Tensor:
    """``x * m + (1 - m) * ref_value`` with ``m = patterns`` painted on the feature maps.

    ``inputs`` ``(b, ...)``, ``patterns`` ``(b, F)``, ``mappings`` ``(b, *spatial)`` int32 (the
    input's shape without channels for images), ``ref_value`` broadcastable to one input.
    """
    masks = tf.gather(patterns, mappings, batch_dims=1)
    if inputs.shape.rank == 4:
        masks = masks[..., None]
    return (inputs - ref_value) * masks + ref_value


def exponential_similarity(
    inputs: tf.Tensor, perturbed: tf.Tensor, distance_mode: str, kernel_width: float
) -> tf.Tensor:
    """``exp(-D(x, x')**2 / kernel_width**2)`` per row, ``D`` euclidean or ``1 - cos``."""
    flat_x = tf.reshape(inputs, (tf.shape(inputs)[0], -1))
    flat_p = tf.reshape(perturbed, (tf.shape(perturbed)[0], -1))
    if distance_mode == "euclidean":
        distances = tf.norm(flat_x - flat_p, axis=1)
    else:
        cosine = tf.reduce_sum(
            tf.math.l2_normalize(flat_x, axis=1) * tf.math.l2_normalize(flat_p, axis=1), axis=1
        )
        distances = 1.0 - cosine
    return tf.exp(-tf.square(distances) / max(float(kernel_width) ** 2, 1e-8))


def weighted_ridge(
    patterns: tf.Tensor,
    scores: tf.Tensor,
    weights: tf.Tensor,
    nb_features: tf.Tensor,
    alpha: float,
    fit_intercept: bool = True,
) -> tf.Tensor:
    """Coefficients ``(n, F)`` of weighted ridge regressions, one per input, in closed form.

    Minimises ``sum_j w_j (y_j - b - z_j . c)**2 + alpha ||c||**2`` (intercept ``b`` not
    penalised, as scikit-learn's ``Ridge``); ``alpha = 0`` is weighted least squares, solved with
    a pseudo-inverse (the minimum-norm solution, as ``LinearRegression``). Columns beyond
    ``nb_features`` get 0. Computed in float64.

    Parameters
    ----------
    patterns
        ``(n, S, F)`` regressors.
    scores, weights
        ``(n, S)`` targets and sample weights (all-zero weights fall back to uniform ones).
    nb_features
        ``(n,)`` number of used columns per input.
    alpha
        Ridge penalty.
    fit_intercept
        Centre with the weighted means first.
    """
    x = tf.cast(patterns, tf.float64)
    y = tf.cast(scores, tf.float64)
    w = tf.cast(weights, tf.float64)
    total = tf.reduce_sum(w, axis=1, keepdims=True)
    w = tf.where(total > 0, w, tf.ones_like(w))
    if fit_intercept:
        total = tf.reduce_sum(w, axis=1, keepdims=True)
        x = x - tf.reduce_sum(w[..., None] * x, axis=1, keepdims=True) / total[..., None]
        y = y - tf.reduce_sum(w * y, axis=1, keepdims=True) / total
    xw = x * w[..., None]
    gram = tf.matmul(xw, x, transpose_a=True)  # (n, F, F)
    rhs = tf.matmul(xw, y[..., None], transpose_a=True)  # (n, F, 1)
    width = patterns.shape[-1]
    valid = tf.cast(tf.range(width)[None, :] < nb_features[:, None], tf.float64)
    gram += tf.linalg.diag(alpha * valid + (1.0 - valid))  # padded columns: an identity block
    if alpha > 0:
        coefficients = tf.linalg.solve(gram, rhs)
    else:
        coefficients = tf.matmul(tf.linalg.pinv(gram), rhs)
    return tf.cast(coefficients[..., 0] * valid, tf.float32)


def linear_settings(model: Any) -> tuple[float, bool] | None:
    """``(alpha, fit_intercept)`` when ``model`` is (equivalent to) a scikit-learn ``Ridge`` or
    ``LinearRegression`` solved here in closed form; ``None`` for any other model."""
    if model is None:
        return 2.0, True
    cls = type(model)
    if not cls.__module__.startswith("sklearn.linear_model") or not hasattr(model, "get_params"):
        return None
    params = model.get_params()
    if params.get("positive", False):
        return None
    if cls.__name__ == "Ridge" and np.ndim(params.get("alpha", 1.0)) == 0:
        return float(params.get("alpha", 1.0)), bool(params.get("fit_intercept", True))
    if cls.__name__ == "LinearRegression":
        return 0.0, bool(params.get("fit_intercept", True))
    return None
