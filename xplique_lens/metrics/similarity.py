"""Similarity kernels of the randomization sanity checks (Adebayo et al. 2018).

SSIM of image explanations as Xplique computes it (one batched ``tf.image.ssim`` call), Spearman
correlation of explanations (:func:`xplique_lens.commons.stats.spearman_rows`), and the seeded
off-class targets of the Random Logit check.

Ref. Adebayo et al., *Sanity Checks for Saliency Maps* (NeurIPS 2018),
https://arxiv.org/abs/1810.03292.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from ..commons.stats import spearman_rows
from .perturbation import random_key


def adapted_filter_size(height: int, width: int, win_size: int = 11) -> int:
    """Xplique's SSIM window: at most the image size, odd, at least 1."""
    size = min(win_size, height, width)
    if size % 2 == 0:
        size -= 1
    return max(size, 1)


@tf.function(reduce_retracing=True)
def ssim_rows(
    a: tf.Tensor,
    b: tf.Tensor,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> tf.Tensor:
    """SSIM of each pair of images ``(B, H, W, C)``, ``(B,)``, as Xplique's ``ssim``: the data
    range of each pair is ``max - min`` over both images, and a pair of constant (zero range)
    images has SSIM 1. One batched ``tf.image.ssim`` call (Xplique maps over the pairs)."""
    axes = [1, 2, 3]
    high = tf.maximum(tf.reduce_max(a, axis=axes), tf.reduce_max(b, axis=axes))
    low = tf.minimum(tf.reduce_min(a, axis=axes), tf.reduce_min(b, axis=axes))
    data_range = tf.abs(high - low)
    safe_range = tf.where(data_range > 0, data_range, tf.ones_like(data_range))
    values = tf.image.ssim(
        a,
        b,
        max_val=safe_range[:, None, None, None],
        filter_size=filter_size,
        filter_sigma=filter_sigma,
        k1=k1,
        k2=k2,
    )
    return tf.where(data_range > 0, values, tf.ones_like(values))


def as_image_explanations(explanations: Any, n: int, name: str = "explanations") -> tf.Tensor:
    """Explanations ``(N, H, W)`` / ``(N, H, W, C)`` as float32 ``(N, H, W, C)``; ``(N, ...)`` other
    explanations unchanged (Xplique's ``_preprocess_explanation``)."""
    explanations = tf.cast(tf.convert_to_tensor(explanations), tf.float32)
    if explanations.shape.rank == 0 or explanations.shape[0] != n:
        raise ValueError(
            f"The explainer must return one explanation per input ({n} inputs), got `{name}` of "
            f"shape {tuple(explanations.shape)}."
        )
    if explanations.shape.rank == 3:
        explanations = explanations[..., None]
    return explanations


def spearman_similarity(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Spearman correlation of each pair of explanations, channel-averaged and flattened as in
    Xplique (ties get average ranks; 0 when one is constant), ``(B,)`` float32."""
    if a.shape.rank == 4:
        a = tf.reduce_mean(a, axis=-1)
        b = tf.reduce_mean(b, axis=-1)
    rows = tf.shape(a)[0]
    flat_a, flat_b = tf.reshape(a, (rows, -1)), tf.reshape(b, (rows, -1))
    return tf.constant(spearman_rows(flat_a, flat_b), tf.float32)


def ssim_similarity(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """SSIM of each pair of image explanations ``(B, H, W, C)`` (see :func:`ssim_rows`)."""
    if a.shape.rank != 4:
        raise ValueError(
            "RandomLogitMetric compares explanations with SSIM: the explainer must return image "
            f"explanations (N, H, W) or (N, H, W, C), got shape {tuple(a.shape)}."
        )
    return ssim_rows(a, b, filter_size=adapted_filter_size(int(a.shape[1]), int(a.shape[2])))


def off_class_targets(targets: tf.Tensor, seed: int | None) -> tf.Tensor:
    """One-hot targets of a class drawn uniformly among the others, ``(N, C)``, seeded
    (:func:`~xplique_lens.metrics.perturbation.random_key`; ``None``: fresh).

    As Xplique: ``r ~ U{0, ..., C - 2}`` and the class is ``r + 1`` when ``r >= true class``
    (the true class is the argmax of ``targets``).
    """
    n, nb_classes = int(targets.shape[0]), int(targets.shape[-1])
    true_class = tf.argmax(targets, axis=-1, output_type=tf.int32)
    key = random_key(seed)  # the library's stream convention; None: fresh
    draw = tf.random.stateless_uniform((n,), key, 0, nb_classes - 1, dtype=tf.int32)
    off_class = tf.where(draw >= true_class, draw + 1, draw)
    return tf.one_hot(off_class, nb_classes, dtype=tf.float32)
