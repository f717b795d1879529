"""Image parametrisations: pure functions from optimised variables to images.

Two parametrisations are provided, both differentiable and batched:

- :func:`maco_image` (Fel et al. 2023, MACO): the image is the inverse Fourier transform of a
  *fixed* magnitude and an optimised phase, ``irfft2(magnitude * exp(i * phase))``;
- :func:`fourier_image` (Olah et al. 2017, "Feature Visualization", Distill): the whole complex
  spectrum is optimised, pre-scaled by ``1 / f ** decay`` (the baseline that MACO beats).

Both are pure functions of tensors (no state, no randomness), so other tools can build on them:
e.g. a *feature-visualization baseline* with a learnable magnitude gain is simply
``maco_image(phase, magnitude * tf.exp(log_gain), values_range)`` with ``log_gain`` a
``tf.Variable`` optimised next to (or instead of) ``phase``.

References
----------
Fel, Boissin, Boutin, Picard, Novello, Colin, Linsley, Rousseau, Cadène, Goetschalckx,
Gardes, Serre (2023). *Unlocking Feature Visualization for Deeper Networks with MAgnitude
Constrained Optimization.* NeurIPS. https://arxiv.org/abs/2306.06805
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

#: Square root of ImageNet's colour covariance (Lucid / Xplique): maps decorrelated colour
#: channels to RGB (``rgb = decorrelated @ COLOR_CORRELATION``).
COLOR_CORRELATION = np.array(
    [
        [0.56282854, 0.58447580, 0.58447580],
        [0.19482528, 0.00000000, -0.19482528],
        [0.04329450, -0.10823626, 0.06494176],
    ],
    dtype=np.float32,
)


def recorrelate_colors(images: tf.Tensor) -> tf.Tensor:
    """Map decorrelated colour channels ``(..., 3)`` to RGB with :data:`COLOR_CORRELATION`."""
    return tf.tensordot(images, tf.constant(COLOR_CORRELATION), axes=[[-1], [0]])


def decorrelate_colors(images: np.ndarray | tf.Tensor) -> tf.Tensor:
    """Inverse of :func:`recorrelate_colors`: RGB ``(..., 3)`` to decorrelated channels."""
    inverse = np.linalg.inv(COLOR_CORRELATION.astype(np.float64)).astype(np.float32)
    return tf.tensordot(tf.cast(images, tf.float32), tf.constant(inverse), axes=[[-1], [0]])


def spectrum_shape(height: int, width: int) -> tuple[int, int]:
    """Real-FFT spectrum shape of a ``height x width`` image: ``(height, width // 2 + 1)``."""
    return (int(height), int(width) // 2 + 1)


def _standardize(tensor: tf.Tensor, axes: list[int]) -> tf.Tensor:
    mean, variance = tf.nn.moments(tensor, axes=axes, keepdims=True)
    return (tensor - mean) / (tf.sqrt(variance) + 1e-5)


def _to_range(images: tf.Tensor, values_range: tuple[float, float]) -> tf.Tensor:
    """Decorrelated, standardised channels -> colours -> sigmoid -> ``values_range``."""
    if images.shape[-1] == 3:
        images = recorrelate_colors(images)
    low, high = float(min(values_range)), float(max(values_range))
    return tf.nn.sigmoid(images) * (high - low) + low


def maco_image(
    phase: tf.Tensor,
    magnitude: tf.Tensor,
    values_range: tuple[float, float] = (0.0, 1.0),
    width: int | None = None,
    standardize: bool = True,
) -> tf.Tensor:
    """MACO image from a phase and a fixed magnitude.

    ``image = sigmoid(recorrelate(standardise(irfft2(magnitude * exp(i * standardise(phase))))))``
    rescaled to ``values_range``. Phase and image are standardised *per image* (Xplique
    standardises over the whole batch, which couples the objectives of a batch).

    Parameters
    ----------
    phase
        ``(B, C, H, W // 2 + 1)`` real phase of the spectrum (the optimised variable).
    magnitude
        ``(C, H, W // 2 + 1)`` or ``(B, C, H, W // 2 + 1)`` non-negative magnitude.
    values_range
        ``(low, high)`` of the returned pixels.
    width
        Width of the image (default ``2 * (W // 2)``, i.e. an even width).
    standardize
        Standardise the image before the colours and the sigmoid (MACO). ``False`` keeps the
        amplitude given by the magnitude (``irfft2`` of a :func:`magnitude_from_images` of the
        same size has the amplitude of those images), so that a learnable magnitude gain
        changes the contrast, e.g. for a feature-visualization baseline.

    Returns
    -------
    images
        ``(B, H, W, C)`` float32 images in ``values_range``.
    """
    phase = _standardize(phase, axes=[1, 2, 3])
    magnitude = tf.cast(magnitude, tf.float32)
    spectrum = tf.complex(tf.cos(phase) * magnitude, tf.sin(phase) * magnitude)
    fft_length = None if width is None else [int(phase.shape[2]), int(width)]
    images = tf.signal.irfft2d(spectrum, fft_length=fft_length)  # (B, C, H, W)
    images = tf.transpose(images, [0, 2, 3, 1])
    if standardize:
        images = _standardize(images, axes=[1, 2, 3])
    return _to_range(images, values_range)


def fourier_scale(height: int, width: int, decay_power: float = 0.85) -> np.ndarray:
    """Lucid's spectrum scale ``sqrt(H * W) / max(f, 1 / max(H, W)) ** decay``, ``(H, W//2+1)``."""
    freq_y = np.fft.fftfreq(height)[:, None]
    freq_x = np.fft.rfftfreq(width)[None, :]
    frequencies = np.sqrt(freq_x**2 + freq_y**2)
    scale = 1.0 / np.maximum(frequencies, 1.0 / max(height, width)) ** decay_power
    return (scale * np.sqrt(height * width)).astype(np.float32)


def fourier_image(
    buffer: tf.Tensor,
    scale: tf.Tensor,
    values_range: tuple[float, float] = (0.0, 1.0),
    width: int | None = None,
) -> tf.Tensor:
    """Fourier-preconditioned image (Olah et al. 2017): the whole spectrum is optimised.

    Parameters
    ----------
    buffer
        ``(2, B, C, H, W // 2 + 1)`` real and imaginary parts of the spectrum.
    scale
        ``(H, W // 2 + 1)`` spectrum scale, see :func:`fourier_scale`.
    values_range
        ``(low, high)`` of the returned pixels.
    width
        Width of the image (default: even width ``2 * (W // 2)``).

    Returns
    -------
    images
        ``(B, H, W, C)`` float32 images in ``values_range``.
    """
    scale = tf.cast(scale, tf.float32)
    spectrum = tf.complex(buffer[0] * scale, buffer[1] * scale)
    fft_length = None if width is None else [int(buffer.shape[3]), int(width)]
    images = tf.signal.irfft2d(spectrum, fft_length=fft_length)
    images = tf.transpose(images, [0, 2, 3, 1]) / 4.0
    return _to_range(images, values_range)
