"""Xplique's target convention in the fidelity metrics: a single-output model given two-column
one-hot targets scores its one output (Xplique broadcasts ``f(x) * y``)."""

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.metrics import Deletion, Insertion, MuFidelity
from xplique_lens.metrics.fidelity import broadcast_single_output_targets

from ..numerics import assert_close


def single_output(x):
    """One score per image: the mean of the first channel."""
    return tf.reduce_mean(x[..., :1], axis=(1, 2))


def test_single_output_two_column_targets_match_xplique(pair):
    xq = pytest.importorskip("xplique.metrics")
    images, _ = pair
    targets = np.eye(2, dtype=np.float32)[[0, 1]]
    explanations = np.random.default_rng(0).uniform(size=(2, 16, 16)).astype(np.float32)
    value = Deletion(single_output, images, targets, steps=4)(explanations)
    assert_close(value, xq.Deletion(single_output, images, targets, steps=4)(explanations))
    # the curve is the model's one output: the targets become their sum, (N, 1)
    for metric in (Insertion, MuFidelity):
        assert_close(metric(single_output, images, targets).targets, [[1.0], [1.0]])


def test_other_targets_left_unchanged(tiny_functional_model, pair):
    images, targets = pair
    targets_2 = np.eye(2, dtype=np.float32)[[0, 1]]
    # several outputs: a mismatch is still an error naming `targets`
    with pytest.raises(ValueError, match="targets"):
        Deletion(tiny_functional_model, images, targets_2)
    # a custom operator receives the targets as given
    custom = broadcast_single_output_targets(single_output, images, targets_2, lambda f, x, y: y)
    assert custom is targets_2
    labels = np.array([0, 1])
    assert broadcast_single_output_targets(single_output, images, labels, None) is labels
    summed = broadcast_single_output_targets(single_output, images, targets_2 * 2, None)
    assert_close(summed, [[2.0], [2.0]])
    assert targets_2.shape == (2, 2)  # not modified
