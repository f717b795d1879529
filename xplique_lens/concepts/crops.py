"""Strided square crops of images, with where each crop comes from."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def crop_grid(size: int, patch_size: int, stride: int) -> np.ndarray:
    """Top-left coordinates of ``VALID`` crops along one axis of length ``size``."""
    return np.arange(0, size - patch_size + 1, stride, dtype=np.int64)


def extract_crops(
    images: tf.Tensor, patch_size: int, stride: int | None = None
) -> tuple[tf.Tensor, np.ndarray]:
    """Cut ``(N, H, W, C)`` images into ``patch_size`` squares every ``stride`` pixels.

    ``stride`` defaults to ``int(0.8 * patch_size)`` as in CRAFT (and Xplique's ``CraftTf``).

    Returns
    -------
    crops
        ``(N * ny * nx, patch_size, patch_size, C)``, image-major then row-major (Xplique's order).
    origins
        ``(N * ny * nx, 3)`` int64: ``(image index, top, left)`` of each crop.
    """
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    if patch_size > min(height, width):
        raise ValueError(
            f"`patch_size`={patch_size} is larger than the images ({height}x{width}); expected "
            f"at most {min(height, width)}."
        )
    stride = max(int(patch_size * 0.8), 1) if stride is None else stride
    patches = tf.image.extract_patches(
        images=images,
        sizes=[1, patch_size, patch_size, 1],
        strides=[1, stride, stride, 1],
        rates=[1, 1, 1, 1],
        padding="VALID",
    )
    crops = tf.reshape(patches, (-1, patch_size, patch_size, channels))
    ys, xs = crop_grid(height, patch_size, stride), crop_grid(width, patch_size, stride)
    n = images.shape[0]
    idx, top, left = np.meshgrid(np.arange(n), ys, xs, indexing="ij")
    origins = np.stack([idx.ravel(), top.ravel(), left.ravel()], axis=1)
    return crops, origins


def crop_masks(origins: np.ndarray, patch_size: int, masks: np.ndarray) -> np.ndarray:
    """Crop per-image boolean ``masks`` ``(N, H, W)`` like the crops: ``(M, patch, patch)``."""
    masks = np.asarray(masks)
    return np.stack(
        [masks[i, y : y + patch_size, x : x + patch_size] for i, y, x in origins], axis=0
    )
