"""Occlusion and Rise against ground truth, Xplique, and the planted parts."""

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import Occlusion, Rise

from ..numerics import assert_close
from .conftest import positive_share


def test_occlusion_linear_codes_exact():
    w = tf.constant([[1.0], [-2.0], [3.0], [0.5]])
    x = np.random.default_rng(0).random((3, 4)).astype(np.float32)
    maps = Occlusion(lambda v: tf.matmul(v, w), patch_size=1, patch_stride=1)(x, np.zeros(3, int))
    np.testing.assert_allclose(maps, x * w.numpy()[:, 0], rtol=1e-5)  # drop = x_i w_i


def test_occlusion_matches_xplique(reference_model, small_data):
    xplique = pytest.importorskip("xplique.attributions")
    images, labels = small_data.images[:2], small_data.one_hot()[:2]
    kw = {"patch_size": 8, "patch_stride": 6, "occlusion_value": 0.5, "batch_size": 50}
    assert_close(
        Occlusion(reference_model, **kw)(images, labels),
        xplique.Occlusion(reference_model, **kw)(images, labels),
        rel=1e-3,
    )


def test_rise_linear_codes():
    # f(x * m) = sum_i w_i x_i m_i: E[f | m_i = 1] ~ w_i x_i + p * sum_{j != i} w_j x_j
    w = tf.constant([[2.0], [0.0], [-1.0]])
    x = np.ones((1, 3), np.float32)
    maps = Rise(lambda v: tf.matmul(v, w), nb_samples=4000, batch_size=1000)(x, np.zeros(1, int))
    expected = w.numpy()[:, 0] + 0.5 * (w.numpy().sum() - w.numpy()[:, 0])
    np.testing.assert_allclose(maps[0], expected, atol=0.08)


@pytest.mark.parametrize(
    "make",
    [
        lambda m: Occlusion(m, patch_size=8, patch_stride=4, batch_size=256),
        lambda m: Rise(m, nb_samples=512, grid_size=8, batch_size=256),
    ],
    ids=["occlusion", "rise"],
)
def test_mass_on_planted_parts(reference_model, planted, make):
    images, labels, masks = planted
    maps = make(reference_model)(images, labels)
    assert maps.shape == (len(images), 64, 64, 1)
    if isinstance(make(reference_model), Rise):
        # RISE maps are an average score, offset by the mean score: centre before measuring
        maps = maps - tf.reduce_mean(maps, axis=(1, 2, 3), keepdims=True)
    share, area = positive_share(maps, masks), float(masks.mean())
    assert share > 2.0 * area, (share, area)


def test_rise_seed_and_permutation(tiny_functional_model):
    x = np.random.default_rng(3).random((4, 16, 16, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 0])
    explainer = Rise(tiny_functional_model, nb_samples=64, grid_size=4, batch_size=50, seed=1)
    maps = explainer(x, y).numpy()
    np.testing.assert_array_equal(maps, explainer(x, y).numpy())
    assert not np.allclose(
        maps, Rise(tiny_functional_model, nb_samples=64, grid_size=4, seed=2)(x, y)
    )
    perm = np.array([2, 0, 3, 1])
    np.testing.assert_allclose(explainer(x[perm], y[perm]), maps[perm], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "cls, kwargs, error",
    [
        (Occlusion, {"patch_size": 0}, ValueError),
        (Occlusion, {"patch_stride": (2, 2, 2)}, ValueError),
        (Rise, {"nb_samples": 0}, ValueError),
        (Rise, {"preservation_probability": 1.5}, ValueError),
    ],
)
def test_bad_settings(tiny_functional_model, cls, kwargs, error):
    with pytest.raises(error):
        cls(tiny_functional_model, **kwargs)


def test_patch_larger_than_image(tiny_functional_model):
    with pytest.raises(ValueError, match="patch_size"):
        Occlusion(tiny_functional_model, patch_size=32)(np.zeros((1, 16, 16, 3), np.float32), [0])
