import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import Saliency

from ..numerics import assert_close


def test_shape_and_targets_equivalence(reference_model, small_data):
    explainer = Saliency(reference_model, batch_size=7)
    from_labels = explainer(small_data.images, small_data.labels)
    from_one_hot = explainer.explain(small_data.images, small_data.one_hot())
    assert from_labels.shape == (len(small_data), 64, 64, 1)
    assert from_labels.dtype == tf.float32
    assert_close(from_labels, from_one_hot)


def test_matches_manual_gradient(reference_model, small_data):
    x = tf.constant(small_data.images[:3])
    y = tf.constant(small_data.one_hot()[:3])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = tf.reduce_sum(reference_model(x) * y, axis=-1)
    expected = tf.reduce_max(tf.abs(tape.gradient(score, x)), axis=-1, keepdims=True)
    assert_close(Saliency(reference_model)(x, y), expected, rel=1e-4)


def test_dataset_input_and_none_targets(reference_model, small_data):
    ds = tf.data.Dataset.from_tensor_slices((small_data.images, small_data.labels)).batch(5)
    explainer = Saliency(reference_model)
    assert_close(explainer(ds), explainer(small_data.images, small_data.labels))
    # the reference model is right on these images: None (predicted class) gives the same maps
    assert_close(explainer(small_data.images), explainer(small_data.images, small_data.labels))


def test_mass_on_planted_parts(reference_model, small_data):
    maps = Saliency(reference_model)(small_data.images, small_data.labels).numpy()[..., 0]
    share = (maps * small_data.masks).sum((1, 2)) / maps.sum((1, 2))
    area = small_data.masks.mean((1, 2))
    assert np.mean(share) > 2.5 * np.mean(area)


def test_batch_permutation_permutes_maps(reference_model, small_data):
    perm = np.random.default_rng(3).permutation(len(small_data))
    explainer = Saliency(reference_model, batch_size=5)
    maps = explainer(small_data.images, small_data.labels).numpy()
    permuted = explainer(small_data.images[perm], small_data.labels[perm]).numpy()
    np.testing.assert_allclose(permuted, maps[perm], rtol=1e-5, atol=1e-8)


def test_output_layer_and_reducer(tiny_functional_model):
    x = np.random.default_rng(0).random((4, 16, 16, 3)).astype(np.float32)
    maps = Saliency(tiny_functional_model, output_layer="gap", reducer=None)(x, np.zeros(4, int))
    assert maps.shape == (4, 16, 16, 3)


def test_non_image_inputs():
    def linear(x):
        return tf.matmul(x, tf.constant([[1.0, -2.0], [3.0, 0.5], [0.0, 1.0]]))

    x = np.ones((5, 3), np.float32)
    maps = Saliency(linear)(x, np.ones(5, int))
    np.testing.assert_allclose(maps, np.tile([[2.0, 0.5, 1.0]], (5, 1)))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"batch_size": 0}, ValueError),
        ({"batch_size": 2.5}, TypeError),
        ({"reducer": "median"}, ValueError),
        ({"output_layer": "nope"}, ValueError),
        ({"operator": "detection"}, ValueError),
    ],
)
def test_bad_settings(tiny_functional_model, kwargs, error):
    with pytest.raises(error):
        Saliency(tiny_functional_model, **kwargs)


def test_bad_call(tiny_functional_model):
    explainer = Saliency(tiny_functional_model)
    with pytest.raises(ValueError, match="rank 4"):
        explainer(np.zeros((16, 16, 3), np.float32), np.zeros(16, int))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        explainer(np.zeros((2, 16, 16, 3), np.float32), np.array([0, 7]))
