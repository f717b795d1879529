"""Baselines: shape, range, determinism, and the property each one is defined by."""

import functools

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.metrics.baselines import (
    BASELINES,
    FeatureVisualizationBaseline,
    compute_baselines,
    get_baseline,
    local_mean_baseline,
    local_permutation_baseline,
    mean_baseline,
    permutation_baseline,
    phase_scramble_baseline,
)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(0.1, 0.9, size=(3, 20, 20, 3)).astype("float32")


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_shape_range_determinism(name, images):
    fn = BASELINES[name]
    out = fn(images).numpy()
    assert out.shape == images.shape and out.dtype == np.float32
    assert np.isfinite(out).all()
    if name != "constant":  # the constant is 0.5, inside the range anyway
        assert out.min() >= images.min() - 1e-5 or name == "zero"
        assert out.max() <= images.max() + 1e-5
    np.testing.assert_array_equal(out, fn(images).numpy())
    assert not np.array_equal(out, images)


@pytest.mark.parametrize(
    "name",
    [
        "uniform",
        "normal",
        "permutation",
        "local_permutation",
        "random_color",
        "phase_scramble",
        "amplitude_scramble",
        "road",
    ],
)
def test_random_baselines_follow_their_seed(name, images):
    fn = BASELINES[name]
    np.testing.assert_array_equal(fn(images, seed=1).numpy(), fn(images, seed=1).numpy())
    assert not np.allclose(fn(images, seed=1).numpy(), fn(images, seed=2).numpy())


def test_permutations_keep_the_pixels(images):
    flat = images.reshape(3, -1, 3)
    out = permutation_baseline(images).numpy().reshape(3, -1, 3)
    for n in range(3):  # same set of pixels (colour triplets kept together)
        np.testing.assert_array_equal(
            np.sort(out[n].view("f4,f4,f4"), axis=0), np.sort(flat[n].view("f4,f4,f4"), axis=0)
        )
    local = local_permutation_baseline(images, patch_size=5).numpy()
    assert not np.array_equal(local, images)
    blocks = lambda a: a.reshape(3, 4, 5, 4, 5, 3).transpose(0, 1, 3, 2, 4, 5).reshape(3, 16, 25, 3)  # noqa: E731
    np.testing.assert_array_equal(np.sort(blocks(local), 2), np.sort(blocks(images), 2))


def test_means(images):
    out = mean_baseline(images).numpy()
    np.testing.assert_allclose(
        out, np.broadcast_to(images.mean((1, 2), keepdims=True), out.shape), atol=1e-6
    )
    local = local_mean_baseline(images, patch_size=7).numpy()  # 7 does not divide 20
    np.testing.assert_allclose(
        local[:, :7, :7],
        np.broadcast_to(images[:, :7, :7].mean((1, 2), keepdims=True), (3, 7, 7, 3)),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        local[:, 14:, 14:],
        np.broadcast_to(images[:, 14:, 14:].mean((1, 2), keepdims=True), (3, 6, 6, 3)),
        atol=1e-6,
    )


def test_blur_keeps_constant_images_and_smooths():
    flat = np.full((1, 16, 16, 2), 0.3, "float32")
    np.testing.assert_allclose(BASELINES["blur"](flat).numpy(), flat, atol=1e-6)
    noise = np.random.default_rng(1).uniform(size=(1, 32, 32, 1)).astype("float32")
    assert BASELINES["blur"](noise, sigma=2.0).numpy().std() < 0.3 * noise.std()


def test_phase_scramble_keeps_the_amplitude_spectrum():
    image = np.random.default_rng(2).uniform(size=(1, 16, 16, 1)).astype("float32")
    out = phase_scramble_baseline(image, seed=3, clip=False).numpy()
    amp = lambda a: np.abs(np.fft.fft2(a[0, ..., 0]))  # noqa: E731
    np.testing.assert_allclose(amp(out), amp(image), rtol=1e-3, atol=1e-3)
    assert np.corrcoef(out.ravel(), image.ravel())[0, 1] < 0.5


def test_random_color_is_constant_per_image(images):
    out = BASELINES["random_color"](images).numpy()
    assert np.ptp(out.reshape(3, -1, 3), axis=1).max() == 0.0


def test_resolution_and_errors(images):
    assert get_baseline(0) == 0.0
    assert get_baseline("blur") is BASELINES["blur"]
    partial = functools.partial(BASELINES["uniform"], seed=4)
    np.testing.assert_array_equal(
        compute_baselines(partial, tf.constant(images)), BASELINES["uniform"](images, seed=4)
    )
    assert compute_baselines(0.2, tf.constant(images)).shape == (1, 20, 20, 3)
    with pytest.raises(ValueError, match="Unknown `baseline_mode` 'gaussian'"):
        get_baseline("gaussian")
    with pytest.raises(ValueError, match="needs the model"):
        get_baseline("feature_visualization")
    with pytest.raises(TypeError, match="baseline_mode"):
        get_baseline(None)
    with pytest.raises(ValueError, match="inputs"):
        BASELINES["blur"](images[0])


def test_feature_visualization_baseline_is_cached_and_silences_features(
    reference_model, small_data
):
    from xplique_lens.commons import split_model

    x = small_data.images[:4]
    fv = FeatureVisualizationBaseline(reference_model, nb_steps=32)
    out = fv(x)
    assert out.shape == x.shape
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0
    again = get_baseline("feature_visualization", reference_model)
    assert FeatureVisualizationBaseline(reference_model, nb_steps=32).image(
        (64, 64, 3)
    ) is fv.image((64, 64, 3))
    assert again(x).shape == x.shape
    g, _ = split_model(reference_model, -2)
    act = lambda a: float(tf.reduce_mean(tf.abs(g(a))))  # noqa: E731
    start = FeatureVisualizationBaseline(reference_model, nb_steps=0)(x[:1])
    assert act(out[:1]) < 0.9 * act(start) and act(out[:1]) < act(x)


def test_shared_baseline_collapses_only_bitwise_identical_images(images):
    from xplique_lens.metrics.baselines import shared_baseline

    same = tf.constant(np.repeat(images[:1], 3, axis=0))
    assert tuple(shared_baseline(same).shape) == (1, 20, 20, 3)
    np.testing.assert_array_equal(shared_baseline(same)[0], images[0])
    assert shared_baseline(tf.constant(images)).shape[0] == 3
    zeros = np.zeros((2, 4, 4, 1), "float32")
    zeros[1, 0, 0, 0] = -0.0  # equal as numbers, not as bits: kept apart (no value can change)
    assert shared_baseline(tf.constant(zeros)).shape[0] == 2
    one = tf.constant(images[:1])
    assert shared_baseline(one) is one
    many = np.ones((600, 2, 2, 1), "float32")  # checked in chunks: the last one differs
    assert shared_baseline(tf.constant(many)).shape[0] == 1
    many[-1, 1, 1, 0] = 2.0
    assert shared_baseline(tf.constant(many)).shape[0] == 600


def test_seed_default_zero_and_none_fresh(images):
    """``seed : int or None, default 0``: the default is reproducible, None draws fresh noise."""
    for name in ("uniform", "normal", "permutation", "local_permutation", "random_color", "road"):
        fn = BASELINES[name]
        np.testing.assert_array_equal(fn(images), fn(images, seed=0))
        assert not np.array_equal(fn(images, seed=None), fn(images, seed=None))
    with pytest.raises(TypeError, match="seed"):
        BASELINES["uniform"](images, seed=1.5)


def test_split_modules_keep_the_old_names():
    """The helpers and the FV baseline moved to their own modules; their public names stay
    importable from ``metrics.baselines``."""
    from xplique_lens.metrics import baseline_helpers, baselines, fv_baseline

    assert baselines.FeatureVisualizationBaseline is fv_baseline.FeatureVisualizationBaseline
    assert baselines.patch_means is baseline_helpers.patch_means
    assert baselines.patch_ids is baseline_helpers.patch_ids
    np.testing.assert_array_equal(
        baselines.patch_ids(3, 5, 2), [0, 0, 1, 1, 2] * 2 + [3, 3, 4, 4, 5]
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"nb_steps": -1}, ValueError, "nb_steps"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate"),
        ({"seed": "0"}, TypeError, "seed"),
        ({"layer": 1.5}, TypeError, "layer"),
    ],
)
def test_feature_visualization_baseline_validates_its_settings(
    tiny_functional_model, kwargs, error, match
):
    with pytest.raises(error, match=match):
        FeatureVisualizationBaseline(tiny_functional_model, **kwargs)
    with pytest.raises(TypeError, match="model"):
        FeatureVisualizationBaseline("model")
