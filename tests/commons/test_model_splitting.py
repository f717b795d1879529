import keras
import numpy as np
import pytest

from xplique_lens.commons import split_model


def _sequential():
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
            keras.layers.Conv2D(5, 3, activation="relu", name="c2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="d"),
        ]
    )


def _functional_with_skip():
    keras.utils.set_random_seed(2)
    inputs = keras.Input((12, 12, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="c2")(a)
    c = keras.layers.ReLU(name="merge")(keras.layers.Add(name="add")([a, b]))
    outputs = keras.layers.Dense(3, name="d")(keras.layers.GlobalAveragePooling2D()(c))
    return keras.Model(inputs, outputs)


X = np.random.default_rng(0).random((5, 12, 12, 3)).astype(np.float32)


@pytest.mark.parametrize("layer", ["c1", "c2", "gap", 0, 1, -2])
def test_sequential_split(layer):
    model = _sequential()
    g, h = split_model(model, layer)
    np.testing.assert_allclose(h(g(X)), model(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layer", ["c1", "merge", "add"])
def test_functional_split(layer):
    model = _functional_with_skip()
    g, h = split_model(model, layer)
    np.testing.assert_allclose(h(g(X)), model(X), rtol=1e-5, atol=1e-6)


def test_reference_model_split(reference_model, small_data):
    g, h = split_model(reference_model, "features")
    activations = g(small_data.images)
    assert activations.shape[1:] == (16, 16, 64)
    assert float(np.min(activations)) >= 0.0
    np.testing.assert_allclose(h(activations), reference_model(small_data.images), atol=1e-4)


def test_split_errors():
    model = _functional_with_skip()
    with pytest.raises(ValueError, match="does not exist"):
        split_model(model, "nope")
    with pytest.raises(ValueError, match="skip connection"):
        split_model(model, "c2")
    with pytest.raises(ValueError, match="last layer"):
        split_model(model, "d")
    with pytest.raises(ValueError, match="out of range"):
        split_model(model, 42)
    with pytest.raises(TypeError, match="keras.Model"):
        split_model(lambda x: x, 0)
