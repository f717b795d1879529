"""Shared plumbing: inputs & targets sanitising, batching, operators, model splitting."""

from .batching import batch_apply, batch_slices, batch_tensors
from .inputs import sanitize_inputs, to_one_hot
from .model_splitting import find_layer, split_model
from .operators import (
    get_operator,
    predictions_operator,
    regression_operator,
    with_activation,
)

__all__ = [
    "batch_apply",
    "batch_slices",
    "batch_tensors",
    "find_layer",
    "get_operator",
    "predictions_operator",
    "regression_operator",
    "sanitize_inputs",
    "split_model",
    "to_one_hot",
    "with_activation",
]
