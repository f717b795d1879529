"""Spearman distances between explanations, all pairs at once, in TensorFlow.

Ref. Fel, Vigouroux et al., *How Good is your Explanation? Algorithmic Stability Measures to
Assess the Quality of Explanations for Deep Neural Networks* (WACV 2022),
https://arxiv.org/abs/2009.04521: ``d(a, b) = sqrt(1 - |spearman(a, b)|)``.
"""

from __future__ import annotations

import tensorflow as tf


def flatten_explanations(explanations: tf.Tensor, sample_rank: int) -> tf.Tensor:
    """``(..., *sample_shape)`` to ``(..., D)`` float32, as Xplique prepares explanations.

    An explanation of more than 2 dimensions per sample (e.g. ``(H, W, C)``) is averaged over its
    last axis; NaN becomes 0 (Xplique's ``nan_to_num``), then it is flattened.

    Parameters
    ----------
    explanations
        Explanations whose last ``sample_rank`` axes are one explanation.
    sample_rank
        Number of axes of one explanation.
    """
    explanations = tf.cast(explanations, tf.float32)
    if sample_rank > 2:
        explanations = tf.reduce_mean(explanations, axis=-1)
        sample_rank -= 1
    explanations = tf.where(tf.math.is_nan(explanations), 0.0, explanations)
    lead = tf.shape(explanations)[: tf.rank(explanations) - sample_rank]
    return tf.reshape(explanations, tf.concat([lead, [-1]], axis=0))


@tf.function(reduce_retracing=True)
def average_ranks(values: tf.Tensor) -> tf.Tensor:
    """Ranks (1-based) along the last axis, ties given their average rank (``scipy`` style).

    One sort per row; in sorted order each run of equal values is a segment whose members all
    get ``(first + last) / 2 + 1``; the ranks are then scattered back to the original positions.
    ``O(D log D)`` per row, no Python loop (about twice as fast as two binary searches per
    element on CPU).
    """
    shape = tf.shape(values)
    length = shape[-1]
    rows = tf.reshape(values, [-1, length])
    nb_rows = tf.shape(rows)[0]
    order = tf.argsort(rows, axis=-1, stable=True)
    sorted_rows = tf.gather(rows, order, batch_dims=1)
    starts = tf.concat(
        [tf.ones([nb_rows, 1], tf.bool), sorted_rows[:, 1:] != sorted_rows[:, :-1]], axis=1
    )
    segments = tf.cumsum(tf.cast(tf.reshape(starts, [-1]), tf.int32)) - 1  # runs of ties
    positions = tf.reshape(tf.tile(tf.range(length)[None], [nb_rows, 1]), [-1])
    first = tf.math.segment_min(positions, segments)
    last = tf.math.segment_max(positions, segments)
    sorted_ranks = tf.gather(tf.cast(first + last, tf.float64) / 2.0 + 1.0, segments)
    row_ids = tf.repeat(tf.range(nb_rows), length)
    scatter = tf.stack([row_ids, tf.reshape(order, [-1])], axis=1)
    ranks = tf.scatter_nd(scatter, sorted_ranks, [nb_rows, length])
    return tf.reshape(ranks, shape)


@tf.function(reduce_retracing=True)
def standardized_ranks(values: tf.Tensor) -> tf.Tensor:
    """Average ranks along the last axis, centred and scaled to unit norm (float64).

    The Spearman correlation of two rows is then the dot product of their standardised ranks; a
    constant row (zero variance) gives NaN, as ``scipy.stats.spearmanr`` does.
    """
    ranks = average_ranks(values)
    centred = ranks - tf.reduce_mean(ranks, axis=-1, keepdims=True)
    norm = tf.sqrt(tf.reduce_sum(tf.square(centred), axis=-1, keepdims=True))
    return centred / norm


@tf.function(reduce_retracing=True)
def pairwise_spearman_distances(explanations: tf.Tensor) -> tf.Tensor:
    """Spearman distances between the explanations of every pair of models, sample by sample.

    Parameters
    ----------
    explanations
        ``(K, B, D)``: the flattened explanations of ``B`` samples by ``K`` models.

    Returns
    -------
    distances
        ``(K, K, B)`` float64, ``distances[i, j, n] = sqrt(1 - |rho(e_i[n], e_j[n])|)``; NaN where
        an explanation is constant (undefined correlation).
    """
    z = standardized_ranks(explanations)
    rho = tf.einsum("ind,jnd->ijn", z, z)
    rho = tf.clip_by_value(tf.abs(rho), 0.0, 1.0)
    # clip keeps NaN (undefined correlation) as NaN
    return tf.sqrt(1.0 - rho)
