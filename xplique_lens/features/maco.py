"""MACO: feature visualization by optimising the phase of a spectrum with a fixed magnitude."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from ..commons.validation import check_flag, resolve_seed, resolve_verbose
from .magnitude import (
    default_magnitude,
    magnitude_from_images,
    one_over_f_magnitude,
    resample_magnitude,
)
from .objectives import Objective
from .optimisation import (
    check_common,
    check_shape,
    check_values_range,
    make_schedule,
    run_optimisation,
    squeeze_single,
)
from .parametrisations import maco_image, spectrum_shape


def resolve_magnitude(magnitude, height: int, width: int, channels: int) -> np.ndarray:
    """``(C, H, W // 2 + 1)`` magnitude from ``None`` / ``"natural"``, ``"1/f"`` or an array."""
    if magnitude is None or (isinstance(magnitude, str) and magnitude == "natural"):
        return default_magnitude(height, width, channels)
    if isinstance(magnitude, str):
        if magnitude == "1/f":
            return one_over_f_magnitude(height, width, channels)
        raise ValueError(
            f"`magnitude` must be None, 'natural', '1/f' or an array, got {magnitude!r}."
        )
    array = np.asarray(magnitude, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[0] not in (1, channels):
        raise ValueError(
            f"`magnitude` must have shape ({channels}, h, w // 2 + 1) (or (h, w // 2 + 1)), got "
            f"{np.shape(magnitude)}."
        )
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError("`magnitude` must hold finite non-negative values.")
    if array.shape[0] != channels:
        array = np.repeat(array, channels, axis=0)
    return resample_magnitude(array, height, width)


def maco(
    objective: Objective,
    optimizer: keras.optimizers.Optimizer | None = None,
    nb_steps: int = 256,
    noise_intensity: float | Callable[[int], float] | None = 0.08,
    box_size: float | Callable[[int], float] | None = None,
    nb_crops: int | None = 32,
    values_range: tuple[float, float] = (-1, 1),
    custom_shape: tuple[int, int] | None = (512, 512),
    magnitude: np.ndarray | str | None = None,
    seed: int | None = None,
    *,
    maco_dataset: tf.data.Dataset | np.ndarray | None = None,
    verbose: bool = False,
    squeeze: bool = False,
    progress: bool | None = None,
) -> tuple[np.ndarray, tf.Tensor]:
    """Visualise objective(s) with MACO (magnitude-constrained phase optimisation).

    The image is ``irfft2(magnitude * exp(i * phase))`` (standardised, colours re-correlated,
    squashed into ``values_range``); only the phase is optimised, by gradient ascent of the mean
    objective over ``nb_crops`` random crops (side decaying from 50% to 5% of the image by
    default) with noise, at every step. The transparency map is the sum over steps of the
    absolute gradient of the objective with respect to the image (the paper's attribution map).

    Differences with Xplique 2.0.2 ``maco``: a batch of objectives (e.g.
    ``Objective.channel(model, "c", [0, 1, 2])``) is optimised at once, one image each, in one
    compiled step (Xplique refuses); the whole step including the optimizer update and the
    transparency runs in one ``tf.function``; ``custom_shape=None`` means the model's input size
    (Xplique crashes); grayscale and non-square images work with the shipped magnitude; the
    default magnitude is computed by this project from natural photographs shipped with
    scikit-learn and matplotlib (see ``features/data/make_magnitude.py``), Xplique ships an
    ImageNet one; runs are reproducible with ``seed``.

    Parameters
    ----------
    objective
        An :class:`~xplique_lens.features.Objective` (possibly a batch of objectives).
    optimizer
        Keras optimizer; default ``keras.optimizers.Nadam(1.0)`` as in the paper.
    nb_steps
        Number of optimisation steps.
    noise_intensity
        Standard deviation of the noise added to the crops: a float, a function of the step, or
        ``None`` for a decay from 1 to 1e-4 (log scale).
    box_size
        Average side of the crops (fraction of the image): a float, a function of the step, or
        ``None`` for a linear decay from 0.5 to 0.05.
    nb_crops
        Crops per image and step (``0`` or ``None``: the whole image, resized).
    values_range
        Range of the model's inputs, e.g. ``(0, 1)`` or ``(-1, 1)``.
    custom_shape
        ``(height, width)`` of the visualization; ``None``: the model's input size.
    magnitude
        Fixed Fourier magnitude: ``None`` / ``"natural"`` (the shipped default), ``"1/f"``
        (analytic), or an array ``(C, h, w // 2 + 1)`` such as :func:`magnitude_from_images`
        returns (resampled to ``custom_shape``).
    seed : int or None, default None
        Seed of the initial phase and of the crops and noise; same seed, same images. None draws
        fresh randomness.
    maco_dataset
        Xplique's way to give your data: images (or a dataset of images) whose mean magnitude is
        used, as ``magnitude=magnitude_from_images(maco_dataset)``.
    verbose
        Show a progress bar.
    squeeze
        Drop the leading objectives axis for a single objective (the former return convention
        and Xplique's). Default ``False``: the outputs always have the objectives axis, so
        callers never branch on the rank.
    progress
        Deprecated alias of ``verbose`` (emits a ``DeprecationWarning``).

    Returns
    -------
    image
        ``(B, H, W, C)`` numpy images, one per objective (``B = 1`` for a single objective),
        or ``(H, W, C)`` for a single objective with ``squeeze=True``.
    transparency
        Same shape, ``tf.Tensor`` (as in Xplique): accumulated absolute image gradients.

    References
    ----------
    Fel et al. (2023). *Unlocking Feature Visualization for Deeper Networks with MAgnitude
    Constrained Optimization.* NeurIPS. https://arxiv.org/abs/2306.06805
    """
    verbose = resolve_verbose(verbose, progress, "maco")
    squeeze = check_flag(squeeze, "squeeze")
    if not isinstance(objective, Objective):
        raise TypeError(f"`objective` must be an Objective, got {type(objective).__name__}.")
    nb_steps, nb_crops = check_common(nb_steps, nb_crops)
    values_range = check_values_range(values_range)
    model_h, model_w, channels = objective.input_shape
    height, width = check_shape(custom_shape, (model_h, model_w))
    if maco_dataset is not None:
        if magnitude is not None:
            raise ValueError("Give either `magnitude` or `maco_dataset`, not both.")
        magnitude = magnitude_from_images(maco_dataset)
    magnitude = tf.constant(resolve_magnitude(magnitude, height, width, channels))
    noise = make_schedule(
        noise_intensity, nb_steps, np.logspace(0, -4, nb_steps), "noise_intensity"
    )
    boxes = make_schedule(box_size, nb_steps, np.linspace(0.5, 0.05, nb_steps), "box_size")
    seed = resolve_seed(seed)
    batch = objective.nb_objectives
    phase = tf.random.stateless_normal(
        (batch, channels, *spectrum_shape(height, width)), seed=[seed, 0]
    )

    def image_fn(variable: tf.Tensor, magnitude: tf.Tensor) -> tf.Tensor:
        return maco_image(variable, magnitude, values_range, width=width)

    images, transparency = run_optimisation(
        objective,
        phase,
        image_fn,
        optimizer,
        nb_steps,
        noise,
        boxes,
        nb_crops,
        seed,
        verbose,
        "MACO",
        image_args=(magnitude,),
        cache_key=("maco", values_range, width),
    )
    return squeeze_single(images.numpy(), transparency, squeeze)
