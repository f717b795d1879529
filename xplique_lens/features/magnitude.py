"""Fourier magnitudes for MACO: the shipped natural-image default, your own data, or 1/f.

MACO fixes the magnitude of the image spectrum to an average spectrum of natural images and
optimises only the phase. A magnitude here is a ``(C, H, W // 2 + 1)`` float32 array laid out
like ``tf.signal.rfft2d`` of channels-first images; for RGB it is the spectrum of the
*decorrelated* colour channels (see ``parametrisations.decorrelate_colors``), because
the MACO parametrisation re-correlates colours after the inverse transform.

The default magnitude (``data/natural_magnitude_*.npy``) is computed by
``xplique_lens/features/data/make_magnitude.py`` from the natural photographs that ship inside
installed packages (scikit-learn's ``china.jpg`` and ``flower.jpg``, matplotlib's
``grace_hopper.jpg``). It is a proxy for the ImageNet spectrum of the paper; for real models
prefer :func:`magnitude_from_images` on a few hundred images of their training distribution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from scipy import ndimage

from ..commons.validation import check_positive_int, to_float_tensor
from .parametrisations import decorrelate_colors, spectrum_shape

DATA_DIR = Path(__file__).with_name("data")
DEFAULT_RGB_PATH = DATA_DIR / "natural_magnitude_rgb.npy"
DEFAULT_GRAY_PATH = DATA_DIR / "natural_magnitude_gray.npy"


def _fill_dc(magnitude: np.ndarray) -> np.ndarray:
    """Give the constant component the magnitude of the lowest non-zero frequency.

    Magnitudes are computed on mean-free images (otherwise the mean colour dominates the
    spectrum); a non-zero DC bin lets the phase choose a global colour shift of natural size.
    """
    magnitude = magnitude.copy()
    neighbours = [magnitude[:, 0, 1]]
    if magnitude.shape[1] > 1:
        neighbours.append(magnitude[:, 1, 0])
    magnitude[:, 0, 0] = np.max(neighbours, axis=0)
    return magnitude


def resample_magnitude(magnitude: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample a magnitude to the spectrum of a ``height x width`` image, by frequency.

    The source ``(C, h, w // 2 + 1)`` is read as a function of the frequency ``(fy, fx)`` in
    cycles per pixel (``w`` taken even) and interpolated bilinearly at the target frequencies,
    so non-square targets keep the right frequency content along each axis (resizing the array
    as an image, as Xplique does, stretches the frequencies of non-square images).
    """
    magnitude = np.asarray(magnitude, dtype=np.float32)
    channels, src_h, src_cols = magnitude.shape
    src_w = 2 * (src_cols - 1)
    if (src_h, src_cols) == spectrum_shape(height, width):
        return magnitude.copy()
    shifted = np.fft.fftshift(magnitude, axes=1)  # rows: -h/2 .. h/2 - 1
    freq_y = np.fft.fftfreq(height)[:, None]
    freq_x = np.fft.rfftfreq(width)[None, :]
    rows = np.broadcast_to(freq_y * src_h + src_h // 2, (height, freq_x.shape[1]))
    cols = np.broadcast_to(freq_x * src_w, (height, freq_x.shape[1]))
    out = np.stack(
        [
            ndimage.map_coordinates(shifted[c], [rows, cols], order=1, mode="nearest")
            for c in range(channels)
        ]
    )
    return out.astype(np.float32)


def one_over_f_magnitude(
    height: int, width: int, channels: int = 3, decay_power: float = 1.0
) -> np.ndarray:
    """Analytic ``1 / f ** decay_power`` magnitude (the spectrum law of natural images).

    Parameters
    ----------
    height, width
        Image size.
    channels
        Number of channels.
    decay_power
        Exponent of the power law (about 1 for natural images).

    Returns
    -------
    magnitude
        ``(channels, height, width // 2 + 1)`` float32.
    """
    height = check_positive_int(height, "height")
    width = check_positive_int(width, "width")
    channels = check_positive_int(channels, "channels")
    freq_y = np.fft.fftfreq(height)[:, None]
    freq_x = np.fft.rfftfreq(width)[None, :]
    frequencies = np.sqrt(freq_x**2 + freq_y**2)
    magnitude = 1.0 / np.maximum(frequencies, 1.0 / max(height, width)) ** float(decay_power)
    return np.repeat(magnitude[None], channels, axis=0).astype(np.float32)


def default_magnitude(height: int, width: int, channels: int = 3) -> np.ndarray:
    """The shipped natural-image magnitude, resampled to ``height x width``.

    RGB uses the decorrelated-colour spectrum; any other number of channels uses the luminance
    spectrum for every channel.
    """
    path = DEFAULT_RGB_PATH if channels == 3 else DEFAULT_GRAY_PATH
    magnitude = np.load(path)
    if channels != 3:
        magnitude = np.repeat(magnitude[:1], channels, axis=0)
    return resample_magnitude(magnitude, height, width)


def _iterate_images(images_or_dataset, batch_size: int):
    if isinstance(images_or_dataset, tf.data.Dataset):
        for element in images_or_dataset:
            batch = element[0] if isinstance(element, tuple | list) else element
            batch = to_float_tensor(batch, "images_or_dataset")
            if batch.shape.rank == 3:
                batch = batch[None]
            yield batch
        return
    images = to_float_tensor(images_or_dataset, "images_or_dataset")
    if images.shape.rank == 3:
        images = images[None]
    for start in range(0, int(images.shape[0]), batch_size):
        yield images[start : start + batch_size]


@tf.function(reduce_retracing=True)
def _batch_magnitude_sum(images: tf.Tensor, decorrelate: bool) -> tf.Tensor:
    if decorrelate:
        images = decorrelate_colors(images)
    images = images - tf.reduce_mean(images, axis=[1, 2], keepdims=True)
    spectrum = tf.signal.rfft2d(tf.transpose(images, [0, 3, 1, 2]))
    return tf.reduce_sum(tf.abs(spectrum), axis=0)


def magnitude_from_images(
    images_or_dataset, decorrelate: bool | None = None, batch_size: int = 64
) -> np.ndarray:
    """Average Fourier magnitude of your own images (recommended: a few hundred training images).

    Parameters
    ----------
    images_or_dataset
        ``(N, H, W, C)`` float images (numpy or tensor), or a ``tf.data.Dataset`` of images or
        of ``(images, labels)``, batched or not (iterated once). Use the value range the model
        sees; only relative magnitudes matter.
    decorrelate
        Take the spectrum of decorrelated colours (default: ``True`` for 3 channels), matching
        the colour re-correlation of the MACO parametrisation. Xplique computes the spectrum of
        the raw RGB channels and still re-correlates them.
    batch_size
        Images per FFT batch (memory bound).

    Returns
    -------
    magnitude
        ``(C, H, W // 2 + 1)`` float32, usable as ``maco(..., magnitude=...)`` (resampled there
        if the image size differs).
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    total, count, shape = None, 0, None
    for batch in _iterate_images(images_or_dataset, batch_size):
        if batch.shape.rank != 4:
            raise ValueError(
                f"`images_or_dataset` must hold images (N, H, W, C), got shape {batch.shape}."
            )
        if shape is None:
            shape = tuple(batch.shape[1:])
            if decorrelate is None:
                decorrelate = shape[-1] == 3
            if decorrelate and shape[-1] != 3:
                raise ValueError(f"`decorrelate=True` needs 3 channels, got {shape[-1]}.")
        elif tuple(batch.shape[1:]) != shape:
            raise ValueError(
                f"`images_or_dataset` images must share one shape, got {shape} and "
                f"{tuple(batch.shape[1:])}."
            )
        batch_sum = _batch_magnitude_sum(batch, bool(decorrelate))
        total = batch_sum if total is None else total + batch_sum
        count += int(batch.shape[0])
    if count == 0:
        raise ValueError("`images_or_dataset` is empty: expected at least one image.")
    return _fill_dc((total / count).numpy().astype(np.float32))
