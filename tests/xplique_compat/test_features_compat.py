"""Xplique's ``features_visualizations`` API: ``optimize`` (Lucid-style, Xplique's
transformations and regularizers), ``maco`` in Xplique's argument order, ``Objective``."""

import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.features import fourier
from xplique_lens.features_visualizations import (
    Objective,
    compose_transformations,
    l1_reg,
    l2_reg,
    maco,
    optimize,
    pad,
    random_blur,
    random_flip,
    random_jitter,
    random_scale,
    total_variation_reg,
)

from ..numerics import assert_close


@pytest.fixture(scope="module")
def dead_model():
    """A ReLU layer dead at initialisation: its gradient is zero everywhere."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(
        2, 3, activation="relu", bias_initializer=keras.initializers.Constant(-100.0), name="dead"
    )(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="logits")(x))


def test_optimize_xplique_settings(tiny_functional_model):
    objective = Objective.channel(tiny_functional_model, "conv", [0, 1]) + Objective.neuron(
        tiny_functional_model, "logits", 2
    )
    transformations = compose_transformations(
        [pad(2, 0.0), random_jitter(4), random_scale([0.95, 1.05]), random_blur(), random_flip()]
    )
    regularizers = [l1_reg(0.1), l2_reg(0.1), total_variation_reg(0.01)]
    images, names = optimize(
        objective,
        keras.optimizers.SGD(0.1),
        nb_steps=4,
        regularizers=regularizers,
        transformations=transformations,
        custom_shape=(20, 24),
        save_every=2,
        values_range=(-1, 1),
        seed=0,
    )
    assert names == ["Channel#conv_0 & Neuron#logits_2", "Channel#conv_1 & Neuron#logits_2"]
    assert len(images) == 2 and all(i.shape == (2, 20, 24, 3) for i in images)
    last = images[-1].numpy()
    # each image is rescaled to span values_range, and the saved steps differ
    assert_close(last.min(axis=(1, 2, 3)), [-1, -1]) and assert_close(last.max((1, 2, 3)), [1, 1])
    assert not np.allclose(images[0].numpy(), last)


def test_optimize_warmup_opens_dead_relus(dead_model):
    objective = Objective.channel(dead_model, "dead", 0)
    # pixel parametrisation, the model's size, the standard transformations
    kwargs = {"use_fft": False, "custom_shape": None, "seed": 0}
    frozen, _ = optimize(objective, nb_steps=2, save_every=1, **kwargs)
    warmed, _ = optimize(objective, nb_steps=1, warmup_steps=2, **kwargs)
    assert len(frozen) == 2 and frozen[0].shape == (1, 8, 8, 3)
    assert_close(frozen[1], frozen[0])  # no gradient through the dead ReLUs
    assert np.abs(warmed[-1].numpy() - frozen[0].numpy()).max() > 1e-3
    assert dead_model.get_layer("dead").activation is keras.activations.relu  # untouched


def test_optimize_crops_is_the_fourier_baseline(tiny_functional_model):
    objective = Objective.neuron(tiny_functional_model, "logits", 1)
    images, names = optimize(
        objective, nb_steps=1, transformations="crops", custom_shape=None, seed=4
    )
    reference, _ = fourier(objective, nb_steps=1, values_range=(0, 1), custom_shape=None, seed=4)
    assert names == objective.names and images[0].shape == (1, 16, 16, 3)
    assert_close(images[0], reference)
    with pytest.raises(ValueError, match="regularizers"):
        optimize(objective, transformations="crops", regularizers=[l1_reg()])


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"image_normalizer": "tanh"}, ValueError, "image_normalizer"),
        ({"transformations": "lucid"}, ValueError, "transformations"),
        ({"regularizers": [1.0]}, TypeError, "regularizers"),
        ({"nb_steps": 0}, ValueError, "nb_steps"),
        ({"save_every": -1}, ValueError, "save_every"),
    ],
)
def test_optimize_bad_arguments(tiny_functional_model, kwargs, error, match):
    with pytest.raises(error, match=match):
        optimize(Objective.neuron(tiny_functional_model, "logits", 0), **kwargs)


def test_transformations_and_regularizers():
    images = np.zeros((2, 3, 3, 3), np.float32)
    images[:, 1, 1, 1] = 1.0
    blurred = random_blur(sigma_range=(1.0, 1.0), kernel_size=3)(images).numpy()
    weights = np.exp(-0.5 * np.array([[2, 1, 2], [1, 0, 1], [2, 1, 2]], np.float32))
    assert_close(blurred[0, :, :, 1], weights / weights.sum())
    assert np.all(blurred[:, :, :, 0] == 0) and np.array_equal(blurred[0], blurred[1])
    padded = pad(2, 0.5)(np.ones((1, 2, 2, 1), np.float32)).numpy()[0, :, :, 0]
    assert padded.shape == (6, 6) and padded[0, 0] == 0.5 and padded[2, 2] == 1.0
    seed = tf.constant([3, 4], tf.int64)
    chain = compose_transformations([random_jitter(2), random_scale((0.5, 0.5)), random_flip()])
    big = tf.random.stateless_uniform((2, 10, 10, 3), [0, 0])
    assert chain(big, seed=seed).shape == (2, 4, 4, 3)
    assert_close(chain(big, seed=seed), chain(big, seed=seed))
    values = np.array([[[[1.0], [-3.0]]]], np.float32)  # (1, 1, 2, 1)
    assert_close(l1_reg(2.0)(values), [4.0])
    assert_close(l2_reg(1.0)(values), [np.sqrt(5.0)])
    assert_close(total_variation_reg(1.0)(values), [4.0])
    with pytest.raises(TypeError, match="transformations"):
        compose_transformations([pad(), "flip"])


def test_maco_takes_xplique_argument_order(tiny_functional_model, monkeypatch):
    module = importlib.import_module("xplique_lens.features_visualizations.maco")
    objective = Objective.neuron(tiny_functional_model, "logits", 0)
    data = tf.data.Dataset.from_tensor_slices(
        np.random.default_rng(1).uniform(size=(4, 16, 16, 3)).astype(np.float32)
    ).batch(2)
    # Xplique's order: (objective, optimizer, maco_dataset, nb_steps, ...), as in its tests
    image, transparency = maco(objective, None, data, 2, custom_shape=(16, 16))
    assert image.shape == (16, 16, 3) and transparency.shape == (16, 16, 3)
    assert image.min() >= -1 and image.max() <= 1
    seen = {}
    monkeypatch.setattr(module, "_maco", lambda *args, **kwargs: seen.update(a=args, k=kwargs))
    maco(objective, "opt", data, 3, 0.1, 0.4, 5, (0, 1), (8, 8), seed=7)
    assert seen["a"] == (objective, "opt", 3, 0.1, 0.4, 5, (0, 1), (8, 8), None, 7)
    assert seen["k"] == {"maco_dataset": data, "verbose": False, "squeeze": True}
    with pytest.warns(DeprecationWarning, match="verbose"):  # the former name still works
        maco(objective, progress=True)
    assert seen["k"] == {"maco_dataset": None, "verbose": True, "squeeze": True}
