"""Parametrisations and magnitudes: analytic checks."""

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.features import (
    decorrelate_colors,
    default_magnitude,
    fourier_image,
    fourier_scale,
    maco_image,
    magnitude_from_images,
    one_over_f_magnitude,
    recorrelate_colors,
    resample_magnitude,
)

from ..numerics import assert_close


def test_maco_image_has_the_fixed_magnitude(rng):
    """Inverting the sigmoid gives a standardised image whose spectrum magnitude is the given
    one, up to a global scale (bins whose imaginary part irfft drops are excluded)."""
    height, width = 24, 20
    magnitude = rng.uniform(0.5, 2.0, size=(1, height, width // 2 + 1)).astype(np.float32)
    magnitude[:, 0, 0] = 0.0
    phase = rng.normal(size=(2, 1, height, width // 2 + 1)).astype(np.float32)
    images = maco_image(phase, magnitude, values_range=(0, 1), width=width).numpy()
    assert images.shape == (2, height, width, 1)
    logits = np.log(images / (1 - images))
    spectrum = np.abs(np.fft.rfft2(logits[..., 0]))
    inner = np.zeros((height, width // 2 + 1), bool)
    inner[1 : height // 2, 1 : width // 2] = True
    ratio = spectrum[:, inner] / magnitude[0][inner]
    np.testing.assert_allclose(
        ratio, np.broadcast_to(ratio.mean(axis=1, keepdims=True), ratio.shape), rtol=1e-3
    )
    # a different phase gives a different image with the same magnitude
    assert np.abs(images[0] - images[1]).mean() > 0.05


def test_value_ranges_and_colours(rng):
    phase = rng.normal(size=(1, 3, 16, 9)).astype(np.float32)
    image = maco_image(phase, np.ones((3, 16, 9), np.float32), values_range=(-1, 1)).numpy()
    assert image.shape == (1, 16, 16, 3) and image.min() > -1 and image.max() < 1
    buffer = rng.normal(size=(2, 1, 3, 16, 9)).astype(np.float32) * 0.01
    image = fourier_image(buffer, fourier_scale(16, 16), values_range=(2, 5)).numpy()
    assert image.min() > 2 and image.max() < 5
    colours = rng.uniform(size=(4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(recorrelate_colors(decorrelate_colors(colours)), colours, atol=1e-5)


def test_magnitude_from_images_finds_a_grating():
    """A grating of 5 cycles along x: the magnitude peaks at column 5 of row 0."""
    xx = np.arange(40)[None, :] * np.ones((32, 1))
    grating = (0.5 + 0.4 * np.cos(2 * np.pi * 5 * xx / 40)).astype(np.float32)
    images = np.repeat(grating[None, :, :, None], 3, axis=0)
    magnitude = magnitude_from_images(images)
    assert magnitude.shape == (1, 32, 21)
    body = magnitude[0].copy()
    body[0, 0] = 0  # the filled-in constant component
    assert np.unravel_index(body.argmax(), body.shape) == (0, 5)
    # a dataset gives the same as the array, batched or not
    dataset = tf.data.Dataset.from_tensor_slices((images, np.zeros(3))).batch(2)
    assert_close(magnitude_from_images(dataset), magnitude)
    with pytest.raises(ValueError, match="empty"):
        magnitude_from_images(tf.data.Dataset.from_tensor_slices(images).take(0))
    with pytest.raises(TypeError, match="images_or_dataset"):
        magnitude_from_images((images * 255).astype(np.uint8))


def test_resampling_follows_frequency():
    """Resampling the 1/f law of a 64x64 image to 48x80 gives the 1/f law of 48x80 (up to scale)
    away from the lowest frequencies."""
    source = one_over_f_magnitude(64, 64, channels=1)
    target = resample_magnitude(source, 48, 80)
    expected = one_over_f_magnitude(48, 80, channels=1)
    assert target.shape == expected.shape == (1, 48, 41)
    freq = np.sqrt(np.fft.fftfreq(48)[:, None] ** 2 + np.fft.rfftfreq(80)[None] ** 2)
    band = (freq > 0.08) & (freq < 0.45)
    ratio = target[0][band] / expected[0][band]
    assert ratio.std() / ratio.mean() < 0.05


def test_default_magnitude_shapes_and_law():
    rgb = default_magnitude(50, 70)
    gray = default_magnitude(64, 64, channels=1)
    assert rgb.shape == (3, 50, 36) and gray.shape == (1, 64, 33)
    assert np.all(rgb >= 0) and np.isfinite(rgb).all()
    # natural images: energy falls with frequency (slope of log-magnitude vs log-frequency ~ -1)
    freq = np.sqrt(np.fft.fftfreq(64)[:, None] ** 2 + np.fft.rfftfreq(64)[None] ** 2)
    mask = (freq > 0.03) & (freq < 0.45)
    slope = np.polyfit(np.log(freq[mask]), np.log(gray[0][mask]), 1)[0]
    assert -2.0 < slope < -0.6


def test_unstandardized_image_follows_a_magnitude_gain(rng):
    """``standardize=False`` (for a learnable magnitude gain): doubling the magnitude doubles
    the image before the sigmoid; the standardised image does not change."""
    phase = rng.normal(size=(1, 1, 16, 9)).astype(np.float32)
    magnitude = rng.uniform(0.5, 4.0, size=(1, 16, 9)).astype(np.float32)

    def logit(m, standardize):
        image = maco_image(phase, m, (0, 1), standardize=standardize).numpy()
        return np.log(image / (1 - image))

    np.testing.assert_allclose(
        logit(2 * magnitude, False), 2 * logit(magnitude, False), rtol=1e-3, atol=1e-4
    )
    np.testing.assert_allclose(logit(2 * magnitude, True), logit(magnitude, True), atol=1e-3)
