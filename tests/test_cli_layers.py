"""``xplique-lens layers``: the candidate concept layers of a model, nested models included."""

import keras
import numpy as np
import pytest

from xplique_lens.cli import build_parser, main
from xplique_lens.commons import split_model
from xplique_lens.commons.layer_listing import format_layers, list_layers


def _nested_model():
    """Rescaling to [-1, 1], a base (ReLU map, linear map, tokens-like reshape), pooling, head."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="relu_map")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", name="linear_map")(x)
    base = keras.Model(inputs, keras.layers.Reshape((64, 4), name="tokens")(x), name="base")
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Rescaling(2.0, offset=-1.0, name="rescaling"),
            base,
            keras.layers.GlobalAveragePooling1D(name="pool"),
            keras.layers.Dense(3, activation="softmax", name="head"),
        ],
        name="nested",
    )


def test_list_layers_order_kinds_and_signs():
    infos = list_layers(_nested_model(), values_range=(0.0, 1.0), nb_inputs=4)
    paths = [info.path for info in infos]
    assert paths == [
        "base",
        "base/tokens",
        "base/linear_map",
        "base/relu_map",
        "rescaling",
        "pool",
        "head",
    ]  # spatial and token layers first, then vectors; splittable first, then deepest first
    by_path = {info.path: info for info in infos}
    assert by_path["base/tokens"].kind == "tokens" and by_path["base/tokens"].output_shape == (
        64,
        4,
    )
    assert by_path["base/relu_map"].kind == "spatial" and by_path["base/relu_map"].non_negative
    assert not by_path["base/linear_map"].non_negative
    assert not by_path["rescaling"].non_negative  # [0, 1] inputs rescaled to [-1, 1]
    assert by_path["head"].kind == "vector" and by_path["head"].non_negative
    assert not by_path["head"].splittable and by_path["pool"].splittable
    assert by_path["rescaling"].minimum >= -1.0 and by_path["rescaling"].maximum <= 1.0
    # the value range matters: on [0.5, 1] inputs the rescaling output is non-negative
    shifted = {i.path: i for i in list_layers(_nested_model(), values_range=(0.5, 1.0))}
    assert shifted["rescaling"].non_negative


def _residual_model():
    """A nested base with a residual block, inside a functional model with its own skip."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8, 8, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="a")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="b")(a)
    c = keras.layers.ReLU(name="c")(keras.layers.Add(name="add")([a, b]))
    base = keras.Model(inputs, keras.layers.Conv2D(4, 1, name="d")(c), name="base")
    outer_in = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(3, 1, name="pre")(outer_in)
    y = base(x)
    z = keras.layers.Concatenate(name="concat")([y, x])  # a skip around the base
    z = keras.layers.GlobalAveragePooling2D(name="gap")(z)
    return keras.Model(outer_in, keras.layers.Dense(2, name="head")(z), name="residual")


def _can_split(model, path):
    try:
        split_model(model, path)
    except ValueError:
        return False
    return True


def test_splittable_agrees_with_split_model():
    for model in (_nested_model(), _residual_model()):
        infos = list_layers(model)
        assert {info.path: info.splittable for info in infos} == {
            info.path: _can_split(model, info.path) for info in infos
        }
    flags = {info.path: info.splittable for info in list_layers(_residual_model())}
    assert flags["pre"] and flags["concat"] and not flags["base/add"] and not flags["base"]
    # splittable layers come first in each group
    kinds = [(info.kind, info.splittable) for info in list_layers(_residual_model())]
    assert kinds.index(("spatial", False)) > max(
        i for i, k in enumerate(kinds) if k == ("spatial", True)
    )


def test_list_layers_errors():
    model = _nested_model()
    with pytest.raises(ValueError, match="nb_inputs"):
        list_layers(model, nb_inputs=0)
    with pytest.raises(ValueError, match="values_range"):
        list_layers(model, values_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="values_range"):
        list_layers(model, values_range="01")
    inputs = keras.Input((None, None, 3))
    free = keras.Model(inputs, keras.layers.Conv2D(2, 1)(inputs))
    with pytest.raises(ValueError, match="fixed input size"):
        list_layers(free)
    with pytest.raises(TypeError, match="keras.Model"):
        list_layers(np.zeros(3))


def test_layers_command(tmp_path, capsys):
    path = tmp_path / "nested.keras"
    _nested_model().save(path)
    assert main(["layers", "--model", str(path), "--limit", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    header = ["layer", "kind", "output", "shape", "split", "non-negative", "range"]
    assert lines[0].split() == header
    assert [line.split()[0] for line in lines[1:4]] == ["base", "base/tokens", "base/linear_map"]
    assert lines[2].split()[1] == "tokens" and "(64, 4)" in lines[2]
    assert lines[-1] == "... 4 more (--limit 0 lists all)"
    assert main(["layers", "--model", str(path), "--limit", "0", "--value-range", "0,255"]) == 0
    table = capsys.readouterr().out
    relu_line = next(line for line in table.splitlines() if line.startswith("base/relu_map"))
    assert relu_line.split()[5:7] == ["yes", "yes"] and "more" not in table


def test_format_layers_columns_align():
    text = format_layers(list_layers(_nested_model()))
    lines = text.splitlines()
    column = lines[0].index("kind")
    assert all(line[column - 2 : column] == "  " for line in lines)


def test_activation_policy_option():
    from xplique_lens.cli import _options
    from xplique_lens.lens import LensOptions

    assert LensOptions().activation_policy == "clamp"
    args = build_parser().parse_args(["demo", "--activation-policy", "signed"])
    assert _options(args).activation_policy == "signed"
    assert _options(build_parser().parse_args(["demo"])).activation_policy == "clamp"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--activation-policy", "relu"])
