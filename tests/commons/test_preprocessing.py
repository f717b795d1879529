import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.applications.imagenet_utils import preprocess_input

from xplique_lens.commons.model_splitting import split_model
from xplique_lens.commons.preprocessing import (
    ImagePreprocessing,
    preprocess_images,
    with_preprocessing,
)


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(0).uniform(0, 255, (3, 16, 16, 3)).astype(np.float32)


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
def test_wrapped_model_equals_keras_preprocess_input_then_model(
    mode, tiny_functional_model, pixels
):
    expected = tiny_functional_model(preprocess_input(pixels.copy(), mode=mode)).numpy()
    on_0_255 = with_preprocessing(tiny_functional_model, mode, values_range=(0, 255))
    np.testing.assert_allclose(on_0_255(pixels).numpy(), expected, rtol=1e-5, atol=1e-5)
    on_0_1 = with_preprocessing(tiny_functional_model, mode, values_range=(0, 1))
    np.testing.assert_allclose(on_0_1(pixels / 255).numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        preprocess_images(pixels, mode).numpy(), preprocess_input(pixels.copy(), mode=mode)
    )


def test_gradients_flow_through_the_preprocessing(tiny_functional_model, pixels):
    wrapped = with_preprocessing(tiny_functional_model, "tf", values_range=(0, 1))
    x = tf.constant(pixels / 255)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = wrapped(x)[:, 1]
    gradient = tape.gradient(score, x).numpy()
    y = tf.constant(2 * pixels / 255 - 1)  # the "tf" mode of [0, 1] images
    with tf.GradientTape() as tape:
        tape.watch(y)
        score = tiny_functional_model(y)[:, 1]
    expected = 2 * tape.gradient(score, y).numpy()  # chain rule: d(2x - 1)/dx = 2
    assert np.abs(gradient).max() > 0
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-6)


def test_layer_names_resolve_and_split_works_model_untouched(tiny_functional_model, pixels):
    before = [w.copy() for w in tiny_functional_model.get_weights()]
    wrapped = with_preprocessing(tiny_functional_model, "caffe", values_range=(0, 255))
    assert [layer.name for layer in wrapped.layers][1:] == [
        "caffe_preprocessing",
        "conv",
        "gap",
        "logits",
    ]
    g, h = split_model(wrapped, "conv")
    np.testing.assert_allclose(h(g(pixels)).numpy(), wrapped(pixels).numpy(), atol=1e-5)
    assert len(tiny_functional_model.layers) == 4  # input, conv, gap, logits: nothing added
    assert wrapped.get_layer("conv") is not tiny_functional_model.get_layer("conv")
    for old, new in zip(before, tiny_functional_model.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_transfer_learning_sequential_keeps_nested_base(pixels):
    keras.utils.set_random_seed(1)
    base_in = keras.Input((16, 16, 3))
    base_out = keras.layers.Conv2D(4, 3, activation="relu", name="block_conv")(base_in)
    base = keras.Model(base_in, base_out, name="base")
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    wrapped = with_preprocessing(model, "torch", values_range=(0, 255))
    assert isinstance(wrapped, keras.Sequential)
    assert wrapped.layers[0].name == "torch_preprocessing"
    assert wrapped.get_layer("base").get_layer("block_conv") is not None
    expected = model(preprocess_input(pixels.copy(), mode="torch")).numpy()
    np.testing.assert_allclose(wrapped(pixels).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_saved_and_reloaded(tmp_path, tiny_functional_model, pixels):
    wrapped = with_preprocessing(tiny_functional_model, "torch", values_range=(0, 1))
    wrapped.save(tmp_path / "wrapped.keras")
    reloaded = keras.models.load_model(tmp_path / "wrapped.keras")
    assert isinstance(reloaded.layers[1], ImagePreprocessing)
    assert reloaded.layers[1].values_range == (0.0, 1.0)
    np.testing.assert_allclose(reloaded(pixels / 255), wrapped(pixels / 255), atol=1e-6)


class _NoConfig(keras.layers.Layer):
    """A custom layer that cannot be rebuilt from its config (required argument missing)."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, x):
        return x * self.factor


def test_layers_without_config_are_nested_instead(pixels):
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(_NoConfig(2.0)(inputs)))
    wrapped = with_preprocessing(model, "tf", values_range=(0, 255))
    assert wrapped.layers[-1] is model
    np.testing.assert_allclose(wrapped(pixels), model(pixels / 127.5 - 1), atol=1e-5)


def test_no_mode_returns_the_model(tiny_functional_model):
    assert with_preprocessing(tiny_functional_model, None) is tiny_functional_model


def test_bad_arguments(tiny_functional_model):
    with pytest.raises(ValueError, match="`preprocess` must be None or one of"):
        with_preprocessing(tiny_functional_model, "bgr")
    with pytest.raises(ValueError, match="values_range"):
        with_preprocessing(tiny_functional_model, "tf", values_range=(1, 0))
    with pytest.raises(ValueError, match="values_range"):
        with_preprocessing(tiny_functional_model, "tf", values_range="0-255")
    with pytest.raises(TypeError, match="keras.Model"):
        with_preprocessing(lambda x: x, "tf")
    with pytest.raises(ValueError, match="3 channels"):
        preprocess_images(tf.zeros((1, 4, 4, 1)), "caffe")
    gray = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten()])
    assert with_preprocessing(gray, "tf")(np.ones((1, 4, 4, 1), np.float32)).shape == (1, 16)
