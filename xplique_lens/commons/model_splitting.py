"""Find a layer of a (nested) Keras model, and split the model ``f`` at it into ``h o g``.

A layer is named by

- an ``int``: index in ``model.layers`` (the top level; negative allowed);
- a ``str``: a top-level name (``"dense"``), a path through nested models
  (``"mobilenetv2_1.00_224/out_relu"``), or a bare name or path suffix that is unique in the
  whole nested tree (``"out_relu"``), tried in this order;
- the ``keras.layers.Layer`` object itself.

The usual transfer-learning model ``Sequential([preprocessing, base, pooling, Dense])`` thus gives
access to every layer of ``base``. Splitting inside a nested functional model rewires the graph
without copying weights: ``g`` runs the outer layers before ``base`` then the part of ``base`` up
to the layer; ``h`` runs the rest of ``base`` then the outer layers after it.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

import keras

try:  # Keras 3 internals: the graph of a functional model
    from keras.src.models.functional import Functional
    from keras.src.ops.function import make_node_key
except ImportError:  # pragma: no cover - other Keras layouts
    Functional = None
    make_node_key = None

#: Separator of the names in a layer path.
SEPARATOR = "/"
#: At most this many layer paths are listed in an error message.
MAX_LISTED = 25

LayerSpec = str | int | keras.layers.Layer


def _walk(model: keras.Model) -> list[tuple[str, tuple[keras.layers.Layer, ...]]]:
    """Every layer of ``model`` and of its nested models, depth first in model order, as
    ``(path, chain)``: ``chain`` holds the layers from the top level down to the layer."""
    found: list[tuple[str, tuple[keras.layers.Layer, ...]]] = []

    def visit(container: keras.Model, prefix: str, chain: tuple) -> None:
        for layer in container.layers:
            path, sub_chain = prefix + layer.name, (*chain, layer)
            found.append((path, sub_chain))
            if isinstance(layer, keras.Model):
                visit(layer, path + SEPARATOR, sub_chain)

    visit(model, "", ())
    return found


def layer_paths(model: keras.Model) -> list[str]:
    """Paths of every layer of ``model`` and of its nested models, depth first, in model order.

    Parameters
    ----------
    model
        A Keras model.

    Returns
    -------
    paths
        ``"name"`` for top-level layers, ``"base/.../name"`` for layers of nested models.
    """
    _check_model(model)
    return [path for path, _ in _walk(model)]


def _check_model(model: Any) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")


def _listing(paths: list[str], wanted: str | None = None) -> str:
    shown = paths[:MAX_LISTED]
    more = f" ... and {len(paths) - len(shown)} more" if len(paths) > len(shown) else ""
    text = f"available layers: {shown}{more}"
    if wanted:
        names = sorted({p.rsplit(SEPARATOR, 1)[-1] for p in paths} | set(paths))
        close = difflib.get_close_matches(wanted, names, n=5, cutoff=0.6)
        if close:
            text = f"did you mean {close}? " + text
    return text


def resolve_layer(model: keras.Model, layer: LayerSpec) -> tuple[keras.layers.Layer, ...]:
    """The chain of layers leading to ``layer``: ``(top-level layer, ..., layer)``.

    Parameters
    ----------
    model
        A Keras model, possibly with nested models.
    layer
        Index of the top level, top-level name, path ``"base/name"``, bare name unique in the
        nested tree, or the layer object.

    Returns
    -------
    chain
        One layer for a top-level layer; ``(base, ..., layer)`` for a nested one.

    Raises
    ------
    TypeError
        If ``layer`` is not a str, int or Layer.
    ValueError
        If the index is out of range, the name does not exist, or a bare name is ambiguous
        (the message lists the candidate paths).
    """
    _check_model(model)
    if isinstance(layer, bool) or not isinstance(layer, str | int | keras.layers.Layer):
        raise TypeError(
            "`layer` must be a layer name or path (str), a top-level index (int) or a "
            f"keras.layers.Layer, got {layer!r}."
        )
    layers = model.layers
    if isinstance(layer, int):
        if not -len(layers) <= layer < len(layers):
            raise ValueError(
                f"`layer` index {layer} is out of range for a model with {len(layers)} layers."
            )
        return (layers[layer],)
    walk = _walk(model)
    if isinstance(layer, keras.layers.Layer):
        chains = [chain for _, chain in walk if chain[-1] is layer]
        if not chains:
            raise ValueError(f"`layer` {layer.name!r} (a Layer object) is not a layer of `model`.")
        if len(chains) > 1:
            paths = [SEPARATOR.join(c.name for c in chain) for chain in chains]
            raise ValueError(
                f"`layer` {layer.name!r} is used in several nested models: {paths}; give a path."
            )
        return chains[0]
    for candidate in layers:  # a top-level name wins over nested layers of the same name
        if candidate.name == layer:
            return (candidate,)
    for path, chain in walk:
        if path == layer:
            return chain
    suffix = SEPARATOR + layer
    matches = [(path, chain) for path, chain in walk if path.endswith(suffix)]
    if len(matches) == 1:
        return matches[0][1]
    if len(matches) > 1:
        paths = [path for path, _ in matches]
        raise ValueError(
            f"`layer` {layer!r} is ambiguous: it names {len(paths)} layers of the nested models "
            f"{paths[:MAX_LISTED]}; give one of these paths."
        )
    raise ValueError(
        f"`layer` {layer!r} does not exist in the model; "
        + _listing([path for path, _ in walk], layer)
        + "."
    )


def find_layer(model: keras.Model, layer: LayerSpec) -> keras.layers.Layer:
    """Return the layer of ``model`` (or of a nested model) named by ``layer``.

    Parameters
    ----------
    model
        A Keras model, possibly with nested models (e.g. a ``keras.applications`` base).
    layer
        An ``int`` index of the top level (negative allowed), a top-level name, a path through
        nested models (``"base/name"``), a bare name unique in the nested tree, or the layer.

    Returns
    -------
    keras.layers.Layer
        The layer object.

    Raises
    ------
    TypeError, ValueError
        See :func:`resolve_layer`.
    """
    return resolve_layer(model, layer)[-1]


def layer_path(model: keras.Model, layer: LayerSpec) -> str:
    """The full path ``"base/.../name"`` of ``layer`` in ``model`` (the name at the top level)."""
    return SEPARATOR.join(item.name for item in resolve_layer(model, layer))


# --------------------------------------------------------------------------- graph surgery
def model_graph(model: keras.Model) -> Any:
    """The functional graph of a built Sequential or functional model.

    Parameters
    ----------
    model
        A built ``keras.Sequential`` or functional model.

    Returns
    -------
    Any
        The Keras 3 ``Functional`` object holding the graph (Keras internals: its nodes are
        what :func:`layer_node` looks up).

    Raises
    ------
    ValueError
        If ``model`` is an unbuilt Sequential, or a subclassed model (no graph to look into).
    """
    if isinstance(model, keras.Sequential):
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise ValueError(
                f"`model` {model.name!r} must be built (defined with keras.Input or called once)."
            )
        return graph
    if Functional is not None and isinstance(model, Functional):
        return model
    raise ValueError(
        f"Cannot look inside {model.name!r} ({type(model).__name__}): only Sequential and "
        "functional models have a graph that can be split; choose a layer outside it."
    )


def layer_node(graph: Any, layer: keras.layers.Layer) -> Any:
    """The call of ``layer`` in ``graph`` (its unique node there).

    Parameters
    ----------
    graph
        A graph from :func:`model_graph`.
    layer
        A layer called in that graph.

    Raises
    ------
    ValueError
        If ``layer`` is called more than once (or never) in ``graph``.
    """
    nodes = [
        node
        for index, node in enumerate(layer._inbound_nodes)
        if make_node_key(layer, index) in graph._nodes
    ]
    if len(nodes) != 1:
        raise ValueError(
            f"Layer {layer.name!r} is called {len(nodes)} times in {graph.name!r}: a shared "
            "layer has no single output to cut at."
        )
    return nodes[0]


def _single(tensors: Sequence) -> Any:
    tensors = list(tensors)
    return tensors[0] if len(tensors) == 1 else tensors


def _tensor(model: keras.Model, chain: Sequence[keras.layers.Layer], keep_names: bool) -> Any:
    """The output of ``chain[-1]`` as a symbolic tensor of ``model``'s graph (a function of its
    inputs); a layer of a nested model is reached through a prefix of that model, named as the
    nested model when ``keep_names`` (else a unique name: several prefixes may coexist)."""
    graph = model_graph(model)
    node = layer_node(graph, chain[0])
    if len(chain) == 1:
        return _single(node.output_tensors)
    inner = chain[0]
    inner_graph = model_graph(inner)
    name = inner.name if keep_names else f"{inner.name}_to_{chain[-1].name}_{id(chain[-1]):x}"
    prefix = keras.Model(
        _single(inner_graph.inputs), _tensor(inner, chain[1:], keep_names), name=name
    )
    return prefix(_single(node.input_tensors))


def _skip_error(layer: keras.layers.Layer, error: Exception) -> ValueError:
    return ValueError(
        f"Cannot split the model at {layer.name!r}: later layers read tensors that do not "
        f"pass through it (a skip connection across the cut). Choose a layer every path "
        f"goes through. Keras said: {error}"
    )


def _is_output(tensors: Any, outputs: Sequence) -> bool:
    tensors = tensors if isinstance(tensors, list) else [tensors]
    return len(tensors) == len(outputs) and all(t is o for t, o in zip(tensors, outputs))


def _suffix(model: keras.Model, chain: Sequence[keras.layers.Layer], name: str | None = None):
    """The model from the output of ``chain[-1]`` to the outputs of ``model``; ``None`` when
    that output is the model's output (nothing left)."""
    graph = model_graph(model)
    node = layer_node(graph, chain[0])
    if len(chain) == 1:
        start = _single(node.output_tensors)
        if _is_output(start, graph.outputs):
            return None
        try:
            return keras.Model(start, _single(graph.outputs), name=name)
        except ValueError as error:
            raise _skip_error(chain[0], error) from error
    inner_rest = _suffix(chain[0], chain[1:], name=f"{chain[0].name}_h")
    outer_rest = _suffix(model, chain[:1])
    if inner_rest is None or outer_rest is None:
        rest = inner_rest if outer_rest is None else outer_rest
        return None if rest is None else keras.Model(rest.input, _single(rest.outputs), name=name)
    start = inner_rest.inputs[0]
    start = keras.Input(batch_shape=start.shape, dtype=start.dtype)
    return keras.Model(start, outer_rest(inner_rest(start)), name=name)


def check_built(model: keras.Model) -> Any:
    """The graph of ``model`` (see :func:`model_graph`) after checking that it is a built
    Keras model with known inputs; raises ``TypeError`` / ``ValueError`` otherwise."""
    _check_model(model)
    if not model.built or not model.inputs:
        raise ValueError("`model` must be built (called once or defined with keras.Input).")
    return model_graph(model)


def layer_model(model: keras.Model, layers: LayerSpec | Sequence[LayerSpec]) -> keras.Model:
    """A model from the inputs of ``model`` to the output(s) of ``layers`` (weights shared).

    Unlike ``keras.Model(model.inputs, layer.output)``, this works for layers of nested models
    (``layer.output`` is then a tensor of the nested model's own graph) and for any layer,
    including the last one.

    Parameters
    ----------
    model
        A built Sequential or functional model.
    layers
        One layer (any form accepted by :func:`find_layer`) or a list of layers.

    Returns
    -------
    keras.Model
        Outputs the activations of the layer, or the list of them for a list of layers.
    """
    graph = check_built(model)
    if isinstance(layers, list | tuple):
        outputs = [_tensor(model, resolve_layer(model, layer), False) for layer in layers]
    else:
        outputs = _tensor(model, resolve_layer(model, layers), False)
    return keras.Model(_single(graph.inputs), outputs, name=f"{model.name}_features")


def split_model(model: keras.Model, layer: LayerSpec) -> tuple[keras.Model, keras.Model]:
    """Split ``model`` into ``g`` and ``h`` so that ``h(g(x)) == model(x)``.

    Parameters
    ----------
    model
        A built Keras 3 ``Sequential`` or functional model (possibly with nested models).
    layer
        The last layer of ``g``: any form accepted by :func:`find_layer` (index, name, path
        ``"base/name"``, unique bare name, Layer).

    Returns
    -------
    g, h
        ``g`` maps inputs to the activations of ``layer``; ``h`` maps those activations to the
        model outputs. Both share the weights of ``model`` (nothing is copied or modified). For
        a layer of a nested model ``base``, ``g`` contains a prefix of ``base`` under the name
        of ``base`` (so the paths of the earlier layers still resolve in ``g``), and ``h`` the
        rest of ``base`` followed by the outer layers after ``base``.

    Raises
    ------
    ValueError
        If the layer does not exist, is the last layer, or if later layers also read tensors
        computed before ``layer`` (a skip connection across the cut, in ``model`` or in the
        nested model): ``h`` would then need more than the activations of ``layer``.
    """
    graph = check_built(model)
    chain = resolve_layer(model, layer)
    h = _suffix(model, chain, name=f"{model.name}_h")
    if h is None:
        raise ValueError(f"`layer` {chain[-1].name!r} is the last layer: `h` would be empty.")
    # the prefix of a nested model keeps its name: the paths of earlier layers resolve in ``g``
    g = keras.Model(_single(graph.inputs), _tensor(model, chain, True), name=f"{model.name}_g")
    return g, h
