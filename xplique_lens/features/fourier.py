"""Fourier-preconditioned feature visualization (Olah et al. 2017): the baseline MACO beats."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from ..commons.validation import check_flag, resolve_seed, resolve_verbose
from .objectives import Objective
from .optimisation import (
    check_common,
    check_shape,
    check_values_range,
    make_schedule,
    run_optimisation,
    squeeze_single,
)
from .parametrisations import fourier_image, fourier_scale, spectrum_shape


def fourier(
    objective: Objective,
    optimizer: keras.optimizers.Optimizer | None = None,
    nb_steps: int = 256,
    noise_intensity: float | Callable[[int], float] | None = 0.08,
    box_size: float | Callable[[int], float] | None = None,
    nb_crops: int | None = 32,
    values_range: tuple[float, float] = (-1, 1),
    custom_shape: tuple[int, int] | None = (512, 512),
    fft_decay: float = 0.85,
    std: float = 0.01,
    seed: int | None = None,
    *,
    verbose: bool = False,
    squeeze: bool = False,
    progress: bool | None = None,
) -> tuple[np.ndarray, tf.Tensor]:
    """Visualise objective(s) by optimising the whole spectrum, scaled by ``1 / f ** fft_decay``.

    Same robustness pipeline as :func:`~xplique_lens.features.maco` (random crops with the same
    size schedule, same noise, compiled step, batch of objectives, transparency), so that a
    comparison with MACO isolates the parametrisation: here magnitude *and* phase are free.
    (Xplique's ``optimize(use_fft=True)`` uses Lucid's jitter / scale / rotation transforms.)

    Parameters
    ----------
    objective, nb_steps, noise_intensity, box_size, nb_crops, values_range, custom_shape
        As in :func:`~xplique_lens.features.maco`.
    seed : int or None, default None
        Seed of the initial spectrum and of the crops and noise; None draws fresh randomness.
    optimizer
        Keras optimizer; default ``keras.optimizers.Adam(0.05)`` (Xplique's ``optimize``).
    fft_decay
        Decay of the spectrum scale: higher values suppress high frequencies.
    std
        Standard deviation of the initial spectrum.
    verbose
        Show a progress bar.
    squeeze
        Drop the leading objectives axis for a single objective (default ``False``, as
        :func:`~xplique_lens.features.maco`).
    progress
        Deprecated alias of ``verbose`` (emits a ``DeprecationWarning``).

    Returns
    -------
    image, transparency
        As in :func:`~xplique_lens.features.maco`: ``(B, H, W, C)``, one per objective.

    References
    ----------
    Olah, Mordvintsev, Schubert (2017). *Feature Visualization.* Distill.
    https://distill.pub/2017/feature-visualization
    """
    verbose = resolve_verbose(verbose, progress, "fourier")
    squeeze = check_flag(squeeze, "squeeze")
    if not isinstance(objective, Objective):
        raise TypeError(f"`objective` must be an Objective, got {type(objective).__name__}.")
    nb_steps, nb_crops = check_common(nb_steps, nb_crops)
    values_range = check_values_range(values_range)
    model_h, model_w, channels = objective.input_shape
    height, width = check_shape(custom_shape, (model_h, model_w))
    noise = make_schedule(
        noise_intensity, nb_steps, np.logspace(0, -4, nb_steps), "noise_intensity"
    )
    boxes = make_schedule(box_size, nb_steps, np.linspace(0.5, 0.05, nb_steps), "box_size")
    seed = resolve_seed(seed)
    batch = objective.nb_objectives
    shape = (2, batch, channels, *spectrum_shape(height, width))
    buffer = tf.Variable(float(std) * tf.random.stateless_normal(shape, seed=[seed, 0]))
    scale = tf.constant(fourier_scale(height, width, fft_decay))
    if optimizer is None:
        optimizer = keras.optimizers.Adam(0.05)

    def image_fn(variable: tf.Tensor) -> tf.Tensor:
        return fourier_image(variable, scale, values_range, width=width)

    images, transparency = run_optimisation(
        objective,
        buffer,
        image_fn,
        optimizer,
        nb_steps,
        noise,
        boxes,
        nb_crops,
        seed,
        verbose,
        "Fourier",
    )
    return squeeze_single(images.numpy(), transparency, squeeze)
