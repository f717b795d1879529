"""Base classes of metrics, with Xplique's signatures.

``ExplanationMetric`` scores given explanations (``evaluate(explanations)``);
``ExplainerMetric`` scores an explainer by calling it (``evaluate(explainer)``). Both take the
evaluation set at construction, sanitised once (a dataset is iterated once).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..commons.inputs import sanitize_for_model
from ..commons.operators import OperatorSignature, get_operator, with_activation
from ..commons.tf_functions import make_forward_function, make_score_function
from ..commons.validation import check_batch_size


class BaseAttributionMetric:
    """Holds the model, the evaluation inputs and targets, and the batching / scoring settings.

    Parameters
    ----------
    model
        Keras model or callable.
    inputs
        Array, tensor, or ``tf.data.Dataset`` of ``(inputs, targets)``.
    targets
        One-hot ``(N, C)`` or labels ``(N,)``; ``None`` for the model's predicted classes.
    batch_size
        Number of forward passes run at once.
    operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    activation
        ``None``, ``"softmax"`` or ``"sigmoid"``, applied to the model's outputs before scoring
        (metrics are often computed on probabilities while explainers use logits).
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
    ):
        self.model = model
        self.batch_size = check_batch_size(batch_size)
        self.activation = activation
        self.operator = get_operator(operator)
        self.inputs, self.targets = sanitize_for_model(
            model, inputs, targets, make_forward_function(model), self.batch_size
        )
        self.scored_model = with_activation(model, activation)
        self.score_function = make_score_function(self.scored_model, self.operator)


class ExplanationMetric(BaseAttributionMetric, ABC):
    """A metric of explanations: ``evaluate(explanations) -> float``."""

    @abstractmethod
    def evaluate(self, explanations: Any) -> float:
        """Score of ``explanations`` (one per input given at construction)."""

    def detailed_evaluate(self, explanations: Any) -> Any:
        """Curve or per-sample figures behind :meth:`evaluate` (where they make sense)."""
        raise NotImplementedError(f"{type(self).__name__} has no detailed evaluation.")

    def __call__(self, explanations: Any) -> float:
        """Alias of :meth:`evaluate`."""
        return self.evaluate(explanations)


class ExplainerMetric(BaseAttributionMetric, ABC):
    """A metric of explainers: ``evaluate(explainer) -> float``.

    ``explainer`` is any callable ``(inputs, targets) -> explanations``: ours or Xplique's.
    """

    @abstractmethod
    def evaluate(self, explainer: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]) -> float:
        """Score of ``explainer`` on the inputs given at construction."""

    def __call__(self, explainer: Callable[[tf.Tensor, tf.Tensor], tf.Tensor]) -> float:
        """Alias of :meth:`evaluate`."""
        return self.evaluate(explainer)
