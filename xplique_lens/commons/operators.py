"""Operators: the scalar function of (model, inputs, targets) that an explanation explains.

An operator ``g(f, x, y) -> scores`` returns one score per sample. The default,
``predictions_operator``, is Xplique's ``sum(f(x) * y, axis=-1)``: the logit (or probability) of
the target class when ``y`` is one-hot.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import tensorflow as tf

OperatorSignature = Callable[[Callable, tf.Tensor, tf.Tensor], tf.Tensor]


def predictions_operator(model: Callable, inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Score of the target outputs: ``sum(model(inputs) * targets, axis=-1)``.

    The outputs are cast to the dtype of ``targets`` (a ``mixed_float16`` model outputs float16).
    """
    return tf.reduce_sum(tf.cast(model(inputs), targets.dtype) * targets, axis=-1)


def regression_operator(model: Callable, inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Regression outputs weighted by ``targets`` (e.g. one-hot to pick one output).

    Same formula as the classification operator, as in Xplique 2 (``Tasks.REGRESSION``): a
    mean-absolute-error operator has zero gradient at the prediction and is not offered.
    """
    return tf.reduce_sum(tf.cast(model(inputs), targets.dtype) * targets, axis=-1)


OPERATORS = {
    "classification": predictions_operator,
    "regression": regression_operator,
}

ACTIVATIONS = {
    None: None,
    "softmax": tf.nn.softmax,
    "sigmoid": tf.nn.sigmoid,
}


def get_operator(operator: str | OperatorSignature | None) -> OperatorSignature:
    """Resolve ``operator``: None (classification), a name, or a user callable ``(f, x, y)``.

    Xplique's ``Tasks`` enum values are plain functions and are accepted as callables.
    """
    if operator is None:
        return predictions_operator
    if isinstance(operator, str):
        if operator not in OPERATORS:
            raise ValueError(
                f"`operator` must be one of {sorted(OPERATORS)} or a callable "
                f"(model, inputs, targets) -> scores, got {operator!r}."
            )
        return OPERATORS[operator]
    operator = getattr(operator, "value", operator)  # xplique.Tasks members
    if not callable(operator):
        raise TypeError(
            "`operator` must be None, a name or a callable (model, inputs, targets) -> scores, "
            f"got {type(operator).__name__}."
        )
    python_fn = getattr(operator, "python_function", operator)
    try:
        params = inspect.signature(python_fn).parameters.values()
    except (TypeError, ValueError):
        return operator
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if len(positional) < 3 and not any(p.kind == p.VAR_POSITIONAL for p in positional):
        raise TypeError(
            "`operator` must accept three arguments (model, inputs, targets), got a callable "
            f"with signature {inspect.signature(python_fn)}."
        )
    return operator


def with_activation(model: Callable, activation: str | None) -> Callable:
    """Return ``model`` followed by ``activation`` ('softmax', 'sigmoid' or None) on its outputs."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"`activation` must be one of {list(ACTIVATIONS)}, got {activation!r}.")
    fn = ACTIVATIONS[activation]
    if fn is None:
        return model

    def activated(inputs: tf.Tensor) -> tf.Tensor:
        return fn(model(inputs))

    return activated
