"""The compiled optimisation loop shared by MACO and the Fourier baseline.

Each step (random crops with a size schedule, noise, forward pass of all objectives' crops as
one batch, gradient, optimizer update, transparency accumulation) runs inside one
``tf.function``; the Python loop only counts steps and drives the progress bar. Randomness is
stateless, seeded by ``(seed, step)``: same seed, same images.
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.validation import check_positive_int
from .crops import add_noise, random_crops
from .objectives import Objective


def squeeze_single(images: np.ndarray, transparency: tf.Tensor, squeeze: bool) -> tuple:
    """Drop the leading objectives axis of a single objective's outputs when ``squeeze``."""
    if squeeze and images.shape[0] == 1:
        return images[0], transparency[0]
    return images, transparency


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


class OptimisationLoop:
    """The compiled step of a feature-visualization run, and the state it updates.

    Everything that changes from one run to the next (the initial parametrisation, the targets
    of the objectives, the image parameters such as MACO's magnitude, the noise, crop size and
    seed of each step) is a variable or an input of the step, so one trace serves every run of
    the same structure: the Lens visualises a class, then each of its concepts, with one trace.

    Parameters
    ----------
    objective
        Sets the feature model and the scoring (its :meth:`Objective.structure`).
    variable_shape
        Shape of the optimised parametrisation.
    image_fn
        Pure function ``(variable, *image_args) -> (B, H, W, C)`` images.
    image_args
        Initial values of the image parameters (e.g. the magnitude).
    optimizer
        Keras optimizer; ``None`` builds ``Nadam(1.0)``, whose initial state is restored before
        each run (a given optimizer keeps its state across runs, as Keras users expect).
    nb_crops
        Crops per image and step.
    """

    def __init__(
        self,
        objective: Objective,
        variable_shape: tuple[int, ...],
        image_fn: Callable[..., tf.Tensor],
        image_args: tuple = (),
        optimizer: keras.optimizers.Optimizer | None = None,
        nb_crops: int = 0,
    ):
        feature_model, scores = objective.build_parametric()
        crop_size = tuple(int(d) for d in objective.input_shape[:2])
        self.variable = tf.Variable(tf.zeros(variable_shape, tf.float32))
        self.image_args = [tf.Variable(np.asarray(a, np.float32)) for a in image_args]
        self.masks = [tf.Variable(m) for m in objective.target_masks()]
        image_shape = image_fn(self.variable, *self.image_args).shape
        self.transparency = tf.Variable(tf.zeros(image_shape, tf.float32), trainable=False)
        self.image_fn = image_fn
        self.owns_optimizer = optimizer is None
        self.optimizer = keras.optimizers.Nadam(1.0) if optimizer is None else optimizer
        self.optimizer.build([self.variable])
        self._initial_state = [v.numpy() for v in self.optimizer.variables]
        variable, transparency, masks, args = (
            self.variable,
            self.transparency,
            self.masks,
            self.image_args,
        )

        @tf.function(autograph=False)
        def step(index: tf.Tensor, noise: tf.Tensor, box: tf.Tensor, seed: tf.Tensor) -> None:
            step_seed = seed + tf.stack([tf.constant(0, tf.int64), 4 * index + 1])
            with tf.GradientTape() as tape:
                images = image_fn(variable, *args)
                crops = random_crops(images, nb_crops, box, crop_size, step_seed)
                crops = add_noise(crops, noise, step_seed)
                values = scores(feature_model(crops, training=False), masks)
                # images are independent: the sum gives each image the gradient of its own mean
                loss = tf.reduce_sum(tf.reduce_mean(values, axis=1))
            # one backward pass gives both: the image gradient is on the way to the variable's
            grad_variable, grad_images = tape.gradient(loss, [variable, images])
            self.optimizer.apply_gradients([(-grad_variable, variable)])
            transparency.assign_add(tf.abs(grad_images))

        self.step = step

    def run(
        self,
        objective: Objective,
        initial: tf.Tensor,
        image_args: tuple,
        nb_steps: int,
        noise_schedule: np.ndarray,
        box_schedule: np.ndarray,
        seed: int,
        verbose: bool,
        description: str,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Optimise from ``initial``; return the images and the transparency."""
        self.variable.assign(initial)
        self.transparency.assign(tf.zeros_like(self.transparency))
        for target, value in zip(self.masks, objective.target_masks()):
            target.assign(value)
        for target, value in zip(self.image_args, image_args):
            target.assign(np.asarray(value, np.float32))
        if self.owns_optimizer:
            for target, value in zip(self.optimizer.variables, self._initial_state):
                target.assign(value)
        noise = tf.constant(noise_schedule, tf.float32)
        boxes = tf.constant(box_schedule, tf.float32)
        base_seed = tf.constant([seed, 0], tf.int64)
        for index in tqdm(range(nb_steps), desc=description, disable=not verbose, leave=False):
            self.step(tf.constant(index, tf.int64), noise[index], boxes[index], base_seed)
        images = self.image_fn(self.variable, *self.image_args)
        return images, tf.convert_to_tensor(self.transparency)


_LOOPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cached_loop(
    objective: Objective, key: tuple, build: Callable[[], OptimisationLoop]
) -> OptimisationLoop:
    """The loop of ``(objective.structure(), key)``, built once while the model lives."""
    per_model = _LOOPS.setdefault(objective.model, {})
    full_key = (objective.structure(), key)
    if full_key not in per_model:
        per_model[full_key] = build()
    return per_model[full_key]


def run_optimisation(
    objective: Objective,
    variable: tf.Variable,
    image_fn: Callable[..., tf.Tensor],
    optimizer: keras.optimizers.Optimizer | None,
    nb_steps: int,
    noise_schedule: np.ndarray,
    box_schedule: np.ndarray,
    nb_crops: int,
    seed: int,
    verbose: bool,
    description: str,
    image_args: tuple = (),
    cache_key: tuple | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Gradient ascent of ``objective`` on ``image_fn(variable, *image_args)``.

    Parameters
    ----------
    objective
        The (batch of) objective(s); objective ``b`` is evaluated on the crops of image ``b``.
    variable
        The initial parametrisation (a tensor or ``tf.Variable``, left unchanged).
    image_fn
        Pure function ``(variable, *image_args) -> (B, H, W, C)`` images.
    optimizer
        Keras optimizer (gradient *ascent*: it receives the negated gradient); ``None``:
        ``Nadam(1.0)``.
    nb_steps, noise_schedule, box_schedule, nb_crops, seed
        Loop length, per-step noise and crop sizes, crops per image, seed.
    verbose
        Show a tqdm progress bar.
    description
        Progress bar label.
    image_args
        Parameters of ``image_fn`` (tensors or arrays), inputs of the compiled step.
    cache_key
        With the default optimizer, what besides the objective's structure and ``nb_crops``
        determines ``image_fn`` (e.g. the value range and size): runs with the same key reuse
        one compiled step instead of tracing a new one. ``None``: no reuse.

    Returns
    -------
    images
        ``(B, H, W, C)`` final images.
    transparency
        ``(B, H, W, C)`` sum over steps of ``|d objective / d image|``.
    """

    def build() -> OptimisationLoop:
        return OptimisationLoop(
            objective, tuple(variable.shape), image_fn, image_args, optimizer, nb_crops
        )

    if cache_key is not None and optimizer is None:
        key = (*cache_key, tuple(variable.shape), nb_crops)
        loop = cached_loop(objective, key, build)
    else:
        loop = build()
    return loop.run(
        objective,
        tf.convert_to_tensor(variable),
        image_args,
        nb_steps,
        noise_schedule,
        box_schedule,
        seed,
        verbose,
        description,
    )


def check_common(nb_steps, nb_crops) -> tuple[int, int]:
    """Validate the loop length and the number of crops."""
    nb_steps = check_positive_int(nb_steps, "nb_steps")
    if nb_crops is None:
        nb_crops = 0
    nb_crops = check_positive_int(nb_crops, "nb_crops", minimum=0)
    return nb_steps, nb_crops
