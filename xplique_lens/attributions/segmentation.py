"""Interpretable features of images for LIME / KernelSHAP: grid cells and SLIC superpixels.

A segmentation maps each pixel to a feature id. Both classes here follow Xplique's
``map_to_interpret_space`` contract on one image ``(H, W, C) -> (H, W)`` int32 (so they can
also be given to ``xplique``'s Lime), and compute a whole batch at once with
``batch(images) -> (N, H, W)`` (what :class:`~xplique_lens.attributions.Lime` calls).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.validation import check_positive_int, check_real

#: pixels (``images x H x W``) segmented at once by SLIC (x 9 candidate centres x channels)
_SLIC_BUDGET = 2**23


class _Segmentation:
    """Base: ``__call__`` on one image through :meth:`batch`."""

    def batch(self, inputs: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def __call__(self, inp: Any) -> tf.Tensor:
        """Feature ids ``(H, W)`` int32 of one image ``(H, W, C)`` (or ``(H, W)``)."""
        image = tf.convert_to_tensor(inp, tf.float32)
        if image.shape.rank == 2:
            image = image[..., None]
        return self.batch(image[None])[0]

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class GridSegmentation(_Segmentation):
    """A ``grid_size x grid_size`` grid of cells: cell ``(r, c)`` is feature
    ``r * grid_size + c``; cells split ``H`` and ``W`` as evenly as integers allow
    (``row * grid_size // H``).

    Parameters
    ----------
    grid_size
        Cells per side.
    """

    def __init__(self, grid_size: int = 8):
        self.grid_size = check_positive_int(grid_size, "grid_size")

    def batch(self, inputs: tf.Tensor) -> tf.Tensor:
        """Feature ids ``(N, H, W)`` int32 of images ``(N, H, W, C)``."""
        height, width, g = int(inputs.shape[1]), int(inputs.shape[2]), self.grid_size
        rows = tf.range(height) * g // height
        cols = tf.range(width) * g // width
        cells = tf.cast(rows[:, None] * g + cols[None, :], tf.int32)
        return tf.broadcast_to(cells, (tf.shape(inputs)[0], height, width))


@tf.function  # static image sizes: one trace per image shape and chunk size
def slic_labels(
    images: tf.Tensor, grid_size: int, compactness: tf.Tensor, iterations: tf.Tensor
) -> tf.Tensor:
    """SLIC superpixels of images ``(n, H, W, C)``: ``(n, H, W)`` int32 ids, compacted to
    ``0 .. K - 1`` per image (``K <= grid_size**2``).

    Centres start at the centres of a ``grid_size x grid_size`` grid; each iteration assigns
    every pixel to the centre minimising ``|c - c_k|**2 + compactness**2 * |p - p_k|**2`` among
    the 9 centres of its grid cell and the neighbouring ones that lie within one cell of it in
    each direction (SLIC's ``2S x 2S`` search window; the nearest of the 9 when none does), then
    moves the centres to the mean colour and position of their pixels. Colours are rescaled to
    ``[0, 1]`` per image (the value range does not matter); positions are in cell units.
    """
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    n, g, pixels = tf.shape(images)[0], grid_size, height * width
    low = tf.reduce_min(images, axis=(1, 2, 3), keepdims=True)
    high = tf.reduce_max(images, axis=(1, 2, 3), keepdims=True)
    colours = tf.reshape((images - low) / tf.maximum(high - low, 1e-12), (-1, pixels, channels))
    rows, cols = tf.range(height), tf.range(width)
    yy, xx = tf.meshgrid(
        (tf.cast(rows, tf.float32) + 0.5) * g / height,
        (tf.cast(cols, tf.float32) + 0.5) * g / width,
        indexing="ij",
    )
    positions = tf.reshape(tf.stack([yy, xx], axis=-1), (pixels, 2))
    # the 9 candidate centres of each pixel: its grid cell and the neighbouring cells
    home_r, home_c = tf.meshgrid(rows * g // height, cols * g // width, indexing="ij")
    candidates = tf.stack(
        [
            tf.reshape(
                tf.clip_by_value(home_r + dr, 0, g - 1) * g
                + tf.clip_by_value(home_c + dc, 0, g - 1),
                (-1,),
            )
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
        ],
        axis=1,
    )  # (P, 9)
    centre = tf.range(g, dtype=tf.float32) + 0.5
    cy, cx = tf.meshgrid(centre, centre, indexing="ij")
    centre_positions = tf.tile(tf.reshape(tf.stack([cy, cx], axis=-1), (1, g * g, 2)), [n, 1, 1])
    seeds = tf.reshape(
        tf.minimum(tf.cast(cy * height / g, tf.int32), height - 1) * width
        + tf.minimum(tf.cast(cx * width / g, tf.int32), width - 1),
        (-1,),
    )
    centre_colours = tf.gather(colours, seeds, axis=1)  # (n, K, C)
    offset = (tf.range(n) * g * g)[:, None]
    flat_colours = tf.reshape(colours, (-1, channels))
    flat_positions = tf.tile(positions, [n, 1])
    weight = tf.square(compactness)
    labels = tf.zeros((n, pixels), tf.int32)
    for _ in tf.range(iterations):
        near_colours = tf.gather(centre_colours, candidates, axis=1)  # (n, P, 9, C)
        near_positions = tf.gather(centre_positions, candidates, axis=1)  # (n, P, 9, 2)
        offsets = positions[None, :, None] - near_positions
        spatial = tf.reduce_sum(tf.square(offsets), axis=-1)
        outside = tf.cast(tf.reduce_max(tf.abs(offsets), axis=-1) > 1.0, tf.float32)
        colour = tf.reduce_sum(tf.square(colours[:, :, None] - near_colours), axis=-1)
        distance = colour + weight * spatial + outside * (1e6 + spatial)
        choice = tf.argmin(distance, axis=-1, output_type=tf.int32)  # (n, P)
        labels = tf.ensure_shape(
            tf.reduce_sum(tf.one_hot(choice, 9, dtype=tf.int32) * candidates[None], axis=-1),
            labels.shape,
        )
        ids = tf.reshape(labels + offset, (-1,))
        count = tf.math.unsorted_segment_sum(tf.ones_like(ids, tf.float32), ids, n * g * g)
        count = tf.reshape(count, (-1, g * g, 1))
        sums_c = tf.reshape(
            tf.math.unsorted_segment_sum(flat_colours, ids, n * g * g), (-1, g * g, channels)
        )
        sums_p = tf.reshape(
            tf.math.unsorted_segment_sum(flat_positions, ids, n * g * g), (-1, g * g, 2)
        )
        safe = tf.maximum(count, 1.0)
        centre_colours = tf.ensure_shape(
            tf.where(count > 0, sums_c / safe, centre_colours), centre_colours.shape
        )
        centre_positions = tf.ensure_shape(
            tf.where(count > 0, sums_p / safe, centre_positions), centre_positions.shape
        )
    ids = tf.reshape(labels + offset, (-1,))
    used = tf.math.unsorted_segment_sum(tf.ones_like(ids), ids, n * g * g)
    present = tf.cast(tf.reshape(used, (-1, g * g)) > 0, tf.int32)
    compact = tf.cumsum(present, axis=1) - 1  # new id of each used centre
    return tf.reshape(tf.gather(compact, labels, batch_dims=1), (-1, height, width))


class SlicSegmentation(_Segmentation):
    """SLIC superpixels (Achanta et al. 2012), batched in TensorFlow: deterministic, about
    ``grid_size**2`` segments that follow colour edges.

    The default features of images in :class:`~xplique_lens.attributions.Lime` and
    :class:`~xplique_lens.attributions.KernelShap` (Xplique uses scikit-image's quickshift, a
    per-image CPU loop, not a dependency here). Differences with scikit-image's ``slic``:
    colours are the input's channels rescaled to ``[0, 1]`` per image (no Lab conversion),
    positions are in grid-cell units (``compactness`` is dimensionless: ``0.1`` here is close to
    scikit-image's ``10`` in Lab), and connectivity is not enforced (a superpixel may have
    several parts; LIME does not need them connected).

    Ref. Achanta et al., *SLIC Superpixels Compared to State-of-the-Art Superpixel Methods*,
    IEEE TPAMI 2012, https://doi.org/10.1109/TPAMI.2012.120.

    Parameters
    ----------
    grid_size
        Initial centres per side (``grid_size**2`` superpixels at most).
    compactness
        Weight of the spatial distance against the colour distance (``>= 0``; larger: more
        square superpixels).
    iterations
        Assignment / update rounds.
    """

    def __init__(self, grid_size: int = 8, compactness: float = 0.1, iterations: int = 10):
        self.grid_size = check_positive_int(grid_size, "grid_size")
        self.compactness = check_real(compactness, "compactness", minimum=0.0)
        self.iterations = check_positive_int(iterations, "iterations")

    def batch(self, inputs: tf.Tensor) -> tf.Tensor:
        """Superpixel ids ``(N, H, W)`` int32 of images ``(N, H, W, C)``."""
        inputs = tf.convert_to_tensor(inputs, tf.float32)
        n, pixels = int(inputs.shape[0]), int(inputs.shape[1]) * int(inputs.shape[2])
        step = max(1, _SLIC_BUDGET // (pixels * 9 * max(int(inputs.shape[-1]), 1)))
        parts = [
            slic_labels(
                inputs[start : start + step],
                self.grid_size,
                tf.constant(self.compactness),
                tf.constant(self.iterations),
            )
            for start in range(0, n, step)
        ]
        return tf.concat(parts, axis=0)


def default_mappings(inputs: tf.Tensor) -> tf.Tensor:
    """Default interpretable features: SLIC superpixels (:class:`SlicSegmentation`) for images
    ``(N, H, W, C)``, one feature per entry for tabular ``(N, F)`` and time series
    ``(N, T, W)`` inputs (as Xplique)."""
    if inputs.shape.rank == 4:
        return SlicSegmentation().batch(inputs)
    shape = tuple(inputs.shape[1:])
    ids = tf.reshape(tf.range(int(np.prod(shape)), dtype=tf.int32), shape)
    return tf.broadcast_to(ids, (tf.shape(inputs)[0], *shape))
