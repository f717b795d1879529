"""List the layers of a (nested) Keras model that concepts can be extracted from.

``xplique-lens layers --model m.keras`` prints this list: every layer's path, output shape,
whether the model can be split there (every path from the input to the output goes through it:
not inside a residual block), and whether its output is non-negative on a few random inputs in
the model's value range (NMF, CRAFT's default extractor, needs it; see
``Craft(activation_policy=...)`` otherwise). Spatial ``(N, h, w, c)`` and token ``(N, T, d)``
layers come first, those where the model can be split first, deepest first: that is where
concepts have a position and CRAFT can work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from .model_splitting import SEPARATOR, check_built, layer_node, make_node_key, model_graph

#: Activations with ``min >= -NEGATIVE_TOLERANCE * max |a|`` count as non-negative (round-off).
NEGATIVE_TOLERANCE = 1e-5

_KINDS = {4: "spatial", 3: "tokens", 2: "vector"}


@dataclass(frozen=True)
class LayerInfo:
    """One candidate concept layer.

    Attributes
    ----------
    path
        Path of the layer (``"base/name"`` inside nested models), accepted by every function
        that takes a layer.
    output_shape
        Output shape without the batch axis.
    kind
        ``"spatial"`` (``h, w, c``), ``"tokens"`` (``T, d``), ``"vector"`` (``d``) or
        ``"other"``.
    minimum, maximum
        Range of the activations on the random inputs.
    depth
        Position of the layer in the order of the computation (larger is deeper; a nested
        model comes right after its last layer).
    splittable
        Whether :func:`~xplique_lens.commons.split_model` can cut the model there (every path
        from the input to the output goes through the layer, and it is not the last one).
    """

    path: str
    output_shape: tuple[int | None, ...]
    kind: str
    minimum: float
    maximum: float
    depth: int
    splittable: bool = True

    @property
    def non_negative(self) -> bool:
        """Whether the activations were non-negative (up to float round-off)."""
        scale = max(abs(self.minimum), abs(self.maximum))
        return self.minimum >= -NEGATIVE_TOLERANCE * scale


def _cuts(graph) -> tuple[set[int], set[int]]:
    """``(cuts, outputs)``: ids of the nodes of ``graph`` that every path from an input to an
    output goes through, and of the nodes that produce the outputs."""
    nodes = {
        id(node): node
        for operation in graph.operations
        for index, node in enumerate(operation._inbound_nodes)
        if make_node_key(operation, index) in graph._nodes
    }
    parents = {
        key: [id(p) for p in node.parent_nodes if id(p) in nodes] for key, node in nodes.items()
    }
    outputs = set()
    for tensor in graph.outputs:
        history = tensor._keras_history
        outputs.add(id(history.operation._inbound_nodes[history.node_index]))
    inputs = {key for key, node in nodes.items() if node.is_input}
    cuts = set()
    for candidate in nodes:
        if candidate in inputs:
            continue
        stack = [key for key in outputs if key != candidate]
        seen, reached = set(stack), False
        while stack and not reached:  # an input reached around the candidate?
            key = stack.pop()
            reached = key in inputs
            for parent in parents[key]:
                if parent != candidate and parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        if not reached:
            cuts.add(candidate)
    return cuts, outputs


def _record(
    model: keras.Model,
    inputs: np.ndarray,
    prefix: str,
    found: dict,
    order: list,
    outer: tuple[bool, bool] = (True, True),
) -> None:
    """Activations of every single-output layer of ``model`` (and, recursively, of its nested
    graph models) on ``inputs``, with one forward pass per model, and whether the whole model
    can be split there: ``outer`` says whether it can be at ``model`` itself (a cut or the
    output of the enclosing graph) and whether ``model`` gives the final output."""
    graph = model_graph(model)
    cuts, outputs = _cuts(graph)
    layers, tensors, nested = [], [], {}  # nested: layer index -> index of its input tensor
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            node = layer_node(graph, layer)
        except ValueError:  # shared layer: no single output
            continue
        if len(node.output_tensors) != 1:
            continue
        is_output = id(node) in outputs
        cut = (id(node) in cuts or is_output) and outer[0]
        layers.append((layer, len(tensors), (cut, is_output and outer[1])))
        tensors.append(node.output_tensors[0])
        if isinstance(layer, keras.Model) and len(node.input_tensors) == 1:
            try:
                model_graph(layer)
            except ValueError:  # subclassed model: listed as one layer
                continue
            nested[len(layers) - 1] = len(tensors)
            tensors.append(node.input_tensors[0])
    if not tensors:
        return
    single_input = graph.inputs[0] if len(graph.inputs) == 1 else graph.inputs
    values = keras.Model(single_input, tensors)(inputs, training=False)
    values = [np.asarray(keras.ops.convert_to_numpy(v), np.float32) for v in values]
    for index, (layer, output, (cut, last)) in enumerate(layers):
        path = prefix + layer.name
        if index in nested:  # the nested layers, then the nested model (its output) after them
            _record(layer, values[nested[index]], path + SEPARATOR, found, order, (cut, last))
        order.append(path)
        found[path] = (values[output], cut and not last)


def list_layers(
    model: keras.Model,
    values_range: Sequence[float] = (0.0, 1.0),
    nb_inputs: int = 4,
    seed: int = 0,
) -> list[LayerInfo]:
    """Candidate concept layers of ``model``, most useful first.

    Parameters
    ----------
    model
        A built Sequential or functional model with a fixed image input size; nested models
        (a ``keras.applications`` base) are listed layer by layer.
    values_range
        ``(low, high)`` of the model's inputs: the random inputs are uniform in it.
    nb_inputs
        Number of random inputs the activations are measured on.
    seed
        Seed of the random inputs.

    Returns
    -------
    list of LayerInfo
        Spatial and token layers first, then vectors, then the rest; in each group the layers
        where the model can be split first, deepest first.
    """
    check_built(model)
    if isinstance(nb_inputs, bool) or not isinstance(nb_inputs, int) or nb_inputs < 1:
        raise ValueError(f"`nb_inputs` must be a positive int, got {nb_inputs!r}.")
    try:
        if isinstance(values_range, str):
            raise TypeError
        low, high = (float(v) for v in values_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"`values_range` must be two numbers (low, high), got {values_range!r}."
        ) from None
    if not low < high:
        raise ValueError(f"`values_range` must have low < high, got {values_range!r}.")
    if len(model.inputs) != 1:
        raise ValueError(f"`model` must have one input, got {len(model.inputs)}.")
    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise ValueError(
            f"`model` must have a fixed input size to be probed, got input shape {shape}."
        )
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(low, high, (nb_inputs, *shape)).astype(np.float32)
    found: dict = {}
    order: list[str] = []
    _record(model, inputs, "", found, order)
    infos = []
    for depth, path in enumerate(order):
        values, splittable = found[path]
        kind = _KINDS.get(values.ndim, "other")
        infos.append(
            LayerInfo(
                path=path,
                output_shape=tuple(int(d) for d in values.shape[1:]),
                kind=kind,
                minimum=float(values.min()) if values.size else 0.0,
                maximum=float(values.max()) if values.size else 0.0,
                depth=depth,
                splittable=splittable,
            )
        )
    group = {"spatial": 0, "tokens": 0, "vector": 1, "other": 2}
    return sorted(infos, key=lambda info: (group[info.kind], not info.splittable, -info.depth))


def format_layers(infos: Sequence[LayerInfo], total: int | None = None) -> str:
    """A plain-text table of ``infos`` (path, kind, output shape, split, non-negative, range).

    Parameters
    ----------
    infos
        The layers to show (e.g. the first ones of :func:`list_layers`).
    total
        Number of layers listed in all, to say how many are not shown.
    """
    rows = [("layer", "kind", "output shape", "split", "non-negative", "range")]
    for info in infos:
        rows.append(
            (
                info.path,
                info.kind,
                str(info.output_shape),
                "yes" if info.splittable else "no",
                "yes" if info.non_negative else "no",
                f"[{info.minimum:.3g}, {info.maximum:.3g}]",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    if total is not None and total > len(infos):
        lines.append(f"... {total - len(infos)} more (--limit 0 lists all)")
    return "\n".join(lines)
