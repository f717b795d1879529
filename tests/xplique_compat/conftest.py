"""Fixtures of the Xplique-compatibility tests: two tiny images for the tiny model."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def pair():
    """Two 16x16 RGB images in [0, 1] and one-hot targets over the tiny model's 3 outputs."""
    images = np.random.default_rng(3).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    return images, np.eye(3, dtype=np.float32)[[0, 2]]
