"""Compiled functions: one trace per model whatever the batch sizes, shared, no leak."""

import gc
import logging
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import Saliency
from xplique_lens.commons.operators import get_operator
from xplique_lens.commons.tf_functions import (
    BatchPolymorphicFunction,
    make_forward_function,
    make_gradient_function,
)

from ..numerics import assert_close


def _tiny_cnn(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


@pytest.fixture
def batch(rng):
    inputs = rng.random((21, 8, 8, 3)).astype(np.float32)
    return inputs, np.eye(3, dtype=np.float32)[np.arange(21) % 3]


def test_one_trace_for_every_batch_size(batch):
    traces = []

    def double(x):
        traces.append(x.shape)
        return 2 * x

    function = BatchPolymorphicFunction(double)
    for size in (8, 8, 5, 1):
        np.testing.assert_array_equal(function(tf.ones([size, 3])), 2 * np.ones([size, 3]))
    assert len(traces) == 1 and traces[0].as_list() == [None, 3]
    function(np.ones([2, 4], np.float32))  # another signature: one more trace
    assert len(traces) == 2


def test_explainers_of_one_model_share_one_trace(batch):
    inputs, targets = batch
    model = _tiny_cnn(0)
    first = Saliency(model, batch_size=8)  # batches of 8, 8 and the last of 5
    expected = first(inputs, targets)
    again = Saliency(model, batch_size=16)(inputs, targets)  # a new explainer: no new trace
    assert_close(again, expected)
    assert first.gradient_function.experimental_get_tracing_count() == 1


def test_no_retracing_warning_over_many_models(batch):
    inputs, targets = batch
    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    tf.get_logger().addHandler(handler)
    try:
        models = [_tiny_cnn(seed) for seed in range(6)]
        for _ in range(2):
            for model in models:
                Saliency(model, batch_size=8)(inputs, targets)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [m for m in messages if "retracing" in m]


def test_cache_does_not_keep_the_model_alive(batch):
    inputs, targets = batch
    model = _tiny_cnn(1)
    Saliency(model)(inputs, targets)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None


def test_a_model_built_on_the_fly_lives_with_its_function(batch):
    inputs, _ = batch
    model = _tiny_cnn(2)
    forward = make_forward_function(lambda x: 2.0 * model(x))  # only the function holds it
    gc.collect()
    assert_close(forward(inputs), 2.0 * model(inputs))


def test_stateful_operators_are_not_shared(batch):
    inputs, targets = batch
    model = _tiny_cnn(3)
    scale = {"value": 1.0}

    def scaled(m, x, y):
        return scale["value"] * tf.reduce_sum(m(x) * y, axis=-1)

    gradients = make_gradient_function(model, get_operator(scaled))(inputs, targets)
    scale["value"] = 3.0  # a new function sees the new state
    tripled = make_gradient_function(model, get_operator(scaled))(inputs, targets)
    assert_close(tripled, 3.0 * gradients.numpy())
