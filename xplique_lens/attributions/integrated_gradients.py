"""Integrated Gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..commons.operators import OperatorSignature
from ..commons.validation import check_positive_int, check_real
from .base import WhiteBoxExplainer
from .streaming import make_gradient_chunk, stream_sums


def _path_point(x, j, context):
    baseline, steps = context
    alpha = tf.cast(j, tf.float32) / tf.maximum(steps - 1.0, 1.0)
    alpha = tf.reshape(alpha, (-1, *([1] * (x.shape.rank - 1))))
    return baseline + alpha * (x - baseline)


def _trapezoid(gradients, j, context):
    _, steps = context
    end = tf.logical_or(tf.equal(j, 0), tf.equal(tf.cast(j, tf.float32), steps - 1.0))
    weight = tf.where(end, 0.5, 1.0) / tf.maximum(steps - 1.0, 1.0)
    return (gradients * tf.reshape(weight, (-1, *([1] * (gradients.shape.rank - 1)))),)


class IntegratedGradients(WhiteBoxExplainer):
    """Path integral of the gradient from a constant baseline to the input, times the difference.

    ``IG(x) = (x - x0) * mean_trapezoid_k grad f(x0 + k / (steps - 1) (x - x0))``. Completeness:
    the attributions sum to ``f(x) - f(x0)`` up to the quadrature error. The ``n * steps``
    gradients stream in chunks of ``batch_size`` gradient passes (Xplique holds
    ``batch_size // steps`` inputs times ``steps`` at once), and the kernel works on any
    differentiable callable of a tensor. Drop-in for ``xplique.attributions.IntegratedGradients``.

    Ref. Sundararajan et al., *Axiomatic Attribution for Deep Networks* (2017),
    https://arxiv.org/abs/1703.01365.

    Parameters
    ----------
    model, output_layer, operator, reducer
        See :class:`~xplique_lens.attributions.base.WhiteBoxExplainer`.
    batch_size
        Gradient passes per chunk.
    steps
        Points of the path (trapezoidal rule), at least 2.
    baseline_value
        Value of the constant baseline ``x0``.
    """

    def __init__(
        self,
        model: Callable,
        output_layer: str | int | None = None,
        batch_size: int | None = 32,
        operator: str | OperatorSignature | None = None,
        reducer: str | None = "mean",
        steps: int = 50,
        baseline_value: float = 0.0,
    ):
        super().__init__(model, output_layer, batch_size, operator, reducer)
        self.steps = check_positive_int(steps, "steps", minimum=2)
        self.baseline_value = check_real(baseline_value, "baseline_value")
        self._chunk = make_gradient_chunk(self.gradient_function, _path_point, _trapezoid)

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Integrated gradients, ``(N, H, W, 1)`` for images, the input's shape otherwise."""
        inputs, targets = self._sanitize(inputs, targets)
        context = (tf.constant(self.baseline_value), tf.constant(float(self.steps)))
        (mean_gradient,) = stream_sums(
            self._chunk,
            (inputs, targets, context),
            int(inputs.shape[0]),
            self.steps,
            self.batch_size,
            verbose,
            "integrated gradients",
        )
        return self._reduce_channels((inputs - self.baseline_value) * mean_gradient)
