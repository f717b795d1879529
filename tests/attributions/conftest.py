"""Fixtures of the attribution tests: a class-balanced subset of the small split."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def planted(small_data):
    """12 images (2 per class), their labels and their planted-part masks (object | pattern)."""
    index = np.concatenate([np.flatnonzero(small_data.labels == c)[:2] for c in range(6)])
    return small_data.images[index], small_data.labels[index], small_data.masks[index]


def positive_share(maps, masks):
    """Mean share of the positive attribution mass that falls on the planted parts."""
    maps = np.asarray(maps, np.float32)
    maps = maps[..., 0] if maps.ndim == 4 else maps
    positive = np.maximum(maps, 0.0)
    return float(np.mean((positive * masks).sum((1, 2)) / (positive.sum((1, 2)) + 1e-12)))
