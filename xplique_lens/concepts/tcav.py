"""Testing with CAVs (TCAV): the share of inputs whose class score increases along a concept
direction at one layer (the sign of the directional derivative).

Ref. Kim et al., *Interpretability Beyond Feature Attribution: Quantitative Testing with Concept
Activation Vectors (TCAV)* (ICML 2018), https://arxiv.org/abs/1711.11279.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..commons.batching import batch_apply
from ..commons.inputs import model_input_rank, sanitize_inputs
from ..commons.model_splitting import find_layer
from ..commons.tf_functions import shared_function
from ..commons.validation import check_batch_size, check_finite, to_float_tensor
from .cav import layer_split


def directional_derivative_function(g: Callable, h: Callable | None) -> Callable:
    """The compiled ``(inputs, label, cav[None]) -> (N,)``: ``<d h(a)[label] / d a, cav>`` at
    ``a = g(inputs)`` (``h=None``: the layer is the output, ``h`` the identity). Shared by every
    :class:`Tcav` of the same split (see :func:`~xplique_lens.concepts.cav.layer_split`); the
    cache holds ``h`` (or ``g`` for the output layer) weakly."""
    key_model, bottleneck = (g, None) if h is None else (h, g)

    def build(get_model: Callable[[], Callable]) -> Callable:
        def directional_derivative(
            inputs: tf.Tensor, label: tf.Tensor, cav: tf.Tensor
        ) -> tf.Tensor:
            if bottleneck is None:  # the layer is the output
                activations = get_model()(inputs)
            else:
                activations = bottleneck(inputs)
            with tf.GradientTape() as tape:
                tape.watch(activations)
                outputs = activations if bottleneck is None else get_model()(activations)
                scores = tf.gather(outputs, label, axis=-1)
            gradients = tape.gradient(scores, activations)
            products = tf.reshape(gradients * cav, (tf.shape(gradients)[0], -1))
            return tf.reduce_sum(products, axis=-1)

        return directional_derivative

    return shared_function("tcav_directional_derivative", key_model, None, build)


class Tcav:
    """TCAV score of a concept for a class: the fraction of inputs whose class logit increases
    when their activations at ``target_layer`` move along the concept's CAV (a positive
    directional derivative).

    The model is cut at the layer into ``g`` and ``h`` (:func:`~xplique_lens.commons.split_model`)
    and the directional derivatives of a batch are computed in one compiled call, traced once per
    model, layer and input shape and shared by every ``Tcav`` of that layer; ``label`` and
    ``cav`` are tensors, so testing other classes or concepts traces nothing.

    Ref. Kim et al., *Interpretability Beyond Feature Attribution: Quantitative Testing with
    Concept Activation Vectors (TCAV)* (ICML 2018), https://arxiv.org/abs/1711.11279. Drop-in
    for ``xplique.concepts.Tcav`` (same parameters and scores). Differences: the layer's output
    is reached by splitting the model, not by patching the layer's ``call`` (Xplique's
    ``watch_layer``), so the model is never modified, but a layer inside a residual block (a
    skip connection across the cut) is refused with a clear error; ``score`` returns a Python
    float and checks ``label`` and the CAV's shape.

    Parameters
    ----------
    model
        Keras model; its outputs are the class scores (logits, as in Xplique).
    target_layer
        Name or index of the layer of the CAV.
    batch_size
        Number of inputs whose gradients are computed at once; ``None`` for all at once.
    """

    def __init__(
        self, model: keras.Model, target_layer: str | int, batch_size: int | None = 64
    ) -> None:
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
        self.model = model
        self.batch_size = check_batch_size(batch_size)
        self.target_layer = find_layer(model, target_layer)
        self.g, self.h = layer_split(model, target_layer)
        self.activation_shape = tuple(self.g.outputs[0].shape[1:])
        self._directional_derivative = directional_derivative_function(self.g, self.h)

    def _label(self, label: Any) -> tf.Tensor:
        value = label.numpy() if isinstance(label, tf.Tensor) else label
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"`label` must be a class index (int), got {label!r}.")
        nb_classes = int(self.model.outputs[0].shape[-1])
        if not 0 <= value < nb_classes:
            raise ValueError(f"`label` must be in [0, {nb_classes}), got {value}.")
        return tf.constant(int(value), tf.int32)

    def _cav(self, cav: Any) -> tf.Tensor:
        cav = to_float_tensor(cav, "cav")
        if int(np.prod(cav.shape)) != int(np.prod(self.activation_shape)):
            raise ValueError(
                f"`cav` must have the shape of the activations of layer "
                f"{self.target_layer.name!r}, {self.activation_shape}, got {tuple(cav.shape)}."
            )
        check_finite(cav, "cav")
        return tf.reshape(cav, (1, *self.activation_shape))

    def directional_derivative(self, inputs: Any, label: int, cav: Any) -> tf.Tensor:
        """Directional derivative of the ``label`` score along ``cav`` for each input, ``(N,)``.

        Parameters
        ----------
        inputs
            Samples ``(N, ...)``: array, tensor or ``tf.data.Dataset``.
        label
            Index of the class.
        cav
            Concept Activation Vector, the shape of the layer's activations (see :class:`Cav`).
        """
        inputs, _ = sanitize_inputs(inputs, None, model_input_rank(self.model))
        label, cav = self._label(label), self._cav(cav)
        return batch_apply(
            lambda x: self._directional_derivative(x, label, cav), (inputs,), self.batch_size
        )

    def score(self, inputs: Any, label: int, cav: Any) -> float:
        """TCAV score: the fraction of ``inputs`` with a positive directional derivative.

        Parameters
        ----------
        inputs
            Samples on which the concept's influence is tested.
        label
            Index of the class tested.
        cav
            Concept Activation Vector (see :class:`~xplique_lens.concepts.Cav`).

        Returns
        -------
        float
            In ``[0, 1]``.
        """
        return float(np.mean(self.directional_derivative(inputs, label, cav).numpy() > 0.0))

    def __call__(self, inputs: Any, label: int, cav: Any) -> float:
        """Alias of :meth:`score`."""
        return self.score(inputs, label, cav)
