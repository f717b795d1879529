"""Turn what users pass (arrays, tensors, ``tf.data.Dataset``) into float32 tensors.

A dataset is iterated exactly once, pairs together, so a dataset shuffled with
``reshuffle_each_iteration=True`` keeps each image with its own label (Xplique iterates it twice,
once for the inputs and once for the targets, and mismatches them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from .batching import batch_apply
from .validation import check_finite, to_float_tensor

_BATCH_DATASET_NAMES = ("BatchDataset", "PaddedBatchDataset", "ParallelBatchDataset")


def _is_batched_dataset(dataset: tf.data.Dataset) -> bool:
    """Whether the last batching-like transformation of ``dataset`` is a ``batch``.

    Walks up ``_input_dataset`` through element-wise transformations (map, prefetch, shuffle,
    cache, ...) until a batching or unbatching one is found.
    """
    node = dataset
    while node is not None:
        name = type(node).__name__
        if "Unbatch" in name:
            return False
        if any(name.endswith(batch) for batch in _BATCH_DATASET_NAMES) or "Rebatch" in name:
            return True
        node = getattr(node, "_input_dataset", None)
    return False


def _dataset_to_tensors(
    dataset: tf.data.Dataset, expected_rank: int | None
) -> tuple[tf.Tensor, tf.Tensor | None]:
    spec = dataset.element_spec
    has_targets = isinstance(spec, tuple) and len(spec) >= 2
    input_spec = spec[0] if isinstance(spec, tuple) else spec
    if expected_rank is not None and input_spec.shape.rank is not None:
        batched = input_spec.shape.rank == expected_rank
    else:
        batched = _is_batched_dataset(dataset)

    xs, ys = [], []
    for element in dataset:  # the only pass over the dataset
        if has_targets:
            x, y = element[0], element[1]
            ys.append(y if batched else tf.expand_dims(y, 0))
        else:
            x = element[0] if isinstance(element, tuple) else element
        xs.append(x if batched else tf.expand_dims(x, 0))
    if not xs:
        raise ValueError("`inputs` is an empty tf.data.Dataset; expected at least one sample.")
    inputs = tf.concat(xs, axis=0)
    targets = tf.concat(ys, axis=0) if has_targets else None
    return inputs, targets


def sanitize_inputs(
    inputs: Any,
    targets: Any = None,
    expected_rank: int | None = None,
    allow_dataset_targets: bool = True,
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Return ``(inputs, targets)`` as tensors: inputs float32, targets as given (not one-hot yet).

    Parameters
    ----------
    inputs
        ``np.ndarray``, ``tf.Tensor`` of shape ``(N, ...)``, or a ``tf.data.Dataset`` yielding
        ``(input, target)`` pairs or bare inputs, batched or not.
    targets
        Targets matching ``inputs`` (one-hot ``(N, C)`` or labels ``(N,)``), or ``None``. Must be
        ``None`` when ``inputs`` is a dataset of pairs.
    expected_rank
        Rank of a batch of inputs (e.g. 4 for images), used to check the inputs and to tell a
        batched dataset from an unbatched one.
    allow_dataset_targets
        Whether targets may come from the dataset.

    Returns
    -------
    inputs, targets
        ``inputs`` a float32 tensor, ``targets`` a tensor of the original dtype or ``None``.
    """
    if isinstance(inputs, tf.data.Dataset):
        if targets is not None and _dataset_has_targets(inputs):
            raise ValueError(
                "`targets` must be None when `inputs` is a tf.data.Dataset of (inputs, targets) "
                "pairs; the targets are read from the dataset."
            )
        inputs, dataset_targets = _dataset_to_tensors(inputs, expected_rank)
        if dataset_targets is not None:
            if not allow_dataset_targets:
                raise ValueError("`inputs` must be a dataset of inputs only here, got pairs.")
            targets = dataset_targets
    inputs = to_float_tensor(inputs, "inputs")
    if inputs.shape.rank == 0 or inputs.shape[0] == 0:
        raise ValueError(f"`inputs` must hold at least one sample, got shape {inputs.shape}.")
    if expected_rank is not None and inputs.shape.rank != expected_rank:
        raise ValueError(
            f"`inputs` must have rank {expected_rank} (a batch of samples), got shape "
            f"{tuple(inputs.shape)}."
        )
    check_finite(inputs, "inputs")
    if targets is not None:
        if not isinstance(targets, tf.Tensor):
            targets = np.asarray(targets)
            if targets.dtype == object or not np.issubdtype(targets.dtype, np.number):
                raise TypeError(f"`targets` must be numeric, got dtype {targets.dtype}.")
            targets = tf.convert_to_tensor(targets)
        if targets.shape.rank == 0 or targets.shape[0] != inputs.shape[0]:
            raise ValueError(
                f"`targets` must have one entry per input: inputs have N={inputs.shape[0]}, "
                f"targets have shape {tuple(targets.shape)}."
            )
        check_finite(targets, "targets")
    return inputs, targets


def _dataset_has_targets(dataset: tf.data.Dataset) -> bool:
    spec = dataset.element_spec
    return isinstance(spec, tuple) and len(spec) >= 2


def to_one_hot(targets: tf.Tensor, nb_classes: int) -> tf.Tensor:
    """Integer labels ``(N,)`` to one-hot ``(N, nb_classes)``; one-hot / scores pass through.

    Rank-1 targets are class indices and must be integers in ``[0, nb_classes)`` (float arrays
    holding whole numbers are accepted). Rank-2 targets are returned as float32 unchanged (they
    may be one-hot or regression weights) and must have ``nb_classes`` columns.
    """
    if targets.shape.rank == 1:
        values = targets.numpy() if hasattr(targets, "numpy") else np.asarray(targets)
        if not np.issubdtype(values.dtype, np.integer):
            if not np.all(np.equal(np.mod(values, 1), 0)):
                raise ValueError(
                    "`targets` of shape (N,) must be integer class labels, got non-integer values."
                )
        labels = values.astype(np.int64)
        bad = (labels < 0) | (labels >= nb_classes)
        if bad.any():
            raise ValueError(
                f"`targets` labels must lie in [0, {nb_classes}) for a model with {nb_classes} "
                f"outputs, got {labels[bad][:5].tolist()}."
            )
        return tf.one_hot(labels, nb_classes, dtype=tf.float32)
    if targets.shape.rank == 2:
        if targets.shape[1] != nb_classes:
            raise ValueError(
                f"`targets` of shape {tuple(targets.shape)} must have {nb_classes} columns (one "
                f"per model output), or be integer labels of shape (N,)."
            )
        return tf.cast(targets, tf.float32)
    raise ValueError(
        "`targets` must be one-hot (N, C) or integer labels (N,), got shape "
        f"{tuple(targets.shape)}."
    )


def model_input_rank(model: Callable) -> int | None:
    """Rank of a batch of model inputs, when the model declares it (Keras models)."""
    inputs = getattr(model, "inputs", None)
    if isinstance(model, keras.Model) and inputs:
        return len(inputs[0].shape)
    return None


def model_output_size(model: Callable, sample: tf.Tensor) -> int:
    """Number of model outputs (classes), from the model's signature or one forward pass."""
    outputs = getattr(model, "outputs", None)
    if isinstance(model, keras.Model) and outputs and outputs[0].shape[-1] is not None:
        return int(outputs[0].shape[-1])
    return int(model(sample[:1]).shape[-1])


def sanitize_for_model(
    model: Callable,
    inputs: Any,
    targets: Any,
    forward: Callable | None = None,
    batch_size: int | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Inputs as float32 and targets as float32 one-hot ``(N, C)`` for ``model``.

    Targets may be one-hot, integer labels, or ``None`` for the model's predicted class
    (computed with ``forward``, default ``model``, in batches of ``batch_size``).
    """
    inputs, targets = sanitize_inputs(inputs, targets, model_input_rank(model))
    nb_outputs = model_output_size(model, inputs)
    if targets is None:
        predictions = batch_apply(forward or model, (inputs,), batch_size)
        return inputs, tf.one_hot(tf.argmax(predictions, axis=-1), nb_outputs)
    return inputs, to_one_hot(targets, nb_outputs)
