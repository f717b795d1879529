"""Small image helpers of the baselines: batch check, value range, seeds and the patch grid.

Shared by :mod:`xplique_lens.metrics.baselines`, :mod:`xplique_lens.metrics.fv_baseline` and the
fidelity metrics (``patch_means``, ``patch_ids``).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.validation import resolve_seed


def as_images(inputs: Any) -> tf.Tensor:
    """``inputs`` as a float32 batch of images ``(N, H, W, C)``; other ranks raise."""
    inputs = tf.convert_to_tensor(inputs, dtype=tf.float32)
    if inputs.shape.rank != 4:
        raise ValueError(
            f"`inputs` must be a batch of images (N, H, W, C), got shape {tuple(inputs.shape)}."
        )
    return inputs


def value_range(inputs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Global min and max of the inputs (the range noise baselines draw from and clip to)."""
    return tf.reduce_min(inputs), tf.reduce_max(inputs)


def seed_pair(seed: int | None, stream: int = 0) -> tf.Tensor:
    """Stateless-op seed ``[seed, stream]``; ``seed=None`` draws a fresh one (new noise)."""
    return tf.constant([resolve_seed(seed), int(stream)], dtype=tf.int64)


def check_patch_size(patch_size: Any, name: str = "patch_size") -> int:
    """A positive integer cell side; raises ``TypeError`` / ``ValueError`` naming ``name``."""
    if isinstance(patch_size, bool) or not isinstance(patch_size, numbers.Integral):
        raise TypeError(f"`{name}` must be a positive integer, got {patch_size!r}.")
    if patch_size < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {patch_size}.")
    return int(patch_size)


def pad_to_multiple(images: tf.Tensor, patch_size: int) -> tuple[tf.Tensor, int, int]:
    """Zero-pad ``(N, H, W, C)`` images at the bottom / right to a multiple of ``patch_size``;
    returns the padded images and the grid size ``(ceil(H / p), ceil(W / p))``."""
    height, width = images.shape[1], images.shape[2]
    grid_h, grid_w = math.ceil(height / patch_size), math.ceil(width / patch_size)
    pad_h, pad_w = grid_h * patch_size - height, grid_w * patch_size - width
    padded = tf.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])
    return padded, grid_h, grid_w


def patch_means(images: tf.Tensor, patch_size: int) -> tf.Tensor:
    """Mean of each ``patch_size`` x ``patch_size`` cell, ``(N, ceil(H/p), ceil(W/p), C)``.

    Border cells that overhang the image average only their pixels inside it.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    padded, grid_h, grid_w = pad_to_multiple(images, patch_size)
    ones, _, _ = pad_to_multiple(tf.ones_like(images[:1, ..., :1]), patch_size)
    shape = (-1, grid_h, patch_size, grid_w, patch_size, images.shape[-1])
    sums = tf.reduce_sum(tf.reshape(padded, shape), axis=(2, 4))
    counts = tf.reduce_sum(tf.reshape(ones, (1, grid_h, patch_size, grid_w, patch_size, 1)), (2, 4))
    return sums / counts


def patch_ids(height: int, width: int, patch_size: int) -> np.ndarray:
    """Index of the cell of each pixel, row-major, ``(H * W,)`` int32."""
    rows = np.arange(height) // patch_size
    cols = np.arange(width) // patch_size
    grid_w = math.ceil(width / patch_size)
    return (rows[:, None] * grid_w + cols[None, :]).reshape(-1).astype(np.int32)


__all__ = [
    "as_images",
    "check_patch_size",
    "pad_to_multiple",
    "patch_ids",
    "patch_means",
    "seed_pair",
    "value_range",
]
