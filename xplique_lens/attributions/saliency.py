"""Saliency maps: the absolute gradient of the score with respect to the input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..commons.operators import OperatorSignature
from .base import WhiteBoxExplainer


class Saliency(WhiteBoxExplainer):
    """Absolute gradient of the operator's score, maximum over channels for images.

    Ref. Simonyan et al., *Deep Inside Convolutional Networks: Visualising Image Classification
    Models and Saliency Maps* (2013), https://arxiv.org/abs/1312.6034. Same parameters and
    defaults as ``xplique.attributions.Saliency``.

    Parameters
    ----------
    model
        Keras model or differentiable callable.
    output_layer
        Layer whose output is explained (e.g. logits); ``None`` for the model's output.
    batch_size
        Number of inputs processed at once.
    operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    reducer
        Channel reduction for images; ``"max"`` as in the paper.
    """

    def __init__(
        self,
        model: Callable,
        output_layer: str | int | None = None,
        batch_size: int | None = 32,
        operator: str | OperatorSignature | None = None,
        reducer: str | None = "max",
    ):
        super().__init__(model, output_layer, batch_size, operator, reducer)

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Saliency maps, ``(N, H, W, 1)`` for images, the input's shape otherwise.

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
        return self._reduce_channels(tf.abs(self.batch_gradient(inputs, targets)))
