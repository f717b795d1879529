"""Batching helpers: bounded memory whatever the number of samples."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import tensorflow as tf


def batch_slices(n: int, batch_size: int | None) -> Iterator[slice]:
    """Yield ``slice`` objects covering ``range(n)`` in chunks of ``batch_size`` (all if None)."""
    step = n if not batch_size else batch_size
    for start in range(0, n, max(step, 1)):
        yield slice(start, min(start + step, n))


def batch_tensors(
    tensors: Sequence[tf.Tensor | None], batch_size: int | None
) -> Iterator[tuple[tf.Tensor | None, ...]]:
    """Yield aligned batches of several tensors sharing their first dimension (``None`` kept)."""
    n = next(t for t in tensors if t is not None).shape[0]
    for s in batch_slices(n, batch_size):
        yield tuple(None if t is None else t[s] for t in tensors)


def batch_apply(
    fn: Callable[..., tf.Tensor], tensors: Sequence[tf.Tensor | None], batch_size: int | None
) -> tf.Tensor:
    """Apply ``fn(*batch)`` batch by batch and concatenate the results along axis 0."""
    outputs = [fn(*batch) for batch in batch_tensors(tensors, batch_size)]
    return tf.concat(outputs, axis=0)
