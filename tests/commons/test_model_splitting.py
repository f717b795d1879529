import keras
import numpy as np
import pytest

from xplique_lens.commons import split_model
from xplique_lens.commons.model_splitting import (
    MAX_LISTED,
    find_layer,
    layer_model,
    layer_path,
    layer_paths,
)

from ..numerics import assert_close


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


# ----------------------------------------------------------------------------- nested models
def _base(name="base", skip=False, channels=3):
    """A small functional 'application' with a ReLU block and a linear projection."""
    inputs = keras.Input((12, 12, channels))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    y = keras.layers.Conv2D(4, 3, padding="same", name="conv2")(x)
    if skip:
        y = keras.layers.Add(name="add")([x, y])
    x = keras.layers.ReLU(name="out_relu")(y)
    return keras.Model(inputs, x, name=name)


def _transfer(skip=False):
    """The transfer pattern: preprocessing, nested base, pooling, head."""
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Rescaling(2.0, offset=-1.0, name="rescaling"),
            _base(skip=skip),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="head"),
        ],
        name="transfer",
    )


def _functional_transfer():
    """The same pattern as a functional model, with a base nested twice (inner in outer)."""
    keras.utils.set_random_seed(4)
    inner = _base("inner")
    inputs = keras.Input((12, 12, 3))
    outer = keras.Model(inputs, keras.layers.Conv2D(5, 1, name="proj")(inner(inputs)), name="outer")
    x = keras.layers.Rescaling(0.5, name="rescaling")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(outer(x))
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(x), name="functional_transfer")


@pytest.mark.parametrize(
    "layer, path",
    [
        ("out_relu", "base/out_relu"),  # bare name, unique in the nested tree
        ("base/conv2", "base/conv2"),  # path
        ("conv1", "base/conv1"),
        ("base", "base"),  # a top-level name
        ("rescaling", "rescaling"),
        (1, "base"),  # a top-level index
        (-1, "head"),
    ],
)
def test_find_layer_forms(layer, path):
    model = _transfer()
    assert layer_path(model, layer) == path
    assert find_layer(model, layer) is find_layer(model, path)
    assert find_layer(model, find_layer(model, layer)) is find_layer(model, path)  # the object


def test_layer_names_errors():
    model = _functional_transfer()
    # "conv1" exists in outer/inner only once; "out_relu" too; "rescaling" is top-level
    assert layer_path(model, "conv1") == "outer/inner/conv1"
    assert layer_path(model, "inner/conv1") == "outer/inner/conv1"  # a path suffix
    keras.utils.set_random_seed(5)
    twice = keras.Sequential([keras.Input((12, 12, 3)), _base("b1"), _base("b2", channels=4)])
    with pytest.raises(ValueError, match=r"ambiguous.*\['b1/conv1', 'b2/conv1'\]"):
        find_layer(twice, "conv1")
    assert find_layer(twice, "b2/conv1") is twice.layers[1].get_layer("conv1")
    with pytest.raises(ValueError, match=r"does not exist.*did you mean.*conv1.*b1/conv1"):
        find_layer(twice, "conv_1")
    with pytest.raises(TypeError, match="layer"):
        find_layer(twice, 1.5)
    with pytest.raises(TypeError, match="layer"):
        find_layer(twice, True)
    with pytest.raises(ValueError, match="not a layer of `model`"):
        find_layer(twice, keras.layers.Dense(2))
    with pytest.raises(TypeError, match="keras.Model"):
        layer_paths("model")


def test_unknown_layer_lists_a_bounded_number_of_paths():
    keras.utils.set_random_seed(6)
    bases = [_base(f"b{i}", channels=4 if i else 3) for i in range(10)]
    model = keras.Sequential([keras.Input((12, 12, 3)), *bases])
    assert len(layer_paths(model)) == 10 * 5
    with pytest.raises(ValueError, match=r"\.\.\. and 25 more") as info:
        find_layer(model, "zzz")
    assert str(info.value).count("/") <= MAX_LISTED


NESTED_LAYERS = ["out_relu", "conv2", "conv1", "base/conv1", "base", "rescaling", "gap"]


@pytest.mark.parametrize("layer", NESTED_LAYERS)
def test_nested_sequential_split_is_exact(layer):
    model = _transfer()
    expected = model(X).numpy()
    g, h = split_model(model, layer)
    activations = g(X)
    assert_close(h(activations), expected)
    reference = find_layer(model, layer)
    assert tuple(activations.shape[1:]) == tuple(reference.output.shape[1:])
    # nothing copied, nothing modified: same weights, same outputs
    assert {id(w) for w in g.weights + h.weights} <= {id(w) for w in model.weights}
    np.testing.assert_array_equal(model(X), expected)


@pytest.mark.parametrize("layer", ["conv1", "conv2", "out_relu", "inner", "proj", "outer", "gap"])
def test_doubly_nested_functional_split_is_exact(layer):
    model = _functional_transfer()
    g, h = split_model(model, layer)
    assert_close(h(g(X)), model(X))


def test_nested_split_values_are_the_nested_layer():
    model = _transfer()
    base = model.get_layer("base")
    g, _ = split_model(model, "conv2")
    inner = keras.Model(base.input, base.get_layer("conv2").output)
    assert_close(g(X), inner(X * 2.0 - 1.0))


def test_g_keeps_the_paths_of_the_earlier_layers():
    """``g`` holds a prefix of the base under the base's name: a later split of ``g`` (CRAFT's
    recursion) finds the earlier layers by the same names."""
    model = _transfer()
    g, h = split_model(model, "out_relu")
    assert layer_path(g, "conv1") == "base/conv1"
    first, rest = split_model(g, "base/conv1")
    assert_close(h(rest(first(X))), model(X))
    with pytest.raises(ValueError, match="does not exist"):
        find_layer(g, "head")


def test_nested_skip_connection_errors():
    model = _transfer(skip=True)
    with pytest.raises(ValueError, match="skip connection"):
        split_model(model, "conv2")
    for layer in ("add", "conv1", "out_relu"):  # every path goes through these
        g, h = split_model(model, layer)
        assert_close(h(g(X)), model(X))
    with pytest.raises(ValueError, match="last layer"):
        split_model(model, "head")


def test_layer_model_reads_nested_and_last_layers():
    model = _functional_transfer()
    features = layer_model(model, ["conv1", "inner/out_relu", "head", "rescaling"])
    conv1, out_relu, head, rescaled = features(X)
    assert_close(head, model(X))
    assert_close(rescaled, X * 0.5)
    g, _ = split_model(model, "inner/out_relu")
    assert_close(out_relu, g(X))
    assert conv1.shape == (len(X), 12, 12, 4) and float(np.min(conv1)) >= 0.0
    single = layer_model(model, "conv2")
    assert single(X).shape == (len(X), 12, 12, 4)


def test_subclassed_model_cannot_be_looked_into():
    class Block(keras.Model):
        def __init__(self):
            super().__init__(name="block")
            self.conv = keras.layers.Conv2D(2, 1, name="inside")

        def call(self, x):
            return self.conv(x)

    keras.utils.set_random_seed(7)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(Block()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    g, h = split_model(model, "block")  # the whole block is a layer like any other
    assert_close(h(g(X)), model(X))
    with pytest.raises(ValueError, match="only Sequential and functional models"):
        split_model(model, "block/inside")


def test_nested_layers_in_objectives_and_craft():
    """Objectives, explainers' ``output_layer`` and CRAFT take nested layers by name or path."""
    from xplique_lens.attributions import Saliency
    from xplique_lens.concepts import Craft
    from xplique_lens.features import Objective

    model = _transfer()
    g, _ = split_model(model, "conv1")
    assert_close(Saliency(model, output_layer="base/conv1").model(X), g(X))
    values = Objective.channel(model, "conv1", [0, 2]).evaluate(X)
    assert_close(values, np.mean(g(X), axis=(1, 2))[:, [0, 2]].T)
    direction = Objective.direction(model, "base/out_relu", np.ones(4, np.float32))
    assert direction.evaluate(X).shape == (1, len(X))
    craft = Craft.from_model(model, "out_relu", number_of_concepts=2, patch_size=8)
    assert craft.layer == "base/out_relu"
    craft.fit(X, class_id=1)
    child = craft.refine(0, "conv1", number_of_concepts=2)
    assert child.layer == "base/conv1" and child.concept_bank_.shape == (2, 4)
    with pytest.raises(ValueError, match="before the parent layer"):
        craft.refine(0, "gap")
