"""The random crops and noise of a feature-visualization step, with an exact crop gradient.

MACO (Fel et al. 2023, https://arxiv.org/abs/2306.06805) evaluates the objective on random
crops of the image, resized to the model's input and noised, at every step.

TensorFlow's CPU gradient of ``tf.image.crop_and_resize`` is parallelised over the boxes and
races when several boxes read the same image: errors of about 7% of the gradient's scale were
measured here, and a different image at every run. :func:`crop_and_resize` keeps the fast
forward (all boxes read the shared image) and computes the gradient with one box per output
image, so that no two threads write to the same pixels, then sums those per-box gradients back
onto their images. Each per-box gradient image only covers the rows its box can touch (a
window as tall as the tallest box), which keeps the backward pass cheap as the crops shrink.
"""

from __future__ import annotations

import tensorflow as tf


def _row_windows(boxes: tf.Tensor, height: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """First row and common height of windows covering every box's rows (clipped to the image).

    A box samples rows ``y`` in ``[y1 (H - 1), y2 (H - 1)]`` and reads rows ``floor(y)`` and
    ``floor(y) + 1``; the window holds all of them that lie inside the image.
    """
    scale = tf.cast(height - 1, tf.float32)
    low = tf.floor(tf.minimum(boxes[:, 0], boxes[:, 2]) * scale)
    high = tf.floor(tf.maximum(boxes[:, 0], boxes[:, 2]) * scale) + 1.0
    low = tf.cast(tf.clip_by_value(low, 0.0, scale), tf.int32)
    high = tf.cast(tf.clip_by_value(high, 0.0, scale), tf.int32)
    window = tf.clip_by_value(tf.reduce_max(high - low) + 1, 2, height)
    start = tf.minimum(low, height - window)
    return start, window


def _crop_and_resize_fn(crop_size: tuple[int, int]):
    @tf.custom_gradient
    def _crop_and_resize(images: tf.Tensor, boxes: tf.Tensor, box_indices: tf.Tensor):
        crops = tf.image.crop_and_resize(images, boxes, box_indices, crop_size)

        def gradient(upstream: tf.Tensor):
            shape = tf.shape(images)
            height = shape[1]
            start, window = _row_windows(boxes, height)
            # the same sampling rows, in each box's window: y' = y - start
            scale = tf.cast(height - 1, tf.float32)
            rows = tf.stack([boxes[:, 0], boxes[:, 2]], axis=1) * scale
            rows = (rows - tf.cast(start, tf.float32)[:, None]) / tf.cast(window - 1, tf.float32)
            window_boxes = tf.stack([rows[:, 0], boxes[:, 1], rows[:, 1], boxes[:, 3]], axis=1)
            count = tf.shape(boxes)[0]
            per_box = tf.raw_ops.CropAndResizeGradImage(
                grads=upstream,
                boxes=window_boxes,
                box_ind=tf.range(count),
                image_size=tf.stack([count, window, shape[2], shape[3]]),
                T=tf.float32,
            )
            # row i of window k lands on row (image k, start_k + i); segment sums are sequential on
            # CPU, hence deterministic
            targets = box_indices[:, None] * height + start[:, None] + tf.range(window)[None]
            flat = tf.reshape(per_box, tf.stack([count * window, shape[2], shape[3]]))
            summed = tf.math.unsorted_segment_sum(
                flat, tf.reshape(targets, [-1]), shape[0] * height
            )
            return tf.reshape(summed, shape), None, None

        return crops, gradient

    return _crop_and_resize


def crop_and_resize(
    images: tf.Tensor, boxes: tf.Tensor, box_indices: tf.Tensor, crop_size: tuple[int, int]
) -> tf.Tensor:
    """``tf.image.crop_and_resize`` (bilinear, zero outside) with an exact, deterministic gradient.

    Same forward values as TensorFlow's op; the gradient with respect to ``images`` is exact and
    bitwise reproducible on CPU (see the module docstring). No gradient flows to the boxes.

    Parameters
    ----------
    images
        ``(B, H, W, C)`` float32 images, ``H >= 2``.
    boxes
        ``(K, 4)`` normalised ``(y1, x1, y2, x2)`` boxes.
    box_indices
        ``(K,)`` int32 image of each box.
    crop_size
        ``(h, w)`` of the crops.

    Returns
    -------
    crops
        ``(K, h, w, C)``.
    """
    crop = _crop_and_resize_fn(tuple(int(d) for d in crop_size))
    return crop(images, boxes, box_indices)


def random_crops(
    images: tf.Tensor,
    nb_crops: int,
    box_size: tf.Tensor,
    crop_size: tuple[int, int],
    seed: tf.Tensor,
) -> tf.Tensor:
    """``nb_crops`` random square crops per image, resized to ``crop_size``: ``(B * K, h, w, C)``.

    Centres ~ ``0.5 + N(0, 0.15)``, sides ~ ``N(box_size, 0.05)`` clipped to ``[0.05, 1]`` (in
    fractions of the image), as in MACO. ``nb_crops=0`` resizes the whole image instead.
    """
    batch = tf.shape(images)[0]
    if nb_crops == 0:
        return tf.image.resize(images, crop_size)
    count = batch * nb_crops
    draws = tf.random.stateless_normal(tf.stack([3, count]), seed=seed)
    center_y = 0.5 + 0.15 * draws[0]
    center_x = 0.5 + 0.15 * draws[1]
    side = tf.clip_by_value(box_size + 0.05 * draws[2], 0.05, 1.0)
    boxes = tf.stack(
        [center_y - side / 2, center_x - side / 2, center_y + side / 2, center_x + side / 2], -1
    )
    return crop_and_resize(images, boxes, tf.range(count) // nb_crops, crop_size)


def add_noise(crops: tf.Tensor, intensity: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Gaussian ``N(0, intensity)`` plus uniform ``U(-intensity/2, intensity/2)`` noise."""
    gaussian = tf.random.stateless_normal(tf.shape(crops), seed=seed + [0, 1])
    uniform = tf.random.stateless_uniform(tf.shape(crops), seed=seed + [0, 2]) - 0.5
    return crops + intensity * (gaussian + uniform)
