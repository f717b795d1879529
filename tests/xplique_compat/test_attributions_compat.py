"""Xplique behaviours of the attribution methods: Rise tuple grids, Sobol with Xplique's
perturbation functions (same maps as Xplique) and its ``masks`` attribute."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import Rise, SobolAttributionMethod
from xplique_lens.attributions.sobol.perturbations import (
    Blurring,
    Inpainting,
    PerImagePerturbation,
    XpliqueAmplitude,
    get_perturbation,
)

from ..numerics import assert_close


@pytest.fixture(scope="module")
def xp_perturbations():
    return pytest.importorskip("xplique.attributions.global_sensitivity_analysis.perturbations")


def test_rise_tuple_grid(tiny_functional_model, pair):
    images, targets = pair
    square = Rise(tiny_functional_model, nb_samples=32, grid_size=4, seed=3)(images, targets)
    as_tuple = Rise(tiny_functional_model, nb_samples=32, grid_size=(4, 4), seed=3)
    assert as_tuple.grid_size == (4, 4)
    assert_close(as_tuple(images, targets), square)
    rect = Rise(tiny_functional_model, nb_samples=32, grid_size=[3, 5], seed=3)
    maps = rect(images, targets).numpy()
    assert rect.grid_size == (3, 5) and maps.shape == (2, 16, 16, 1)
    assert np.all(np.isfinite(maps)) and not np.allclose(maps, square.numpy())


@pytest.mark.parametrize("grid_size, error", [((3, 0), ValueError), ((3, 4, 5), TypeError)])
def test_rise_bad_tuple_grid(tiny_functional_model, grid_size, error):
    with pytest.raises(error, match="grid_size"):
        Rise(tiny_functional_model, grid_size=grid_size)


def test_xplique_perturbation_functions(xp_perturbations):
    x = tf.constant(np.random.default_rng(0).uniform(size=(16, 16, 3)).astype(np.float32))
    masks = tf.random.stateless_uniform((5, 16, 16, 1), [1, 2])
    expected = {
        xp_perturbations.inpainting: Inpainting,
        functools.partial(xp_perturbations.blurring, sigma=3): Blurring,
        xp_perturbations.amplitude: XpliqueAmplitude,
    }
    for function, kind in expected.items():
        native = get_perturbation(function)
        assert type(native) is kind  # TF-native, not the Python adapter
        ours = native(x[None], masks, *native.prepare(x[None]))
        assert_close(ours, function(x)(masks), rel=1e-5)  # Xplique's perturbed images
    assert get_perturbation(functools.partial(xp_perturbations.blurring, sigma=3)).sigma == 3
    # Xplique's `masks`: the stacked design [A; B; C_1..C_d] as (n (d + 2), g, g, channels)
    explainer = SobolAttributionMethod(
        lambda v: v[:, 0, 0],
        grid_size=2,
        nb_design=8,
        perturbation_function=xp_perturbations.blurring,
    )
    assert isinstance(explainer.perturbation_function, Blurring)
    assert explainer.masks.shape == (8 * 6, 2, 2, 1)
    points = tf.math.sobol_sample(8, 8).numpy()  # Xplique's TFSobolSequenceRS layout
    a, b = points[:, :4], points[:, 4:]
    c = [np.where(np.arange(4) == i, b, a) for i in range(4)]  # C_i: A, column i from B
    assert_close(explainer.masks, np.concatenate([a, b, *c]).reshape(-1, 2, 2, 1))


def test_per_image_factory_adapter(tiny_functional_model, pair):
    images, _ = pair
    calls = []

    def halve_outside(x):  # an Xplique-style factory, NumPy inside
        calls.append(np.asarray(x).shape)

        def perturb(masks):
            return np.asarray(x)[None] * (0.5 + 0.5 * np.asarray(masks))

        return perturb

    with pytest.raises(TypeError, match="PerImagePerturbation"):
        get_perturbation(halve_outside)  # a one-argument callable must be wrapped explicitly
    adapter = get_perturbation(PerImagePerturbation(halve_outside))
    assert isinstance(adapter, PerImagePerturbation)
    # input-major pairs: two runs of equal inputs, one factory call each
    inputs = tf.repeat(tf.constant(images), 3, axis=0)
    masks = tf.random.stateless_uniform((6, 16, 16, 1), [0, 1])
    assert_close(adapter(inputs, masks), inputs * (0.5 + 0.5 * masks))
    assert calls == [(16, 16, 3), (16, 16, 3)]
    # inside a compiled graph, as in the Sobol kernel
    graph = tf.function(lambda x, m: adapter(x, m))
    assert_close(graph(inputs, masks), inputs * (0.5 + 0.5 * masks))
    assert len(calls) == 4
    explainer = SobolAttributionMethod(
        tiny_functional_model, grid_size=2, nb_design=8, perturbation_function=adapter
    )
    assert explainer.perturbation_function is adapter


def test_perturbation_with_wrong_arity():
    with pytest.raises(TypeError, match="3 required argument"):
        get_perturbation(lambda x, m, extra: x)
    values = tf.constant([[1.0, -2.0]])
    assert_close(XpliqueAmplitude(2.0)(values, tf.constant([[1.0, 0.0]])), [[1.0, 2.0]])
