"""The compiled optimisation loop shared by MACO and the Fourier baseline.

Each step (random crops with a size schedule, noise, forward pass of all objectives' crops as
one batch, gradient, optimizer update, transparency accumulation) runs inside one
``tf.function``; the Python loop only counts steps and drives the progress bar. Randomness is
stateless, seeded by ``(seed, step)``: same seed, same images.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.validation import check_positive_int
from .crops import add_noise, random_crops
from .objectives import Objective


def resolve_seed(seed: int | None) -> int:
    """``seed`` as an int (a fresh random one when ``None``)."""
    if seed is None:
        return int(np.random.default_rng().integers(0, 2**31 - 1))
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`seed` must be an int or None, got {seed!r}.")
    return int(seed)


def make_schedule(value, nb_steps: int, default: np.ndarray, name: str) -> np.ndarray:
    """A per-step schedule ``(nb_steps,)`` from ``None`` (default), a number or ``f(step)``."""
    if value is None:
        return np.asarray(default, np.float32)
    if callable(value):
        return np.array([float(value(step)) for step in range(nb_steps)], np.float32)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.full((nb_steps,), float(value), np.float32)
    raise TypeError(f"`{name}` must be None, a number or a function of the step, got {value!r}.")


def check_shape(custom_shape, model_shape: tuple[int, int]) -> tuple[int, int]:
    """``custom_shape`` as ``(H, W)``; ``None`` means the model's input size."""
    if custom_shape is None:
        return tuple(int(d) for d in model_shape)
    if (
        not isinstance(custom_shape, tuple | list)
        or len(custom_shape) != 2
        or not all(isinstance(d, numbers.Integral) and d >= 2 for d in custom_shape)
    ):
        raise ValueError(
            f"`custom_shape` must be None or (height, width) >= 2, got {custom_shape!r}."
        )
    return (int(custom_shape[0]), int(custom_shape[1]))


def check_values_range(values_range) -> tuple[float, float]:
    """``(low, high)`` with ``low < high``."""
    try:
        low, high = (float(v) for v in values_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"`values_range` must be a pair of numbers, got {values_range!r}."
        ) from None
    if not low < high and not high < low:
        raise ValueError(f"`values_range` must hold two different numbers, got {values_range!r}.")
    return (min(low, high), max(low, high))


def run_optimisation(
    objective: Objective,
    variable: tf.Variable,
    image_fn: Callable[[tf.Tensor], tf.Tensor],
    optimizer: keras.optimizers.Optimizer,
    nb_steps: int,
    noise_schedule: np.ndarray,
    box_schedule: np.ndarray,
    nb_crops: int,
    seed: int,
    progress: bool,
    description: str,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Gradient ascent of ``objective`` on ``image_fn(variable)``; returns images, transparency.

    Parameters
    ----------
    objective
        The (batch of) objective(s); objective ``b`` is evaluated on the crops of image ``b``.
    variable
        The optimised ``tf.Variable`` (updated in place).
    image_fn
        Pure function ``variable -> (B, H, W, C)`` images.
    optimizer
        Keras optimizer (gradient *ascent*: it receives the negated gradient).
    nb_steps, noise_schedule, box_schedule, nb_crops, seed
        Loop length, per-step noise and crop sizes, crops per image, seed.
    progress
        Show a tqdm progress bar.
    description
        Progress bar label.

    Returns
    -------
    images
        ``(B, H, W, C)`` final images.
    transparency
        ``(B, H, W, C)`` sum over steps of ``|d objective / d image|``.
    """
    feature_model, scores = objective.build()
    crop_size = tuple(int(d) for d in objective.input_shape[:2])
    image_shape = image_fn(variable).shape
    transparency = tf.Variable(tf.zeros(image_shape, tf.float32), trainable=False)
    noise = tf.constant(noise_schedule, tf.float32)
    boxes = tf.constant(box_schedule, tf.float32)
    base_seed = tf.constant([seed, 0], tf.int64)
    optimizer.build([variable])

    @tf.function(autograph=False)
    def step(index: tf.Tensor) -> None:
        step_seed = base_seed + tf.stack([tf.constant(0, tf.int64), 4 * index + 1])
        with tf.GradientTape() as tape:
            images = image_fn(variable)
            crops = random_crops(images, nb_crops, boxes[index], crop_size, step_seed)
            crops = add_noise(crops, noise[index], step_seed)
            values = scores(feature_model(crops, training=False))
            # images are independent: the sum gives each image the gradient of its own mean
            loss = tf.reduce_sum(tf.reduce_mean(values, axis=1))
        # one backward pass gives both: the image gradient is on the way to the variable's
        grad_variable, grad_images = tape.gradient(loss, [variable, images])
        optimizer.apply_gradients([(-grad_variable, variable)])
        transparency.assign_add(tf.abs(grad_images))

    for index in tqdm(range(nb_steps), desc=description, disable=not progress, leave=False):
        step(tf.constant(index, tf.int64))
    return image_fn(variable), tf.convert_to_tensor(transparency)


def check_common(nb_steps, nb_crops) -> tuple[int, int]:
    """Validate the loop length and the number of crops."""
    nb_steps = check_positive_int(nb_steps, "nb_steps")
    if nb_crops is None:
        nb_crops = 0
    nb_crops = check_positive_int(nb_crops, "nb_crops", minimum=0)
    return nb_steps, nb_crops
