"""Grad-CAM and Grad-CAM++: class activation maps weighted by the gradients of the score."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..commons.operators import OperatorSignature
from ..commons.tf_functions import BatchPolymorphicFunction, batched
from .base import WhiteBoxExplainer
from .feature_maps import features_and_outputs, find_conv_layer


def gradcam_weights(gradients: tf.Tensor, feature_maps: tf.Tensor) -> tf.Tensor:
    """Grad-CAM channel weights ``(N, 1, 1, c)``: the spatial mean of ``d score / d A``."""
    return tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)


def gradcam_pp_weights(
    gradients: tf.Tensor, feature_maps: tf.Tensor, epsilon: float = 1e-4
) -> tf.Tensor:
    """Grad-CAM++ channel weights ``(N, 1, 1, c)`` (Xplique's formula, see :class:`GradCAMPP`).

    ``alpha = g**2 / (2 g**2 + g**3 * mean(A))`` (``epsilon`` where the denominator is 0), then
    ``w = mean(alpha * relu(g))`` over the spatial positions.
    """
    square = tf.square(gradients)
    cube = square * gradients
    mean_activation = tf.reduce_mean(feature_maps, axis=(1, 2), keepdims=True)
    denominator = 2.0 * square + cube * mean_activation
    denominator += tf.cast(tf.equal(denominator, 0.0), denominator.dtype) * epsilon
    alphas = square / denominator * tf.nn.relu(gradients)
    return tf.reduce_mean(alphas, axis=(1, 2), keepdims=True)


def make_cam_function(
    features_and_outputs: Callable,
    operator: OperatorSignature,
    weights_fn: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
) -> BatchPolymorphicFunction:
    """Compiled ``(inputs, targets) -> ReLU(sum_k w_k A_k)`` of shape ``(N, h, w)``.

    ``features_and_outputs(x) -> (A, outputs)``; the operator's score is differentiated with
    respect to ``A`` (one forward and one partial backward pass).
    """

    def cams(inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        seen: list[tf.Tensor] = []

        def predict(x: tf.Tensor) -> tf.Tensor:
            feature_maps, outputs = features_and_outputs(x)
            seen.append(feature_maps)
            return outputs

        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(inputs)
            scores = operator(predict, inputs, targets)
        if not seen:
            raise ValueError("`operator` never called the model: no feature maps to weight.")
        feature_maps = seen[-1]
        gradients = tape.gradient(scores, feature_maps)
        if gradients is None:
            raise ValueError(
                "The score does not depend on the feature maps of `conv_layer` (is "
                "`output_layer` before it?)."
            )
        weights = weights_fn(gradients, feature_maps)
        return tf.nn.relu(tf.reduce_sum(feature_maps * weights, axis=-1))

    return BatchPolymorphicFunction(cams)


class GradCAM(WhiteBoxExplainer):
    """Grad-CAM: feature maps of a convolutional layer weighted by their mean gradient.

    ``map = ReLU(sum_k w_k A_k)`` with ``w_k = mean_{ij} d score / d A_k[i, j]``, upsampled
    (bicubic) from the layer's resolution to the input's, ``(N, H, W, 1)``. Drop-in for
    ``xplique.attributions.GradCAM`` (same parameters, defaults, layer choice and output), with
    these differences:

    - ``operator`` and ``output_layer`` are honoured (Xplique 2.0.2 always differentiates
      ``sum(model(x) * targets)`` of the full model, whatever they are); with their defaults
      the maps are the same;
    - one compiled function per explainer gives the feature maps and their gradients (a
      two-output view of the model, weights shared); Xplique patches the layer's ``call``;
    - ``conv_layer=None`` also finds a nested base model with a 4-D output (the
      ``Sequential([base(include_top=False), pooling, Dense])`` pattern), where Xplique finds
      none; bad layers raise ``ValueError``.

    Ref. Selvaraju et al., *Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
    Localization* (2017), https://arxiv.org/abs/1610.02391.

    Parameters
    ----------
    model
        A built Keras model on images ``(N, H, W, C)``.
    output_layer
        Layer whose output is explained (e.g. the logits before a softmax); ``None`` for the
        model's output.
    batch_size
        Inputs processed at once; ``None`` for all at once.
    operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    conv_layer
        Layer whose feature maps are weighted: index, name, path through nested models
        (``"base/name"``) or unique bare name; ``None`` for the last top-level layer with
        ``filters`` (Xplique's rule) or nested model with a 4-D output.
    """

    _weights = staticmethod(gradcam_weights)

    def __init__(
        self,
        model: Callable,
        output_layer: str | int | None = None,
        batch_size: int | None = 32,
        operator: str | OperatorSignature | None = None,
        conv_layer: str | int | None = None,
    ):
        layer = find_conv_layer(model, conv_layer)
        super().__init__(model, output_layer, batch_size, operator, reducer=None)
        self.conv_layer = layer
        # on the explained model (truncated at ``output_layer``): feature maps and outputs
        self._cam = make_cam_function(
            features_and_outputs(self.model, layer), self.operator, self._weights
        )

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Class activation maps ``(N, H, W, 1)`` (float32), upsampled to the inputs' size.

        Parameters
        ----------
        inputs
            Images ``(N, H, W, C)`` (array, tensor or ``tf.data.Dataset``).
        targets
            One-hot ``(N, C)``, labels ``(N,)`` or ``None`` (predicted class).
        verbose
            Accepted for the common signature ``explain(inputs, targets=None, verbose=False)``;
            this method runs in one batched pass, without a progress bar.
        """
        inputs, targets = self._sanitize(inputs, targets)
        if inputs.shape.rank != 4:
            raise ValueError(
                f"`inputs` must be images (N, H, W, C), got shape {tuple(inputs.shape)}."
            )
        cams = batched(self._cam, self.batch_size)(inputs, targets)
        return tf.image.resize(cams[..., None], inputs.shape[1:3], method="bicubic")


class GradCAMPP(GradCAM):
    """Grad-CAM++: channel weights from second- and third-order terms of ``exp(score)``.

    ``alpha = g**2 / (2 g**2 + g**3 * mean_{ij}(A))`` and ``w = mean_{ij}(alpha * ReLU(g))``,
    exactly as ``xplique.attributions.GradCAMPP`` (same parameters and output). The paper's
    denominator sums ``A`` over the positions where Xplique (and we, for drop-in parity) take the
    mean: the weights then differ from the paper's by more than a scale when the map is large.
    See :class:`GradCAM` for the other differences with Xplique.

    Ref. Chattopadhyay et al., *Grad-CAM++: Improved Visual Explanations for Deep
    Convolutional Networks* (2018), https://arxiv.org/abs/1710.11063.

    Parameters
    ----------
    model, output_layer, batch_size, operator, conv_layer
        See :class:`GradCAM`.
    """

    _weights = staticmethod(gradcam_pp_weights)
