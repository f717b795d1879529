import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.commons import sanitize_inputs, to_one_hot
from xplique_lens.commons.inputs import sanitize_for_model


def _pairs(n=20):
    x = np.arange(n, dtype=np.float32)[:, None, None, None] * np.ones((1, 4, 4, 3), np.float32)
    y = np.arange(n) % 5
    return x, y


@pytest.mark.parametrize("batched", [False, True])
def test_reshuffled_dataset_keeps_pairs(batched):
    x, y = _pairs()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(20, reshuffle_each_iteration=True)
    if batched:
        ds = ds.batch(6)
    inputs, targets = sanitize_inputs(ds, expected_rank=4)
    assert inputs.shape == (20, 4, 4, 3)
    # each image carries its index: the label must still be index % 5
    index = inputs[:, 0, 0, 0].numpy().astype(int)
    np.testing.assert_array_equal(targets.numpy(), index % 5)
    assert sorted(index.tolist()) == list(range(20))


def test_batched_dataset_detected_without_expected_rank():
    x, y = _pairs()
    batched = tf.data.Dataset.from_tensor_slices((x, y)).batch(7).prefetch(2)
    unbatched = tf.data.Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a, b))
    assert sanitize_inputs(batched)[0].shape == (20, 4, 4, 3)
    assert sanitize_inputs(unbatched)[0].shape == (20, 4, 4, 3)


def test_dataset_of_inputs_only():
    x, _ = _pairs()
    inputs, targets = sanitize_inputs(tf.data.Dataset.from_tensor_slices(x).batch(3))
    assert inputs.shape == (20, 4, 4, 3) and targets is None


def test_empty_dataset_raises():
    x, y = _pairs()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).take(0)
    with pytest.raises(ValueError, match="empty"):
        sanitize_inputs(ds, expected_rank=4)


def test_targets_with_dataset_of_pairs_raises():
    x, y = _pairs()
    with pytest.raises(ValueError, match="targets"):
        sanitize_inputs(tf.data.Dataset.from_tensor_slices((x, y)), y)


@pytest.mark.parametrize(
    "inputs, targets, error, match",
    [
        (np.zeros((4, 4, 4, 3), np.uint8), None, TypeError, "floating"),
        (np.full((2, 4, 4, 3), np.nan, np.float32), None, ValueError, "NaN"),
        (np.zeros((4, 4, 3), np.float32), None, ValueError, "rank 4"),
        (np.zeros((4, 4, 4, 3), np.float32), np.zeros(3, np.int64), ValueError, "one entry"),
        (np.zeros((0, 4, 4, 3), np.float32), None, ValueError, "at least one"),
        (np.array([["a"]]), None, TypeError, "numeric"),
    ],
)
def test_bad_inputs(inputs, targets, error, match):
    with pytest.raises(error, match=match):
        sanitize_inputs(inputs, targets, expected_rank=4)


def test_inputs_not_mutated_and_cast():
    x = np.ones((2, 4, 4, 3), np.float64)
    before = x.copy()
    inputs, _ = sanitize_inputs(x, None)
    assert inputs.dtype == tf.float32
    np.testing.assert_array_equal(x, before)


def test_to_one_hot():
    labels = np.array([2, 0, 1])
    one_hot = to_one_hot(tf.constant(labels), 3).numpy()
    np.testing.assert_array_equal(one_hot, np.eye(3)[labels])
    np.testing.assert_array_equal(to_one_hot(tf.constant(np.eye(3)[labels]), 3), one_hot)
    np.testing.assert_array_equal(to_one_hot(tf.constant([2.0, 0.0, 1.0]), 3), one_hot)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        to_one_hot(tf.constant([3, 0]), 3)
    with pytest.raises(ValueError, match="integer"):
        to_one_hot(tf.constant([0.5, 1.0]), 3)
    with pytest.raises(ValueError, match="3 columns"):
        to_one_hot(tf.zeros((2, 4)), 3)


def test_sanitize_for_model_predicted_class(tiny_functional_model):
    x = np.random.default_rng(0).random((5, 16, 16, 3)).astype(np.float32)
    _, targets = sanitize_for_model(tiny_functional_model, x, None)
    expected = np.argmax(tiny_functional_model(x).numpy(), axis=-1)
    np.testing.assert_array_equal(np.argmax(targets.numpy(), -1), expected)
