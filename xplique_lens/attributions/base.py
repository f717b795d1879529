"""Base classes of explainers: the Xplique contract ``explain(inputs, targets)``.

Every explainer of the package has the same call, ``explain(inputs, targets=None,
verbose=False)`` (``__call__`` is an alias): ``verbose`` shows a progress bar where the method
streams chunks of forward passes, and is accepted (and does nothing) elsewhere.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from ..commons.inputs import sanitize_for_model
from ..commons.model_splitting import layer_model
from ..commons.operators import OperatorSignature, get_operator
from ..commons.tf_functions import (
    batched,
    make_forward_function,
    make_gradient_function,
    make_score_function,
)
from ..commons.validation import check_batch_size, check_choice

REDUCERS = ("mean", "max", "min", "sum", None)


class Explainer(ABC):
    """Anything that explains: ``fit`` (returns self), ``explain`` and ``__call__``."""

    def fit(self, *args: Any, **kwargs: Any) -> Explainer:
        """Learn what the explainer needs; most explainers need nothing. Returns ``self``."""
        return self

    @abstractmethod
    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Explanations of ``inputs`` for ``targets`` (``verbose``: show a progress bar)."""

    def __call__(self, inputs: Any, targets: Any = None, **kwargs: Any) -> tf.Tensor:
        """Alias of :meth:`explain` (keyword arguments such as ``verbose`` are passed on)."""
        return self.explain(inputs, targets, **kwargs)


class BlackBoxExplainer(Explainer):
    """Explainer that only queries the model's outputs.

    Parameters
    ----------
    model
        A Keras model or any callable mapping a batch of inputs to a batch of outputs.
    batch_size
        Number of model forward passes run at once (bounds the memory); ``None`` for all at once.
    operator
        ``None`` (classification: ``sum(model(x) * targets)``), ``"classification"``,
        ``"regression"``, or a callable ``(model, inputs, targets) -> scores``.
    """

    def __init__(
        self,
        model: Callable,
        batch_size: int | None = 64,
        operator: str | OperatorSignature | None = None,
    ):
        if not callable(model):
            raise TypeError(f"`model` must be a Keras model or a callable, got {type(model)}.")
        self.model = model
        self.batch_size = check_batch_size(batch_size)
        self.operator = get_operator(operator)
        self.score_function = make_score_function(model, self.operator)
        self.forward_function = make_forward_function(model)

    def _sanitize(self, inputs: Any, targets: Any) -> tuple[tf.Tensor, tf.Tensor]:
        """Inputs as float32; targets as float32 one-hot ``(N, C)``, the predicted class if None."""
        return sanitize_for_model(
            self.model, inputs, targets, self.forward_function, self.batch_size
        )


class WhiteBoxExplainer(BlackBoxExplainer):
    """Explainer with access to gradients.

    Parameters
    ----------
    model
        A Keras model, or any differentiable callable of a tensor.
    output_layer
        Name or index of the layer whose output is explained (e.g. the logits before a softmax);
        ``None`` for the model's output.
    batch_size
        Number of inputs whose gradients are computed at once; ``None`` for all at once.
    operator
        See :class:`BlackBoxExplainer`.
    reducer
        How image explanations ``(N, H, W, C)`` are reduced over channels to ``(N, H, W, 1)``:
        ``"mean"``, ``"max"``, ``"min"``, ``"sum"`` or ``None`` (no reduction).
    """

    def __init__(
        self,
        model: Callable,
        output_layer: str | int | None = None,
        batch_size: int | None = 64,
        operator: str | OperatorSignature | None = None,
        reducer: str | None = "mean",
    ):
        if output_layer is not None:
            if not isinstance(model, keras.Model):
                raise TypeError("`output_layer` needs a keras.Model as `model`.")
            model = layer_model(model, output_layer)  # nested layers included
        super().__init__(model, batch_size, operator)
        self.reducer = check_choice(reducer, "reducer", REDUCERS)
        self.gradient_function = make_gradient_function(self.model, self.operator)
        self.batch_gradient = batched(self.gradient_function, self.batch_size)

    def _reduce_channels(self, explanations: tf.Tensor) -> tf.Tensor:
        """Reduce image explanations to ``(N, H, W, 1)`` with ``reducer``; others pass through."""
        if explanations.shape.rank != 4 or self.reducer is None:
            return explanations
        reduce = getattr(tf, f"reduce_{self.reducer}")
        return reduce(explanations, axis=-1, keepdims=True)
