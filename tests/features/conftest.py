"""Fixtures of the feature-visualization tests: tiny models with planted units."""

import keras
import numpy as np
import pytest

PERIOD = 4


def stripes_kernel(size: int, period: int, vertical: bool) -> np.ndarray:
    """A zero-mean cosine grating: horizontal stripes (varying along y) or vertical ones."""
    coords = np.arange(size) - (size - 1) / 2
    wave = np.cos(2 * np.pi * coords / period)
    kernel = np.tile(wave[None, :], (size, 1)) if vertical else np.tile(wave[:, None], (1, size))
    return (kernel - kernel.mean()).astype(np.float32)


@pytest.fixture(scope="session")
def planted_model():
    """Grayscale 32x32 model: conv "planted" with 2 filters (0: horizontal, 1: vertical stripes
    of period 4), ReLU, global average pooling."""
    inputs = keras.Input((32, 32, 1))
    conv = keras.layers.Conv2D(2, 8, activation="relu", use_bias=False, name="planted")
    x = conv(inputs)
    outputs = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, outputs)
    kernel = np.stack(
        [stripes_kernel(8, PERIOD, vertical=False), stripes_kernel(8, PERIOD, vertical=True)], -1
    )
    conv.set_weights([kernel[:, :, None, :]])
    return model
