"""Baselines: what replaces the "removed" pixels in Deletion, Insertion and MuFidelity.

Each baseline is a plain function ``(inputs, **settings) -> baseline images`` of the same shape as
``inputs`` ``(N, H, W, C)``, pure TensorFlow and seeded: ``seed : int or None, default 0``, the
same seed gives the same output and None draws fresh randomness. A baseline is
given to a metric as ``baseline_mode``: a number (a constant image), a name of :data:`BASELINES`,
or any callable ``inputs -> images`` (a function, a ``functools.partial`` or an object with
``__call__``; Xplique only calls plain functions and silently treats the others as scalars).

Ref. Picard, Boissin, Subhash, Cadène, Fel, *Back to the Baseline: Examining Baseline Effects on
Explainability Metrics* (2025), arXiv 2512.11433. The feature-visualization baseline of that paper
is :class:`FeatureVisualizationBaseline` (in :mod:`.fv_baseline`); the image helpers are in
:mod:`.baseline_helpers`. Both are re-exported here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from .baseline_helpers import (
    as_images,
    check_patch_size,
    pad_to_multiple,
    patch_ids,
    patch_means,
    seed_pair,
    value_range,
)
from .fv_baseline import FeatureVisualizationBaseline, feature_visualization_baseline

BaselineFunction = Callable[[tf.Tensor], tf.Tensor]

__all__ = [
    "BASELINES",
    "MODEL_BASELINES",
    "BaselineFunction",
    "FeatureVisualizationBaseline",
    "amplitude_scramble_baseline",
    "as_images",
    "blur_baseline",
    "check_patch_size",
    "compute_baselines",
    "constant_baseline",
    "feature_visualization_baseline",
    "get_baseline",
    "local_mean_baseline",
    "local_permutation_baseline",
    "mean_baseline",
    "median_baseline",
    "normal_baseline",
    "pad_to_multiple",
    "patch_ids",
    "patch_means",
    "permutation_baseline",
    "phase_scramble_baseline",
    "random_color_baseline",
    "road_baseline",
    "seed_pair",
    "shared_baseline",
    "uniform_baseline",
    "value_range",
    "zero_baseline",
]

# --------------------------------------------------------------------------- baselines


def zero_baseline(inputs: Any) -> tf.Tensor:
    """Black image (all zeros): Xplique's default ``baseline_mode=0.0``."""
    return tf.zeros_like(as_images(inputs))


def constant_baseline(inputs: Any, value: float = 0.5) -> tf.Tensor:
    """Constant image of ``value`` (e.g. mid-grey for images in [0, 1])."""
    return tf.fill(tf.shape(as_images(inputs)), tf.constant(float(value), tf.float32))


def mean_baseline(inputs: Any) -> tf.Tensor:
    """Each image replaced by its per-channel mean colour."""
    inputs = as_images(inputs)
    return tf.broadcast_to(tf.reduce_mean(inputs, axis=(1, 2), keepdims=True), tf.shape(inputs))


def median_baseline(inputs: Any) -> tf.Tensor:
    """Each image replaced by its per-channel median colour (lower median for even counts)."""
    inputs = as_images(inputs)
    flat = tf.reshape(inputs, (tf.shape(inputs)[0], -1, inputs.shape[-1]))
    pixels = inputs.shape[1] * inputs.shape[2]
    median = tf.sort(flat, axis=1)[:, (pixels - 1) // 2]
    return tf.broadcast_to(median[:, None, None, :], tf.shape(inputs))


def blur_baseline(inputs: Any, sigma: float = 5.0) -> tf.Tensor:
    """Gaussian blur of standard deviation ``sigma`` pixels (reflect padding)."""
    inputs = as_images(inputs)
    if not sigma > 0:
        raise ValueError(f"`sigma` must be > 0, got {sigma!r}.")
    radius = int(min(math.ceil(3 * sigma), inputs.shape[1] - 1, inputs.shape[2] - 1))
    taps = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel = tf.constant(kernel / kernel.sum(), tf.float32)
    channels = inputs.shape[-1]
    padded = tf.pad(inputs, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    k_rows = tf.tile(tf.reshape(kernel, (-1, 1, 1, 1)), (1, 1, channels, 1))
    k_cols = tf.tile(tf.reshape(kernel, (1, -1, 1, 1)), (1, 1, channels, 1))
    out = tf.nn.depthwise_conv2d(padded, k_rows, (1, 1, 1, 1), "VALID")
    return tf.nn.depthwise_conv2d(out, k_cols, (1, 1, 1, 1), "VALID")


def uniform_baseline(
    inputs: Any, low: float | None = None, high: float | None = None, seed: int | None = 0
) -> tf.Tensor:
    """Uniform noise in ``[low, high]`` (default: the inputs' range), per pixel and channel."""
    inputs = as_images(inputs)
    vmin, vmax = value_range(inputs)
    low = vmin if low is None else tf.constant(float(low))
    high = vmax if high is None else tf.constant(float(high))
    noise = tf.random.stateless_uniform(tf.shape(inputs), seed_pair(seed))
    return low + (high - low) * noise


def normal_baseline(inputs: Any, std_scale: float = 1.0, seed: int | None = 0) -> tf.Tensor:
    """Gaussian noise with each image's per-channel mean and std (times ``std_scale``), clipped
    to the range of the inputs."""
    inputs = as_images(inputs)
    mean, var = tf.nn.moments(inputs, axes=(1, 2), keepdims=True)
    noise = tf.random.stateless_normal(tf.shape(inputs), seed_pair(seed))
    vmin, vmax = value_range(inputs)
    return tf.clip_by_value(mean + std_scale * tf.sqrt(var) * noise, vmin, vmax)


def _permute_pixels(inputs: tf.Tensor, keys: tf.Tensor) -> tf.Tensor:
    """Reorder the pixels of each image by ascending ``keys`` ``(N, H*W)`` (channels together)."""
    n, height, width, channels = (tf.shape(inputs)[0], *inputs.shape[1:])
    flat = tf.reshape(inputs, (n, height * width, channels))
    order = tf.argsort(keys, axis=1, stable=True)
    return tf.reshape(tf.gather(flat, order, axis=1, batch_dims=1), tf.shape(inputs))


def permutation_baseline(inputs: Any, seed: int | None = 0) -> tf.Tensor:
    """The pixels of each image randomly permuted (colour histogram kept, structure destroyed)."""
    inputs = as_images(inputs)
    keys = tf.random.stateless_uniform(
        (tf.shape(inputs)[0], inputs.shape[1] * inputs.shape[2]), seed_pair(seed)
    )
    return _permute_pixels(inputs, keys)


def local_mean_baseline(inputs: Any, patch_size: int = 8) -> tf.Tensor:
    """Each ``patch_size`` x ``patch_size`` patch replaced by its mean colour."""
    inputs = as_images(inputs)
    patch_size = check_patch_size(patch_size)
    means = patch_means(inputs, patch_size)
    up = tf.repeat(tf.repeat(means, patch_size, axis=1), patch_size, axis=2)
    return up[:, : inputs.shape[1], : inputs.shape[2]]


def local_permutation_baseline(inputs: Any, patch_size: int = 8, seed: int | None = 0) -> tf.Tensor:
    """Pixels randomly permuted inside each ``patch_size`` x ``patch_size`` patch."""
    inputs = as_images(inputs)
    patch_size = check_patch_size(patch_size)
    height, width = inputs.shape[1], inputs.shape[2]
    ids = patch_ids(height, width, patch_size).astype(np.float32)
    # canonical order: by patch, then position; shuffled order: by patch, then a random key
    canonical = np.argsort(ids + np.arange(ids.size) / ids.size, kind="stable")
    inverse = tf.constant(np.argsort(canonical).astype(np.int32))
    noise = tf.random.stateless_uniform((tf.shape(inputs)[0], ids.size), seed_pair(seed))
    shuffled = tf.argsort(tf.constant(ids)[None] + 0.999 * noise, axis=1, stable=True)
    source = tf.gather(shuffled, inverse, axis=1)  # pixel j takes shuffled[rank of j]
    flat = tf.reshape(inputs, (tf.shape(inputs)[0], height * width, inputs.shape[-1]))
    return tf.reshape(tf.gather(flat, source, axis=1, batch_dims=1), tf.shape(inputs))


def random_color_baseline(inputs: Any, seed: int | None = 0) -> tf.Tensor:
    """Each image replaced by one uniformly drawn colour (within the range of the inputs)."""
    inputs = as_images(inputs)
    vmin, vmax = value_range(inputs)
    colour = tf.random.stateless_uniform(
        (tf.shape(inputs)[0], 1, 1, inputs.shape[-1]), seed_pair(seed)
    )
    return tf.broadcast_to(vmin + (vmax - vmin) * colour, tf.shape(inputs))


def _spectrum(inputs: tf.Tensor) -> tf.Tensor:
    """2-D FFT of each channel, ``(N, C, H, W)`` complex64."""
    return tf.signal.fft2d(tf.cast(tf.transpose(inputs, (0, 3, 1, 2)), tf.complex64))


def _from_spectrum(spectrum: tf.Tensor, inputs: tf.Tensor, clip: bool = True) -> tf.Tensor:
    images = tf.transpose(tf.math.real(tf.signal.ifft2d(spectrum)), (0, 2, 3, 1))
    if not clip:
        return images
    vmin, vmax = value_range(inputs)
    return tf.clip_by_value(images, vmin, vmax)


def phase_scramble_baseline(inputs: Any, seed: int | None = 0, clip: bool = True) -> tf.Tensor:
    """Amplitude spectrum kept, phase randomised (the same random phase for every channel).

    The random phase is that of a white-noise image, so the result is real; the mean colour (DC
    term) is kept. Clipped to the range of the inputs unless ``clip=False``.
    """
    inputs = as_images(inputs)
    spectrum = _spectrum(inputs)
    noise = tf.random.stateless_uniform(
        (tf.shape(inputs)[0], 1, inputs.shape[1], inputs.shape[2]), seed_pair(seed)
    )
    noise_phase = tf.math.angle(tf.signal.fft2d(tf.cast(noise, tf.complex64)))
    return _from_spectrum(spectrum * tf.exp(tf.complex(0.0, noise_phase)), inputs, clip)


def amplitude_scramble_baseline(inputs: Any, seed: int | None = 0, clip: bool = True) -> tf.Tensor:
    """Phase spectrum kept, amplitude replaced by that of white noise with the same energy.

    The DC term (mean colour) is kept. Clipped to the range of the inputs unless ``clip=False``.
    """
    inputs = as_images(inputs)
    spectrum = _spectrum(inputs)
    noise = tf.random.stateless_uniform(
        (tf.shape(inputs)[0], 1, inputs.shape[1], inputs.shape[2]), seed_pair(seed)
    )
    noise_amp = tf.abs(tf.signal.fft2d(tf.cast(noise - tf.reduce_mean(noise), tf.complex64)))
    amp = tf.abs(spectrum)
    dc = np.zeros((inputs.shape[1], inputs.shape[2]), np.float32)
    dc[0, 0] = 1.0
    dc = tf.constant(dc)
    energy = tf.sqrt(tf.reduce_sum(tf.square(amp * (1 - dc)), axis=(2, 3), keepdims=True))
    noise_energy = tf.sqrt(tf.reduce_sum(tf.square(noise_amp), axis=(2, 3), keepdims=True))
    new_amp = dc * amp + (1 - dc) * noise_amp * energy / (noise_energy + 1e-12)
    phase = tf.math.angle(spectrum)
    spectrum = tf.complex(new_amp * tf.cos(phase), new_amp * tf.sin(phase))
    return _from_spectrum(spectrum, inputs, clip)


def road_baseline(
    inputs: Any, iterations: int = 16, noise_std: float = 0.01, seed: int | None = 0
) -> tf.Tensor:
    """ROAD-style noisy linear imputation, mask-independent.

    ROAD (Rong et al. 2022, *A Consistent and Efficient Evaluation Strategy for Attribution
    Methods*) imputes each removed pixel as the weighted mean of its 8 neighbours (weights 1/6
    for the 4 direct, 1/12 for the diagonal ones) by solving a sparse linear system whose boundary
    is the kept pixels, then adds Gaussian noise. A baseline here does not see the deletion mask,
    so this version runs ``iterations`` Jacobi steps of the same neighbour averaging on the whole
    image (a diffusion that keeps low frequencies and removes fine detail) and adds noise of
    standard deviation ``noise_std`` times the range of the inputs. Clipped to that range.
    """
    inputs = as_images(inputs)
    weights = np.array([[1, 2, 1], [2, 0, 2], [1, 2, 1]], np.float32) / 12.0
    channels = inputs.shape[-1]
    kernel = tf.tile(tf.constant(weights)[:, :, None, None], (1, 1, channels, 1))
    images = inputs
    for _ in range(int(iterations)):
        padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="SYMMETRIC")
        images = tf.nn.depthwise_conv2d(padded, kernel, (1, 1, 1, 1), "VALID")
    vmin, vmax = value_range(inputs)
    noise = tf.random.stateless_normal(tf.shape(inputs), seed_pair(seed))
    return tf.clip_by_value(images + noise_std * (vmax - vmin) * noise, vmin, vmax)


# --------------------------------------------------------------------------- registry

BASELINES: dict[str, BaselineFunction] = {
    "zero": zero_baseline,
    "constant": constant_baseline,
    "mean": mean_baseline,
    "median": median_baseline,
    "blur": blur_baseline,
    "uniform": uniform_baseline,
    "normal": normal_baseline,
    "permutation": permutation_baseline,
    "local_mean": local_mean_baseline,
    "local_permutation": local_permutation_baseline,
    "random_color": random_color_baseline,
    "phase_scramble": phase_scramble_baseline,
    "amplitude_scramble": amplitude_scramble_baseline,
    "road": road_baseline,
}
"""Named baselines; ``"feature_visualization"`` is also accepted where the model is known."""

MODEL_BASELINES = ("feature_visualization",)


def get_baseline(baseline_mode: Any, model: Callable | None = None) -> float | BaselineFunction:
    """Resolve ``baseline_mode`` into a float (constant image) or a callable ``inputs -> images``.

    Parameters
    ----------
    baseline_mode
        A real number, a name of :data:`BASELINES` (or ``"feature_visualization"``, which needs
        ``model``), or any callable ``inputs -> baseline images``.
    model
        The model under study, for the model-dependent baselines.
    """
    if isinstance(baseline_mode, bool):
        raise TypeError(
            "`baseline_mode` must be a number, a baseline name or a callable, got bool."
        )
    if isinstance(baseline_mode, numbers.Real):
        return float(baseline_mode)
    if isinstance(baseline_mode, str):
        if baseline_mode in BASELINES:
            return BASELINES[baseline_mode]
        if baseline_mode == "feature_visualization":
            if model is None:
                raise ValueError("`baseline_mode='feature_visualization'` needs the model.")
            return FeatureVisualizationBaseline(model)
        names = sorted([*BASELINES, *MODEL_BASELINES])
        raise ValueError(f"Unknown `baseline_mode` {baseline_mode!r}; expected one of {names}.")
    if callable(baseline_mode):
        return baseline_mode
    raise TypeError(
        "`baseline_mode` must be a number, a baseline name or a callable inputs -> images, got "
        f"{type(baseline_mode).__name__}."
    )


def compute_baselines(baseline_mode: Any, inputs: tf.Tensor, model: Callable | None = None):
    """Baseline images for ``inputs``: ``(N, ...)``, or ``(1, ...)`` for a constant.

    Raises a ``ValueError`` when a callable returns an array that does not broadcast to the
    inputs' shape.
    """
    resolved = get_baseline(baseline_mode, model)
    if isinstance(resolved, float):
        return tf.fill((1, *inputs.shape[1:]), tf.constant(resolved, tf.float32))
    baselines = tf.cast(tf.convert_to_tensor(resolved(inputs)), tf.float32)
    try:
        baselines = tf.broadcast_to(baselines, tf.shape(inputs))
    except (tf.errors.InvalidArgumentError, ValueError) as error:
        raise ValueError(
            f"`baseline_mode` returned an array of shape {tuple(baselines.shape)}; expected the "
            f"inputs' shape {tuple(inputs.shape)} (or one that broadcasts to it)."
        ) from error
    return baselines


def shared_baseline(baselines: tf.Tensor) -> tf.Tensor:
    """``baselines[:1]`` when every baseline image is bitwise identical, else ``baselines``.

    A baseline shared by all inputs (a constant, the feature-visualization image, any callable
    that ignores its input) then costs one image instead of ``N`` in the metrics: broadcast in
    the perturbations, and one forward pass per distinct target for its score. The comparison is
    on the bits, so the shortcut never changes a value (``-0.0`` and ``0.0`` differ).
    """
    if baselines.shape[0] is None or baselines.shape[0] <= 1:
        return baselines
    bits = tf.bitcast(tf.cast(baselines, tf.float32), tf.int32)
    for start in range(1, baselines.shape[0], 256):  # bounded memory, early exit
        if not bool(tf.reduce_all(tf.equal(bits[start : start + 256], bits[:1]))):
            return baselines
    return baselines[:1]
