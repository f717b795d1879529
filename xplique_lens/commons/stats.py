"""Shared statistics of pixel, feature and concept metrics, defined once.

- :func:`frechet_distance`: Fréchet distance between Gaussians fitted to two feature sets (FID of
  feature visualizations, FID of concept reconstructions);
- :func:`knn_distances`: mean distance of each query to its ``k`` nearest rows of a bank (OOD
  scores of baselines and of concept reconstructions);
- :func:`pearson_rows`, :func:`spearman_rows`: row-wise correlations (MuFidelity,
  C-MuFidelity, model randomization), 0 where a row is constant;
- :func:`trapezoid_auc`: normalised area under equally spaced curves (Deletion / Insertion and
  their concept twins).

Everything here is a small pure function; the metrics choose among them and document where
they deliberately differ (e.g. MuFidelity's Spearman, kept for Xplique).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import tensorflow as tf
from scipy import linalg
from scipy.stats import rankdata

from .batching import batch_slices

# --------------------------------------------------------------------------- Fréchet distance


def _covariance(features: np.ndarray) -> np.ndarray:
    """Sample covariance ``(d, d)``; zeros for a single sample (no spread to estimate)."""
    if len(features) < 2:
        return np.zeros((features.shape[1], features.shape[1]))
    return np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(n, d)``.

    ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (Dowson & Landau 1982; the FID of
    Heusel et al. 2017, *GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium*). The matrix square root is ``scipy.linalg.sqrtm``; rank-deficient covariances
    (few samples, one-hot codes) are expected: when the root is not finite, ``1e-6`` is added to
    both diagonals, as in the reference FID code. The imaginary part left by rounding is dropped
    and the value clamped at 0.

    Parameters
    ----------
    features_a, features_b
        Two feature sets ``(n_a, d)`` and ``(n_b, d)`` (or ``(n,)`` for ``d = 1``).

    Returns
    -------
    float
        The distance, ``>= 0``; 0 for two identical sets.
    """
    a = np.asarray(features_a, dtype=np.float64)
    b = np.asarray(features_b, dtype=np.float64)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise ValueError(
            "`features_a` and `features_b` must be non-empty (n, d) arrays with the same d, got "
            f"shapes {a.shape} and {b.shape}."
        )
    cov_a, cov_b = _covariance(a), _covariance(b)
    with warnings.catch_warnings():  # singular products are expected (see the docstring)
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        root = linalg.sqrtm(cov_a @ cov_b)
        if not np.isfinite(root).all():
            offset = np.eye(len(cov_a)) * 1e-6
            root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    value = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a + cov_b - 2.0 * np.real(root))
    return float(max(value, 0.0))


# --------------------------------------------------------------------------- k-NN distances


@tf.function(reduce_retracing=True)
def _knn_block(queries: tf.Tensor, bank: tf.Tensor, k: int, skip_self: bool) -> tf.Tensor:
    queries, bank = tf.cast(queries, tf.float64), tf.cast(bank, tf.float64)
    squared = (
        tf.reduce_sum(queries**2, 1)[:, None]
        - 2.0 * tf.matmul(queries, bank, transpose_b=True)
        + tf.reduce_sum(bank**2, 1)[None]
    )
    extra = 1 if skip_self else 0
    nearest = -tf.math.top_k(-squared, k + extra).values[:, extra:]
    return tf.reduce_mean(tf.sqrt(tf.maximum(nearest, 0.0)), axis=1)


def knn_distances(
    queries: Any, bank: Any, k: int = 1, skip_self: bool = False, batch_size: int | None = 1024
) -> tf.Tensor:
    """Mean Euclidean distance of each query to its ``k`` nearest rows of ``bank``, ``(Q,)``.

    Squared distances by the ``|q|^2 - 2 q.b + |b|^2`` expansion (one matmul per block of
    ``batch_size`` queries), in float64 so that a row's distance to itself is 0 up to 1e-7;
    the square root is taken after the selection (it is monotone).

    Parameters
    ----------
    queries
        ``(Q, D)`` features.
    bank
        ``(M, D)`` reference features.
    k
        Number of neighbours averaged.
    skip_self
        The queries are the bank itself: skip each one's nearest neighbour (itself), i.e. a
        leave-one-out distance.
    batch_size
        Queries per block (memory ``batch_size x M``); ``None`` for all at once.
    """
    queries = tf.convert_to_tensor(queries)
    bank = tf.convert_to_tensor(bank)
    needed = k + (1 if skip_self else 0)
    if bank.shape[0] is not None and bank.shape[0] < needed:
        raise ValueError(f"`bank` must hold at least {needed} rows for k={k}, got {bank.shape[0]}.")
    parts = [
        _knn_block(queries[s], bank, k, skip_self)
        for s in batch_slices(int(queries.shape[0]), batch_size)
    ]
    return tf.concat(parts, 0) if parts else tf.zeros((0,), tf.float64)


# --------------------------------------------------------------------------- correlations


def _as_rows(values: Any) -> np.ndarray:
    rows = np.asarray(values, dtype=np.float64)
    return rows.reshape(1, -1) if rows.ndim == 1 else rows.reshape(len(rows), -1)


def pearson_rows(a: Any, b: Any) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b``, ``(N,)`` float64.

    ``scipy.stats.pearsonr`` row by row, vectorised; 0 where a row is constant (scipy returns
    NaN, which Xplique's metrics replace by 0).

    Parameters
    ----------
    a, b
        ``(N, D)`` (or ``(D,)``) numbers; rows of more axes are flattened.
    """
    a, b = _as_rows(a), _as_rows(b)
    if a.shape != b.shape:
        raise ValueError(f"`a` and `b` must have the same shape, got {a.shape} and {b.shape}.")
    constant = np.all(a == a[:, :1], axis=1) | np.all(b == b[:, :1], axis=1)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    numerator = (a * b).sum(axis=1)
    denominator = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    valid = ~constant & (denominator > 0)
    return np.where(valid, numerator / np.where(valid, denominator, 1.0), 0.0)


def spearman_rows(a: Any, b: Any) -> np.ndarray:
    """Spearman correlation of each row of ``a`` with the same row of ``b``, ``(N,)`` float64.

    The Pearson correlation (:func:`pearson_rows`) of the average ranks
    (``scipy.stats.rankdata``, ties averaged), i.e. ``scipy.stats.spearmanr`` row by row; 0 where
    a row is constant.
    """
    a, b = _as_rows(a), _as_rows(b)
    if a.shape != b.shape:
        raise ValueError(f"`a` and `b` must have the same shape, got {a.shape} and {b.shape}.")
    return pearson_rows(rankdata(a, axis=1), rankdata(b, axis=1))


CORRELATIONS = {"pearson": pearson_rows, "spearman": spearman_rows}


def check_correlation(correlation: Any, name: str = "correlation") -> str:
    """``correlation`` must name a row correlation of :data:`CORRELATIONS`."""
    if correlation not in CORRELATIONS:
        raise ValueError(f"`{name}` must be one of {sorted(CORRELATIONS)}, got {correlation!r}.")
    return correlation


# --------------------------------------------------------------------------- area under curves


def trapezoid_auc(curve: Any) -> np.ndarray:
    """Area under curves sampled at equally spaced points of ``[0, 1]`` (last axis).

    The trapezoid rule with the x axis normalised to ``[0, 1]``, as Xplique's Deletion /
    Insertion: ``mean((c[:-1] + c[1:]) / 2)``, i.e. ``np.trapezoid(c, dx=1 / (len(c) - 1))``.

    Parameters
    ----------
    curve
        ``(..., P)`` values at ``P >= 2`` points.

    Returns
    -------
    np.ndarray
        ``(...)`` float64 areas.
    """
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim == 0 or curve.shape[-1] < 2:
        raise ValueError(f"`curve` needs at least 2 points on its last axis, got {curve.shape}.")
    return np.mean(curve[..., :-1] + curve[..., 1:], axis=-1) * 0.5
