"""GradientInput, IntegratedGradients, SmoothGrad / SquareGrad / VarGrad against ground truth."""

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import (
    GradientInput,
    IntegratedGradients,
    SmoothGrad,
    SquareGrad,
    VarGrad,
)

from ..numerics import assert_close
from .conftest import positive_share

W = tf.constant([[1.0, -2.0], [3.0, 0.5], [0.0, 1.0]])


def linear(x):
    return tf.matmul(x, W)


def quadratic(x):  # f_0(x) = sum x^2 w: gradient 2 x w
    return tf.matmul(tf.square(x), W)


def test_linear_codes_are_exact():
    # concept-space use: h linear on codes (n, r) -> logits
    x = np.random.default_rng(0).random((5, 3)).astype(np.float32)
    w0 = W.numpy()[:, 0]
    np.testing.assert_allclose(GradientInput(linear)(x, np.zeros(5, int)), x * w0, rtol=1e-6)
    ig = IntegratedGradients(linear, steps=7, batch_size=4, baseline_value=0.5)(x, np.zeros(5, int))
    np.testing.assert_allclose(ig, (x - 0.5) * w0, rtol=1e-5, atol=1e-6)
    smooth = SmoothGrad(linear, nb_samples=8, noise=0.3, batch_size=3)(x, np.zeros(5, int))
    np.testing.assert_allclose(smooth, np.tile(w0, (5, 1)), rtol=1e-5)
    var = VarGrad(linear, nb_samples=8, noise=0.3)(x, np.zeros(5, int))
    np.testing.assert_allclose(var, 0.0, atol=1e-6)


def test_integrated_gradients_quadratic_and_completeness(reference_model, small_data):
    x = np.random.default_rng(1).random((4, 3)).astype(np.float32)
    # exact path integral of 2 t x w from 0 to 1 is x w; times x: x^2 w (trapezoid is exact)
    ig = IntegratedGradients(quadratic, steps=5)(x, np.zeros(4, int))
    np.testing.assert_allclose(ig, x**2 * W.numpy()[:, 0], rtol=1e-5)
    images, labels = small_data.images[:4], small_data.labels[:4]
    maps = IntegratedGradients(reference_model, reducer="sum", steps=64, batch_size=100)(
        images, labels
    ).numpy()
    logits = reference_model(images).numpy()[np.arange(4), labels]
    base = reference_model(np.zeros_like(images)).numpy()[np.arange(4), labels]
    # completeness: attributions sum to f(x) - f(0), up to the quadrature error
    np.testing.assert_allclose(maps.sum((1, 2, 3)), logits - base, rtol=0.05, atol=0.05)


def test_smoothgrad_statistics_relations():
    x = np.random.default_rng(2).random((3, 3)).astype(np.float32)
    kw = {"nb_samples": 16, "noise": 0.5, "seed": 4, "batch_size": 7}
    y = np.zeros(3, int)
    # gradient of the quadratic is 2 (x + eps) w: mean, mean square and variance are analytic
    # functions of the (shared, seeded) noise draws
    eps = 0.5 * tf.random.stateless_normal((16, 3), seed=[4, 0]).numpy()
    grads = 2 * (x[:, None] + eps[None]) * W.numpy()[:, 0]
    np.testing.assert_allclose(SmoothGrad(quadratic, **kw)(x, y), grads.mean(1), rtol=1e-5)
    np.testing.assert_allclose(SquareGrad(quadratic, **kw)(x, y), (grads**2).mean(1), rtol=1e-5)
    np.testing.assert_allclose(
        VarGrad(quadratic, **kw)(x, y), grads.var(1, ddof=1), rtol=1e-4, atol=1e-6
    )


def test_cross_check_xplique(reference_model, small_data):
    xplique = pytest.importorskip("xplique.attributions")
    images, labels = small_data.images[:3], small_data.one_hot()[:3]
    assert_close(
        GradientInput(reference_model)(images, labels),
        xplique.GradientInput(reference_model)(images, labels),
        rel=1e-4,
    )
    assert_close(
        IntegratedGradients(reference_model, steps=10)(images, labels),
        xplique.IntegratedGradients(reference_model, steps=10)(images, labels),
        rel=1e-3,
    )


def test_gradient_input_mass_on_planted_parts(reference_model, planted):
    images, labels, masks = planted
    maps = GradientInput(reference_model)(images, labels)
    assert maps.shape == (len(images), 64, 64, 1)
    share, area = positive_share(maps, masks), float(masks.mean())
    assert share > 3.0 * area, (share, area)


@pytest.mark.parametrize("cls", [SmoothGrad, IntegratedGradients])
def test_permutation_and_seed(reference_model, small_data, cls):
    images, labels = small_data.images[:5], small_data.labels[:5]
    kwargs = {"nb_samples": 4} if cls is SmoothGrad else {"steps": 4}
    explainer = cls(reference_model, batch_size=6, **kwargs)
    maps = explainer(images, labels).numpy()
    np.testing.assert_array_equal(maps, explainer(images, labels).numpy())
    perm = np.array([4, 2, 0, 1, 3])
    np.testing.assert_allclose(
        explainer(images[perm], labels[perm]), maps[perm], rtol=1e-4, atol=1e-7
    )


@pytest.mark.parametrize(
    "cls, kwargs, error",
    [
        (IntegratedGradients, {"steps": 1}, ValueError),
        (SmoothGrad, {"nb_samples": 0}, ValueError),
        (VarGrad, {"nb_samples": 1}, ValueError),
        (SmoothGrad, {"noise": -1.0}, ValueError),
        (GradientInput, {"reducer": "median"}, ValueError),
    ],
)
def test_bad_settings(tiny_functional_model, cls, kwargs, error):
    with pytest.raises(error):
        cls(tiny_functional_model, **kwargs)
