"""Stochastic image transformations of Lucid-style feature visualization, as in Xplique.

Each factory returns a transformation ``fn(images, seed=None) -> images`` on a batch
``(N, H, W, C)``. Called with ``images`` only (as Xplique does), it draws its randomness from
TensorFlow's global generator; called with a ``seed`` (a ``(2,)`` int tensor, as
:func:`~xplique_lens.features_visualizations.optimize` does at every step) it is stateless and
reproducible. Shapes are read at run time, so the transformations chain inside a
``tf.function`` whatever the image size.

Differences with Xplique 2.0.2: ``random_blur`` blurs any number of channels (Xplique has a
separate grayscale version and its RGB one fails on other channel counts); the factories check
their arguments and raise ``ValueError`` / ``TypeError``.

References
----------
Olah, Mordvintsev & Schubert (2017). *Feature Visualization.* Distill.
https://distill.pub/2017/feature-visualization
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import tensorflow as tf

from ..commons.validation import check_positive_int

Transformation = Callable[..., tf.Tensor]


def _seeded(fn: Callable) -> Callable:
    """Mark ``fn`` as accepting ``seed=`` (the optimiser then passes one per step)."""
    fn.accepts_seed = True
    return fn


def _sub_seed(seed: tf.Tensor | None, salt: int) -> tf.Tensor | None:
    if seed is None:
        return None
    return tf.cast(seed, tf.int64) + tf.constant([0, 7919 * (salt + 1)], tf.int64)


def _uniform(seed: tf.Tensor | None, low: float, high: float) -> tf.Tensor:
    if seed is None:
        return tf.random.uniform([], low, high, dtype=tf.float32)
    return tf.random.stateless_uniform([], seed, low, high, dtype=tf.float32)


def _check_range(values: Sequence[float], name: str) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in values)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a (min, max) pair of numbers, got {values!r}.") from None
    if low > high:
        raise ValueError(f"`{name}` must be (min, max) with min <= max, got {values!r}.")
    return low, high


def random_blur(sigma_range: tuple[float, float] = (1.0, 2.0), kernel_size: int = 10) -> Callable:
    """Gaussian blur of the batch with a random ``sigma`` drawn in ``sigma_range``.

    Each channel is blurred on its own (depthwise convolution, ``"SAME"`` zero padding).

    Parameters
    ----------
    sigma_range
        Min and max standard deviation of the kernel (each at least 0.1).
    kernel_size
        Side of the square kernel.

    Returns
    -------
    blur
        ``blur(images, seed=None) -> images``.
    """
    low, high = _check_range(sigma_range, "sigma_range")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    low, high = max(low, 0.1), max(high, 0.1)
    half = (kernel_size - 1) / 2.0
    grid = tf.linspace(-half, half, kernel_size)
    xx, yy = tf.meshgrid(grid, grid)
    squared = tf.cast(xx**2 + yy**2, tf.float32)

    @_seeded
    def blur(images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        sigma = low if low == high else _uniform(seed, low, high)
        kernel = tf.exp(-0.5 * squared / sigma**2)
        kernel = kernel / tf.reduce_sum(kernel)
        kernel = tf.tile(kernel[:, :, None, None], [1, 1, tf.shape(images)[-1], 1])
        return tf.nn.depthwise_conv2d(images, kernel, strides=[1, 1, 1, 1], padding="SAME")

    return blur


def random_jitter(delta: int = 6) -> Callable:
    """Random crop of the batch, ``delta`` pixels smaller on each axis (one offset per batch).

    Parameters
    ----------
    delta
        Pixels removed from the height and the width.

    Returns
    -------
    jitter
        ``jitter(images, seed=None) -> images`` of size ``(H - delta, W - delta)``.
    """
    delta = check_positive_int(delta, "delta", minimum=0)

    @_seeded
    def jitter(images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        shape = tf.shape(images)
        size = tf.stack([shape[0], shape[1] - delta, shape[2] - delta, shape[3]])
        if seed is None:
            return tf.image.random_crop(images, size)
        return tf.image.stateless_random_crop(images, size, seed=seed)

    return jitter


def random_scale(scale_range: tuple[float, float] = (0.95, 1.05)) -> Callable:
    """Resize the batch by a random factor drawn in ``scale_range`` (aspect ratio kept).

    Parameters
    ----------
    scale_range
        Min and max scale factor.

    Returns
    -------
    scale
        ``scale(images, seed=None) -> images``.
    """
    low, high = _check_range(scale_range, "scale_range")
    if low <= 0:
        raise ValueError(f"`scale_range` must hold positive factors, got {scale_range!r}.")

    @_seeded
    def scale(images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        factor = _uniform(seed, low, high)
        size = tf.cast(tf.shape(images)[1:3], tf.float32) * factor
        return tf.image.resize(images, tf.maximum(tf.cast(size, tf.int32), 1))

    return scale


def random_flip(horizontal: bool = True, vertical: bool = False) -> Callable:
    """Flip each image of the batch at random (left / right, and / or up / down).

    Parameters
    ----------
    horizontal
        Flip left / right with probability 1/2.
    vertical
        Flip up / down with probability 1/2.

    Returns
    -------
    flip
        ``flip(images, seed=None) -> images``.
    """

    @_seeded
    def flip(images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        if horizontal:
            images = (
                tf.image.random_flip_left_right(images)
                if seed is None
                else tf.image.stateless_random_flip_left_right(images, _sub_seed(seed, 0))
            )
        if vertical:
            images = (
                tf.image.random_flip_up_down(images)
                if seed is None
                else tf.image.stateless_random_flip_up_down(images, _sub_seed(seed, 1))
            )
        return images

    return flip


def pad(size: int = 6, pad_value: float = 0.0) -> Callable:
    """Pad the batch with ``size`` pixels of ``pad_value`` on every side.

    Parameters
    ----------
    size
        Width of the border, in pixels.
    pad_value
        Value of the border pixels.

    Returns
    -------
    pad_func
        ``pad_func(images, seed=None) -> images`` of size ``(H + 2 size, W + 2 size)``.
    """
    size = check_positive_int(size, "size", minimum=0)
    if isinstance(pad_value, bool) or not isinstance(pad_value, numbers.Real):
        raise TypeError(f"`pad_value` must be a number, got {pad_value!r}.")
    value = float(pad_value)

    @_seeded
    def pad_func(images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        paddings = [[0, 0], [size, size], [size, size], [0, 0]]
        return tf.pad(images, paddings, mode="CONSTANT", constant_values=value)

    return pad_func


def apply_transformation(
    transformation: Callable, images: tf.Tensor, seed: tf.Tensor | None
) -> tf.Tensor:
    """``transformation(images, seed=seed)`` for ours, ``transformation(images)`` for others
    (Xplique's or a user's ``images -> images``)."""
    if seed is not None and getattr(transformation, "accepts_seed", False):
        return transformation(images, seed=seed)
    return transformation(images)


def compose_transformations(transformations: Sequence[Callable]) -> Callable:
    """Chain transformations: ``t_k(...t_2(t_1(images)))``.

    Parameters
    ----------
    transformations
        Transformations of this module, Xplique's, or any ``images -> images`` callables.

    Returns
    -------
    composed_func
        ``composed_func(images, seed=None) -> images``; a seed is split between the steps.
    """
    if isinstance(transformations, str) or not isinstance(transformations, Sequence):
        raise TypeError(
            f"`transformations` must be a list of callables, got {type(transformations).__name__}."
        )
    steps = list(transformations)
    for index, step in enumerate(steps):
        if not callable(step):
            raise TypeError(
                f"`transformations[{index}]` must be callable (images -> images), got "
                f"{type(step).__name__}."
            )

    @_seeded
    def composed_func(images: tf.Tensor, seed: tf.Tensor | None = None) -> tf.Tensor:
        for index, step in enumerate(steps):
            images = apply_transformation(step, images, _sub_seed(seed, index))
        return images

    return composed_func


def standard_transformations(size: int) -> Callable:
    """Xplique's (Lucid's) robust pipeline for images of side ``size``: pad, five jitters, a
    downscale, a light blur, two small jitters and a horizontal flip (``unit = size // 16``)."""
    unit = int(size / 16)
    return compose_transformations(
        [
            pad(unit * 4, 0.0),
            random_jitter(unit * 2),
            random_jitter(unit * 2),
            random_jitter(unit * 4),
            random_jitter(unit * 4),
            random_jitter(unit * 4),
            random_scale((0.92, 0.96)),
            random_blur(sigma_range=(1.0, 1.1)),
            random_jitter(unit),
            random_jitter(unit),
            random_flip(),
        ]
    )
