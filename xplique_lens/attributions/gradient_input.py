"""Gradient x Input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..commons.operators import OperatorSignature
from .base import WhiteBoxExplainer


class GradientInput(WhiteBoxExplainer):
    """Element-wise product of the input and the gradient of the score.

    Exact for a linear score (``x * w``), hence optimal for C-Deletion / C-Insertion on a linear
    concept-to-logit head (Fel et al. 2023, holistic concepts). Works on any differentiable
    callable of a tensor (e.g. ``h`` on concept codes ``(n, r)``). Drop-in for
    ``xplique.attributions.GradientInput`` (same parameters and defaults).

    Ref. Shrikumar et al., *Not Just a Black Box: Learning Important Features Through
    Propagating Activation Differences* (2016), https://arxiv.org/abs/1605.01713.

    Parameters
    ----------
    model
        Keras model or differentiable callable.
    output_layer
        Layer whose output is explained; ``None`` for the model's output.
    batch_size
        Inputs processed at once.
    operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    reducer
        Channel reduction for images (``"mean"`` as Xplique).
    """

    def __init__(
        self,
        model: Callable,
        output_layer: str | int | None = None,
        batch_size: int | None = 64,
        operator: str | OperatorSignature | None = None,
        reducer: str | None = "mean",
    ):
        super().__init__(model, output_layer, batch_size, operator, reducer)

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """``inputs * gradient``, ``(N, H, W, 1)`` for images, the input's shape otherwise.

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
        return self._reduce_channels(inputs * self.batch_gradient(inputs, targets))
