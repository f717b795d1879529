"""Guided Backpropagation and DeconvNet: gradients through ReLUs with a modified backward pass.

Both explainers differentiate a *view* of the user's model in which every ReLU keeps its forward
pass but gets another backward rule (:func:`override_relu_gradient`). The view is a clone of the
model graph (``keras.models.clone_model(..., recursive=True)``) in which only the layers that
apply a ReLU are new objects (with a copy of their weights and the modified activation); every
other layer is the user's own layer object, shared. The user's model, its layers and their
``activation`` attributes are never modified.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from ..commons.operators import OperatorSignature
from ..commons.tf_functions import batched, make_forward_function, make_gradient_function
from .base import WhiteBoxExplainer

ReluPolicy = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def guided_relu_gradient(gradients: tf.Tensor, gate: tf.Tensor) -> tf.Tensor:
    """Guided Backpropagation: positive gradients, where the ReLU lets the input through."""
    return tf.nn.relu(gradients) * gate


def deconv_relu_gradient(gradients: tf.Tensor, gate: tf.Tensor) -> tf.Tensor:
    """DeconvNet: positive gradients, whatever the ReLU's input."""
    return tf.nn.relu(gradients)


def _relu_with_gradient(
    policy: ReluPolicy,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> Callable[[tf.Tensor], tf.Tensor]:
    """A ReLU (``max_value`` and ``threshold`` as Keras' ``ReLU``) whose backward pass is
    ``policy(upstream gradients, gate)``, ``gate`` being the ReLU's own derivative (1 where
    ``threshold < x`` and, with ``max_value``, ``x < max_value``)."""

    @tf.custom_gradient
    def relu(inputs: tf.Tensor):
        outputs = tf.where(inputs > threshold, inputs, tf.zeros_like(inputs))
        gate = inputs > threshold
        if max_value is not None:
            outputs = tf.minimum(outputs, tf.cast(max_value, inputs.dtype))
            gate = gate & (inputs < max_value)

        def backward(upstream: tf.Tensor) -> tf.Tensor:
            return policy(upstream, tf.cast(gate, upstream.dtype))

        return outputs, backward

    return relu


class _PolicyReLU(keras.layers.Layer):
    """Stateless stand-in for a ``keras.layers.ReLU`` with another backward rule."""

    def __init__(self, relu: Callable[[tf.Tensor], tf.Tensor], **kwargs: Any):
        super().__init__(**kwargs)
        self._relu = relu

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return self._relu(inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


def _has_relu_activation(layer: keras.layers.Layer) -> bool:
    activation = getattr(layer, "activation", None)
    return activation is not None and activation in (keras.activations.relu, tf.nn.relu)


def _is_plain_relu_layer(layer: keras.layers.Layer) -> bool:
    """A ``keras.layers.ReLU`` that is a ReLU (leaky ones keep their own gradient)."""
    return isinstance(layer, keras.layers.ReLU) and not float(
        getattr(layer, "negative_slope", 0.0) or 0.0
    )


def override_relu_gradient(model: keras.Model, policy: ReluPolicy) -> keras.Model:
    """A view of ``model`` whose ReLUs backpropagate with ``policy``; ``model`` is untouched.

    ReLUs are the activations of layers built with ``activation="relu"`` (Conv, Dense,
    ``Activation("relu")``...) and the ``keras.layers.ReLU`` layers without a negative slope,
    in nested models too. Those layers are re-created from their config, get a copy of their
    weights and the ReLU of :func:`_relu_with_gradient`; all the other layers are shared.

    Parameters
    ----------
    model
        A built Keras 3 ``Sequential`` or functional model.
    policy
        ``policy(upstream_gradients, gate) -> gradients`` (e.g. :func:`guided_relu_gradient`).

    Raises
    ------
    TypeError
        If ``model`` is not a Keras model, or if a ReLU layer cannot be re-created from its
        config.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`model` must be a keras.Model (its ReLUs are overridden), got {type(model).__name__}."
        )
    copies: list[tuple[keras.layers.Layer, keras.layers.Layer]] = []

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if _is_plain_relu_layer(layer):
            max_value = getattr(layer, "max_value", None)
            relu = _relu_with_gradient(
                policy,
                None if max_value is None else float(max_value),
                float(getattr(layer, "threshold", 0.0) or 0.0),
            )
            return _PolicyReLU(relu, name=layer.name)
        if not _has_relu_activation(layer):
            return layer  # shared: same object, same weights
        try:
            new = layer.__class__.from_config(layer.get_config())
        except Exception as error:  # custom layers without a working get_config
            raise TypeError(
                f"Cannot re-create layer {layer.name!r} ({type(layer).__name__}) from its config "
                f"to override its ReLU: {error}"
            ) from error
        new.activation = _relu_with_gradient(policy)
        copies.append((layer, new))
        return new

    view = keras.models.clone_model(model, clone_function=clone, recursive=True)
    for original, new in copies:
        new.set_weights(original.get_weights())
    return view


class _ModifiedReluGradient(WhiteBoxExplainer):
    """Gradient of the score through a view of the model with modified ReLU gradients."""

    _policy: ReluPolicy

    def __init__(
        self,
        model: Callable,
        output_layer: str | int | None = None,
        batch_size: int | None = 32,
        operator: str | OperatorSignature | None = None,
        reducer: str | None = "mean",
    ):
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"`model` must be a keras.Model (its ReLUs are overridden), got "
                f"{type(model).__name__}."
            )
        super().__init__(model, output_layer, batch_size, operator, reducer)
        # the (possibly truncated) model, with the modified ReLUs; the user's model is untouched
        self.model = override_relu_gradient(self.model, type(self)._policy)
        self.forward_function = make_forward_function(self.model)
        self.gradient_function = make_gradient_function(self.model, self.operator)
        self.batch_gradient = batched(self.gradient_function, self.batch_size)

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Modified gradients, ``(N, H, W, 1)`` for images (reduced over channels with
        ``reducer``), the input's shape otherwise.

        Parameters
        ----------
        inputs
            Inputs ``(N, ...)`` (array, tensor or ``tf.data.Dataset``).
        targets
            One-hot ``(N, C)``, labels ``(N,)`` or ``None`` (predicted class).
        verbose
            Accepted for the common signature ``explain(inputs, targets=None, verbose=False)``;
            this method runs in one batched pass, without a progress bar.
        """
        inputs, targets = self._sanitize(inputs, targets)
        return self._reduce_channels(self.batch_gradient(inputs, targets))


class GuidedBackprop(_ModifiedReluGradient):
    """Guided Backpropagation: at every ReLU, only positive gradients flowing into positive
    inputs pass backward.

    Drop-in for ``xplique.attributions.GuidedBackprop`` (same parameters, defaults and output).
    Like Xplique, the ReLUs of a clone of the model are replaced; here only the layers that apply
    a ReLU are re-created (the others are shared, never copied) and the user's model is never
    modified. Differences: the gate is the ReLU's own derivative, so a ``ReLU(max_value=6)``
    (MobileNet) also stops gradients above 6 (Xplique gates on ``x > 0`` only); a
    ``ReLU(negative_slope=...)`` keeps its own gradient (Xplique replaces it by a plain ReLU,
    changing the forward pass).

    Ref. Springenberg et al., *Striving for Simplicity: The All Convolutional Net* (2014),
    https://arxiv.org/abs/1412.6806.

    Parameters
    ----------
    model
        A built Keras model (Sequential or functional, nested models included).
    output_layer
        Layer whose output is explained; ``None`` for the model's output.
    batch_size
        Inputs processed at once; ``None`` for all at once.
    operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    reducer
        Channel reduction for images (``"mean"`` as Xplique).
    """

    _policy = staticmethod(guided_relu_gradient)


class DeconvNet(_ModifiedReluGradient):
    """DeconvNet: at every ReLU, only positive gradients pass backward, whatever the input.

    Drop-in for ``xplique.attributions.DeconvNet`` (same parameters, defaults and output); the
    model is handled as in :class:`GuidedBackprop` (a view, the user's model untouched).

    Ref. Zeiler & Fergus, *Visualizing and Understanding Convolutional Networks* (2013),
    https://arxiv.org/abs/1311.2901.

    Parameters
    ----------
    model, output_layer, batch_size, operator, reducer
        See :class:`GuidedBackprop`.
    """

    _policy = staticmethod(deconv_relu_gradient)
