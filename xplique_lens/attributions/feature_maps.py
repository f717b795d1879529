"""Feature maps of a convolutional layer: the layer CAM-style explainers (GradCAM, FEM) read.

Helpers shared by :class:`~xplique_lens.attributions.GradCAM`,
:class:`~xplique_lens.attributions.GradCAMPP` and :class:`~xplique_lens.attributions.FEM`:

- :func:`find_conv_layer`: the layer named by the user (index, name, path through nested models
  ``"base/name"``, unique bare name: :func:`~xplique_lens.commons.model_splitting.find_layer`),
  or by default the last top-level layer that has ``filters`` (Xplique's rule: ``Conv1D/2D/3D``,
  separable and transposed convolutions) or is a nested model with a 4-D output (the
  ``base(include_top=False)`` of the transfer-learning pattern), whichever comes last;
- :func:`features_and_outputs`: a function ``x -> (feature maps, outputs)`` on the user's layers
  (weights shared, nothing copied or modified) in which the outputs are computed *from* those
  feature maps, so that the outputs can be differentiated with respect to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from ..commons.model_splitting import find_layer, split_model


def _is_conv_like(layer: keras.layers.Layer) -> bool:
    if hasattr(layer, "filters"):
        return True
    if isinstance(layer, keras.Model):
        try:
            return len(layer.output.shape) == 4
        except (AttributeError, ValueError):
            return False
    return False


def layer_output(model: keras.Model, layer: keras.layers.Layer) -> Any:
    """The symbolic output of top-level ``layer`` *in the graph that computes* ``model.outputs``.

    ``layer.output`` is the output of the layer's first call, which is not always on that graph:
    a ``Sequential`` model loaded from a file calls its layers several times while it is
    rebuilt, and a model made of ``layer.output`` would then compute a parallel copy of the
    layers, whose feature maps the outputs do not depend on (zero gradients). The graph is
    walked back from the outputs; ``layer.output`` is the fallback (a layer not on the way).
    """
    stack, seen = list(model.outputs), set()
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            continue
        operation, node_index = history[0], history[1]
        if operation is layer:
            return tensor
        nodes = getattr(operation, "_inbound_nodes", [])
        if node_index < len(nodes):
            stack.extend(nodes[node_index].input_tensors)
    return layer.output


def find_conv_layer(model: Any, conv_layer: str | int | None) -> keras.layers.Layer:
    """The layer whose feature maps CAM methods use.

    Parameters
    ----------
    model
        A built Keras model.
    conv_layer
        Index, name, path or unique bare name (see ``find_layer``); ``None`` for the last
        top-level layer that has ``filters`` or is a nested model with a 4-D output.

    Raises
    ------
    TypeError
        If ``model`` is not a Keras model.
    ValueError
        If the layer does not exist, if there is no convolutional layer, or if the layer's output
        is not a 4-D ``(N, h, w, c)`` feature map.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model to read a convolutional layer, got "
            f"{type(model).__name__}."
        )
    if conv_layer is not None:
        layer = find_layer(model, conv_layer)
    else:
        layer = next((lay for lay in model.layers[::-1] if _is_conv_like(lay)), None)
        if layer is None:
            names = [lay.name for lay in model.layers]
            raise ValueError(
                f"`conv_layer`: the model has no convolutional layer (a layer with `filters`, or "
                f"a nested model with a 4-D output); pass `conv_layer` explicitly. Layers: {names}."
            )
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError) as error:
        raise ValueError(
            f"`conv_layer` {layer.name!r} has no single output tensor: {error}"
        ) from error
    if len(shape) != 4:
        raise ValueError(
            f"`conv_layer` {layer.name!r} must output 4-D feature maps (N, h, w, c), got shape "
            f"{shape}."
        )
    return layer


def features_and_outputs(
    model: keras.Model, layer: keras.layers.Layer
) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """``x -> (feature maps of layer, model outputs)``, the outputs computed from those maps.

    A top-level layer gives one two-output view of the graph (skip connections around the layer
    are fine); a layer of a nested model splits the model there
    (:func:`~xplique_lens.commons.model_splitting.split_model`, ``h(g(x))``).

    Raises
    ------
    ValueError
        If the model has no symbolic inputs (never built), if ``layer`` is not between the
        inputs and the outputs, or (nested layer) if a skip connection crosses it.
    """
    if not model.inputs:
        raise ValueError("`model` must be built (defined with keras.Input or called once).")
    if any(candidate is layer for candidate in model.layers):
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        try:
            view = keras.Model(inputs, [layer_output(model, layer), model.outputs[0]])
        except ValueError as error:
            raise ValueError(
                f"`conv_layer` {layer.name!r} is not between the inputs and the explained "
                f"outputs (is `output_layer` before it?): {error}"
            ) from error

        def run_view(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            feature_maps, outputs = view(x)
            return feature_maps, outputs

        return run_view
    g, h = split_model(model, layer)

    def run_split(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        feature_maps = g(x)
        return feature_maps, h(feature_maps)

    return run_split
