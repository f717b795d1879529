"""Differentiable ``keras.applications`` preprocessing, put in front of a model.

Models from ``keras.applications`` (and many models trained with them) expect their inputs
preprocessed by ``keras.applications.<family>.preprocess_input``: ImageNet mean and standard
deviation, channel order, 0-255 or -1..1 scales. Explaining such a model on preprocessed inputs
would show crops, attribution backgrounds and feature visualizations in that preprocessed space
(BGR, mean-subtracted...). :func:`with_preprocessing` instead returns the model
``x -> model(preprocess(x))`` that takes images in a plain value range (``(0, 1)`` or
``(0, 255)``), so everything computed on it (gradients included) stays in image space.

The three modes are those of ``keras.applications.imagenet_utils.preprocess_input``
(channels-last images), applied after mapping ``values_range`` to [0, 255]:

- ``"caffe"``: RGB to BGR, then subtract the ImageNet mean of each channel (VGG, ResNet v1);
- ``"tf"``: scale to [-1, 1] (MobileNet, Inception, Xception, ResNet v2, NASNet);
- ``"torch"``: scale to [0, 1], subtract the ImageNet mean and divide by its standard deviation
  of each channel (DenseNet).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

PREPROCESS_MODES = ("caffe", "tf", "torch")

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def check_preprocess_mode(mode: str | None) -> str | None:
    """Return ``mode`` if it is ``None`` or one of :data:`PREPROCESS_MODES`, else raise."""
    if mode is not None and mode not in PREPROCESS_MODES:
        raise ValueError(
            f"`preprocess` must be None or one of {PREPROCESS_MODES} (the modes of "
            f"keras.applications.imagenet_utils.preprocess_input), got {mode!r}."
        )
    return mode


def check_values_range(values_range: Sequence[float]) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in values_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"`values_range` must be a pair of numbers (low, high), got {values_range!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high)) or low >= high:
        raise ValueError(f"`values_range` must be finite with low < high, got {values_range!r}.")
    return low, high


def preprocess_images(
    images: tf.Tensor, mode: str, values_range: Sequence[float] = (0.0, 255.0)
) -> tf.Tensor:
    """Apply a ``keras.applications`` preprocessing mode with TensorFlow ops (differentiable).

    With ``values_range=(0, 255)`` this equals
    ``keras.applications.imagenet_utils.preprocess_input(images, mode=mode)`` on channels-last
    images (up to float32 rounding); other ranges are first mapped linearly to [0, 255].

    Parameters
    ----------
    images
        Float images ``(..., H, W, C)`` with values in ``values_range``.
    mode
        ``"caffe"``, ``"tf"`` or ``"torch"`` (see the module docstring).
    values_range
        ``(low, high)``: the range of ``images``.

    Returns
    -------
    tf.Tensor
        The preprocessed images, float32, same shape.
    """
    if mode is None:
        raise ValueError(f"`mode` must be one of {PREPROCESS_MODES}, got None.")
    check_preprocess_mode(mode)
    low, high = check_values_range(values_range)
    x = tf.cast(images, tf.float32)
    if (low, high) != (0.0, 255.0):
        x = (x - low) * (255.0 / (high - low))
    if mode == "tf":
        return x / 127.5 - 1.0
    channels = x.shape[-1]
    if channels != 3:
        raise ValueError(
            f"preprocess mode {mode!r} needs RGB images (3 channels, channels last), got "
            f"images of shape {tuple(x.shape)}."
        )
    if mode == "torch":
        return (x / 255.0 - tf.constant(_TORCH_MEAN)) / tf.constant(_TORCH_STD)
    return tf.reverse(x, axis=[-1]) - tf.constant(_CAFFE_MEAN_BGR)


@keras.saving.register_keras_serializable(package="xplique_lens")
class ImagePreprocessing(keras.layers.Layer):
    """Keras layer applying :func:`preprocess_images` (no weights; saved with the model).

    Parameters
    ----------
    mode
        ``"caffe"``, ``"tf"`` or ``"torch"``.
    values_range
        Range of the images the layer receives.
    """

    def __init__(self, mode: str, values_range: Sequence[float] = (0.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        if mode is None:
            raise ValueError(f"`preprocess` must be one of {PREPROCESS_MODES}, got None.")
        self.mode = check_preprocess_mode(mode)
        self.values_range = check_values_range(values_range)

    def call(self, inputs):
        return preprocess_images(inputs, self.mode, self.values_range)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "values_range": self.values_range}


def _all_names(model: keras.Model) -> set[str]:
    """Names of ``model`` and of every layer in its nested tree."""
    names = {model.name}
    for layer in model.layers:
        names |= _all_names(layer) if isinstance(layer, keras.Model) else {layer.name}
    return names


def _unique_name(taken: set[str], base: str) -> str:
    name, suffix = base, 1
    while name in taken:
        name, suffix = f"{base}_{suffix}", suffix + 1
    return name


class _FreshLayers:
    """Clone function making a new layer of the same config; copies weights at the end."""

    def __init__(self):
        self.pairs: list[tuple[keras.layers.Layer, keras.layers.Layer]] = []

    def __call__(self, layer: keras.layers.Layer) -> keras.layers.Layer:
        clone = layer.__class__.from_config(layer.get_config())
        self.pairs.append((layer, clone))
        return clone

    def copy_weights(self) -> None:
        for layer, clone in self.pairs:
            clone.set_weights(layer.get_weights())


def _replay(model: keras.Model, layer: ImagePreprocessing, inputs) -> keras.Model:
    """``model``'s graph rebuilt on ``layer(inputs)`` with fresh layers of the same weights."""
    fresh = _FreshLayers()
    if isinstance(model, keras.Sequential):
        wrapped = keras.Sequential(
            [inputs, layer, *(fresh(sub) for sub in model.layers)], name=model.name
        )
    else:
        preprocessed = layer(inputs)

        def call_function(operation, *args, **kwargs):
            def swap(value):
                return preprocessed if value is inputs else value

            args = keras.tree.map_structure(swap, args)
            kwargs = keras.tree.map_structure(swap, kwargs)
            return operation(*args, **kwargs)

        wrapped = keras.models.clone_model(
            model,
            input_tensors=keras.tree.map_structure(lambda _: inputs, model.input),
            clone_function=fresh,
            call_function=call_function,
        )
    fresh.copy_weights()
    return wrapped


def with_preprocessing(
    model: keras.Model, mode: str | None, values_range: Sequence[float] = (0.0, 1.0)
) -> keras.Model:
    """Return ``x -> model(preprocess(x))``: ``model`` fed with images in ``values_range``.

    The preprocessing is an :class:`ImagePreprocessing` layer (TensorFlow ops, so gradients,
    Sobol masks, CRAFT crops and MACO images all live in image space) placed *as the first
    layer* of a rebuilt copy of ``model``'s graph: same layer names (nested sub-models
    included), same weights (copied, ``model`` itself is left untouched), so a layer given by
    name, by path into a nested sub-model (``"base/conv5_block3_out"``) or by negative index
    resolves to the same layer, and splitting the model at a layer (CRAFT) works as on
    ``model``; non-negative indices shift by one (the preprocessing layer comes first).
    Fresh layers are used instead of calling ``model``'s own layers again, because a layer
    called in two graphs has an ambiguous ``layer.output``, which splitting reads.

    A model whose layers cannot be rebuilt from their config (a subclassed model, or custom
    layers without ``get_config``) is nested instead, as the layer after the preprocessing:
    its layers are then reached as ``"<model name>/<layer name>"`` (or a bare name that is
    unique in the nested tree).

    Parameters
    ----------
    model
        Built single-input Keras model on channels-last images.
    mode
        ``"caffe"``, ``"tf"`` or ``"torch"`` (the modes of
        ``keras.applications.imagenet_utils.preprocess_input``); ``None`` returns ``model``.
    values_range
        Range of the images the returned model takes, e.g. ``(0, 1)`` or ``(0, 255)``; it is
        mapped linearly to the [0, 255] that the modes expect.

    Returns
    -------
    keras.Model
        The wrapped model (``model`` itself when ``mode`` is ``None``).

    Examples
    --------
    >>> base = keras.applications.ResNet50(weights="imagenet")  # doctest: +SKIP
    >>> wrapped = with_preprocessing(base, "caffe", values_range=(0, 1))  # doctest: +SKIP
    >>> wrapped(x)  # == base(preprocess_input(255 * x, mode="caffe"))  # doctest: +SKIP
    """
    check_preprocess_mode(mode)
    values_range = check_values_range(values_range)
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    if mode is None:
        return model
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            f"`model` must be a Sequential or functional model with a known input (built "
            f"with keras.Input) to be wrapped with preprocessing, got a "
            f"{type(model).__name__} without `inputs`."
        )
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        shapes = [tuple(t.shape) for t in model.inputs]
        raise ValueError(
            f"`model` must take one batch of images (N, H, W, C) to be wrapped with "
            f"preprocessing, got inputs of shapes {shapes}."
        )
    taken = _all_names(model)

    def new_ends():
        layer = ImagePreprocessing(
            mode, values_range, name=_unique_name(taken, f"{mode}_preprocessing")
        )
        inputs = keras.Input(
            batch_shape=model.inputs[0].shape, dtype="float32", name=_unique_name(taken, "image")
        )
        return layer, inputs

    if isinstance(model, keras.Sequential) or hasattr(model, "_run_through_graph"):
        try:
            return _replay(model, *new_ends())
        except (TypeError, ValueError, NotImplementedError, KeyError):
            pass  # layers without a usable config: nest the model below instead
    layer, inputs = new_ends()
    return keras.Model(inputs, model(layer(inputs)), name=model.name)
