"""Split a Keras model ``f`` at a layer into ``g`` (input -> layer output) and ``h`` (rest)."""

from __future__ import annotations

import keras


def find_layer(model: keras.Model, layer: str | int) -> keras.layers.Layer:
    """Return the layer of ``model`` named ``layer`` or at index ``layer`` (negative allowed)."""
    layers = model.layers
    if isinstance(layer, bool) or not isinstance(layer, str | int):
        raise TypeError(f"`layer` must be a layer name (str) or index (int), got {layer!r}.")
    if isinstance(layer, int):
        if not -len(layers) <= layer < len(layers):
            raise ValueError(
                f"`layer` index {layer} is out of range for a model with {len(layers)} layers."
            )
        return layers[layer]
    for candidate in layers:
        if candidate.name == layer:
            return candidate
    names = [candidate.name for candidate in layers]
    raise ValueError(f"`layer` {layer!r} does not exist in the model; available layers: {names}.")


def split_model(model: keras.Model, layer: str | int) -> tuple[keras.Model, keras.Model]:
    """Split ``model`` into ``g`` and ``h`` so that ``h(g(x)) == model(x)``.

    Parameters
    ----------
    model
        A built Keras 3 ``Sequential`` or functional model.
    layer
        Name or index of the last layer of ``g``.

    Returns
    -------
    g, h
        ``g`` maps inputs to the activations of ``layer``; ``h`` maps those activations to the
        model outputs. Both share the weights of ``model`` (nothing is copied or modified).

    Raises
    ------
    ValueError
        If the layer does not exist, is the last layer, or if later layers also read tensors
        computed before ``layer`` (a skip connection across the cut): ``h`` would then need more
        than the activations of ``layer``.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    target = find_layer(model, layer)
    index = model.layers.index(target)
    if index == len(model.layers) - 1:
        raise ValueError(f"`layer` {target.name!r} is the last layer: `h` would be empty.")

    if not model.built or not model.inputs:
        raise ValueError("`model` must be built (called once or defined with keras.Input).")
    model_input = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    model_output = model.outputs[0] if len(model.outputs) == 1 else model.outputs

    if isinstance(model, keras.Sequential):
        g = keras.Sequential(
            [keras.Input(shape=model_input.shape[1:]), *model.layers[: index + 1]],
            name=f"{model.name}_g",
        )
        h = keras.Sequential(
            [keras.Input(shape=target.output.shape[1:]), *model.layers[index + 1 :]],
            name=f"{model.name}_h",
        )
        return g, h

    try:
        g = keras.Model(model_input, target.output, name=f"{model.name}_g")
        h = keras.Model(target.output, model_output, name=f"{model.name}_h")
    except ValueError as error:
        raise ValueError(
            f"Cannot split the model at {target.name!r}: later layers read tensors that do not "
            f"pass through it (a skip connection across the cut). Choose a layer every path "
            f"goes through. Keras said: {error}"
        ) from error
    return g, h

    try:
        g = keras.Model(model.inputs, target.output, name=f"{model.name}_g")
        h = keras.Model(target.output, model.outputs, name=f"{model.name}_h")
    except ValueError as error:
        raise ValueError(
            f"Cannot split the model at {target.name!r}: later layers read tensors that do not "
            f"pass through it (a skip connection across the cut). Choose a layer every path "
            f"goes through. Keras said: {error}"
        ) from error
    if len(model.outputs) == 1 and isinstance(h.outputs, list) and len(h.outputs) == 1:
        h = keras.Model(h.inputs, h.outputs[0], name=h.name)
    return g, h
