"""Compiled building blocks shared by explainers and metrics: scores and gradients of an operator.

Each factory returns a ``tf.function`` with a relaxed batch dimension, so the last, smaller batch
does not trigger a new trace. ``model`` may be a Keras model or any differentiable callable of a
tensor (e.g. the latent-to-logit part of a model applied to concept codes).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from .batching import batch_apply
from .operators import OperatorSignature


def make_score_function(model: Callable, operator: OperatorSignature) -> Callable:
    """``(inputs, targets) -> scores (N,)``, compiled."""

    @tf.function(reduce_retracing=True)
    def scores(inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        return operator(model, inputs, targets)

    return scores


def make_gradient_function(model: Callable, operator: OperatorSignature) -> Callable:
    """``(inputs, targets) -> d operator / d inputs`` (same shape as inputs), compiled."""

    @tf.function(reduce_retracing=True)
    def gradients(inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            scores = operator(model, inputs, targets)
        return tape.gradient(scores, inputs)

    return gradients


def batched(fn: Callable, batch_size: int | None) -> Callable:
    """Wrap ``fn(inputs, targets)`` to run over batches of ``batch_size`` samples."""

    def run(inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        return batch_apply(fn, (inputs, targets), batch_size)

    return run


def make_forward_function(model: Callable) -> Callable:
    """``inputs -> model(inputs)``, compiled."""

    @tf.function(reduce_retracing=True)
    def forward(inputs: tf.Tensor) -> tf.Tensor:
        return model(inputs)

    return forward
