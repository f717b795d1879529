"""Spearman distances between explanations, all pairs at once, ranks with ties averaged.

Ref. Fel, Vigouroux et al., *How Good is your Explanation? Algorithmic Stability Measures to
Assess the Quality of Explanations for Deep Neural Networks* (WACV 2022),
https://arxiv.org/abs/2009.04521: ``d(a, b) = sqrt(1 - |spearman(a, b)|)``.

Both kernels work on *centred doubled ranks* ``c = 2 rank - (D + 1)``: integers (average ranks
are half-integers), exactly representable, summing to 0 over a row. The Spearman correlation of
two rows is then ``<c_a, c_b> / sqrt(<c_a, c_a> <c_b, c_b>)``, every dot product an exact integer
in float64 (for ``D`` up to about 200 000 features), so the only rounding is in the last division
and square root, as in ``scipy.stats.spearmanr``.

Two implementations compute the same numbers:

- CPU (no GPU visible): NumPy, blocks of rows in a thread pool (the sort, ufuncs, scatter and
  matmul release the GIL). TensorFlow's CPU sort is built on ``top_k``: 0.45 s to argsort 4096
  rows of 4096 float32 (XLA's sort is slower still), against 0.05 s for NumPy's vectorised sort
  of 64-bit keys ``(order-preserving bits of the float32 value, destination)``, which gives the
  sorted values and the permutation at once; and the TensorFlow passes around the sort (gather,
  segment reductions, scatter over the whole batch) are memory bound, where here each block of
  about 2 MB stays in cache from the keys to the Gram matrix. Ties are corrected only where two
  sorted neighbours are equal. 4 x 1024 explanations of 64 x 64: about 0.1 s in all.
- GPU: the same algorithm in TensorFlow (``tf.argsort`` is fast there), ties corrected behind a
  ``tf.cond`` that skips the work when no row has ties.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache, lru_cache
from typing import Any

import numpy as np
import tensorflow as tf

_BLOCK_ELEMENTS = 2**18  # elements of one block of rows: its keys (2 MB) stay in cache
_LOW_WORD = 0 if sys.byteorder == "little" else 1  # the uint32 half of a uint64 holding bits 0-31


def flatten_explanations(explanations: tf.Tensor, sample_rank: int) -> tf.Tensor:
    """``(..., *sample_shape)`` to ``(..., D)`` float32, as Xplique prepares explanations.

    An explanation of more than 2 dimensions per sample (e.g. ``(H, W, C)``) is averaged over its
    last axis; NaN becomes 0 (Xplique's ``nan_to_num``), then it is flattened.

    Parameters
    ----------
    explanations
        Explanations whose last ``sample_rank`` axes are one explanation.
    sample_rank
        Number of axes of one explanation.
    """
    explanations = tf.cast(explanations, tf.float32)
    if sample_rank > 2 and explanations.shape[-1] != 1:  # the mean of one channel is itself
        explanations = tf.reduce_mean(explanations, axis=-1, keepdims=True)
    lead = tf.shape(explanations)[: tf.rank(explanations) - sample_rank]
    flat = tf.reshape(explanations, tf.concat([lead, [-1]], axis=0))
    # one reduction finds any NaN (an inf - inf sum too, then the where is only useless)
    if not tf.executing_eagerly() or bool(tf.math.is_nan(tf.reduce_sum(flat))):
        flat = tf.where(tf.math.is_nan(flat), 0.0, flat)
    return flat


def use_numpy_ranks() -> bool:
    """Whether the NumPy kernel is used: no GPU is visible to TensorFlow."""
    return not tf.config.list_logical_devices("GPU")


# --------------------------------------------------------------------------------------- NumPy


@cache
def _thread_pool() -> ThreadPoolExecutor:
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return ThreadPoolExecutor(max_workers=max(1, workers or 1), thread_name_prefix="ranks")


if hasattr(os, "register_at_fork"):  # a forked child has none of the pool's threads
    os.register_at_fork(after_in_child=_thread_pool.cache_clear)


def _map_blocks(work: Callable[[int], None], nb_rows: int, per_block: int) -> None:
    """``work(start)`` for every block of ``per_block`` rows, in the thread pool (NumPy's sort,
    ufuncs and matmul release the GIL)."""
    starts = range(0, nb_rows, per_block)
    if len(starts) == 1:
        work(0)
    else:
        list(_thread_pool().map(work, starts))


class _Scratch(threading.local):
    """Per-thread work buffers, reused from block to block: fresh multi-MB arrays cost more in
    page faults than the passes over them."""

    def get(self, name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        size = int(np.prod(shape))
        buffer = self.__dict__.get(name)
        if buffer is None or buffer.size < size or buffer.dtype != dtype:
            buffer = np.empty(size, dtype=dtype)
            if size <= 4 * _BLOCK_ELEMENTS:  # keep only block-sized buffers
                self.__dict__[name] = buffer
        return buffer[:size].reshape(shape)


_SCRATCH = _Scratch()


def _block_constant(build: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Cache the read-only arrays that every block of the same shape shares (block-sized only)."""
    cached = lru_cache(maxsize=4)(build)

    def get(*shape: int) -> np.ndarray:
        return cached(*shape) if np.prod(shape) <= 4 * _BLOCK_ELEMENTS else build(*shape)

    return get


@_block_constant
def _sorted_ranks(nb_rows: int, length: int) -> np.ndarray:
    """``2 p + 1 - D``, the centred doubled rank of sorted position ``p``, for ``nb_rows`` rows
    (flat, read-only)."""
    ranks = np.tile(np.arange(1 - length, length, 2, dtype=np.float64), nb_rows)
    ranks.flags.writeable = False
    return ranks


@_block_constant
def _samples_first(nb_models: int, nb_samples: int, length: int) -> np.ndarray:
    """Destinations ``(K * B, D)`` (uint32) of the values of rows ``(i, n)`` in a flat
    ``(B, K, D)`` output; with ``K = 1``, simply the flat positions of ``(B, D)``."""
    if nb_samples * nb_models * length > 2**32:
        raise ValueError(
            f"explanations of {nb_models} x {length} values per sample are too large to rank "
            "(at most 2**32 values)."
        )
    layout = np.arange(nb_samples * nb_models * length, dtype=np.uint32)
    layout = layout.reshape(nb_samples, nb_models, length).transpose(1, 0, 2)
    layout = np.ascontiguousarray(layout).reshape(-1, length)
    layout.flags.writeable = False
    return layout


def _sort_float32(rows: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort float32 ``rows`` ``(..., D)`` as uint64 keys ``(value bits << 32) | target``.

    The float32 bits are mapped to a uint32 of the same order (``-0.0`` first made ``+0.0``);
    ``targets`` ``(R, D)`` uint32 are where each value's rank goes. Returns the targets in
    sorted order (int64, flat) and the ``(R, D - 1)`` mask of equal sorted neighbours.
    """
    length = rows.shape[-1]
    bits = _SCRATCH.get("bits", rows.shape, np.int32)
    np.add(rows, np.float32(0.0), out=bits.view(np.float32))  # -0.0 + 0.0 = +0.0
    flip = _SCRATCH.get("flip", rows.shape, np.int32)
    np.right_shift(bits, 31, out=flip)
    flip |= np.int32(-(2**31))  # x >= 0: flip the sign bit; x < 0: flip every bit
    keys = _SCRATCH.get("keys", targets.shape, np.uint64)
    words = keys.view(np.uint32).reshape(*targets.shape, 2)
    high = words[..., 1 - _LOW_WORD]
    np.bitwise_xor(bits.reshape(-1, length), flip.reshape(-1, length), out=high.view(np.int32))
    words[..., _LOW_WORD] = targets
    keys.sort(axis=-1)
    ties = _SCRATCH.get("ties", (targets.shape[0], length - 1), np.bool_)
    np.equal(high[:, 1:], high[:, :-1], out=ties)
    keys &= np.uint64(0xFFFFFFFF)
    return keys.view(np.int64).reshape(-1), ties


def _sort_any(rows: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_sort_float32` for float64 and integers: an argsort and a gather."""
    rows = rows.reshape(targets.shape)
    order = np.argsort(rows, axis=-1)
    sorted_rows = np.take_along_axis(rows, order, axis=-1)
    destinations = np.take_along_axis(targets.astype(np.int64), order, axis=-1)
    return destinations.reshape(-1), sorted_rows[:, 1:] == sorted_rows[:, :-1]


def _average_ties(out: np.ndarray, destinations: np.ndarray, ties: np.ndarray) -> None:
    """Give every run of equal sorted values its average centred doubled rank, in place.

    ``destinations`` (flat) are the places in ``out`` of the sorted values; ``ties`` ``(R,
    D - 1)`` marks sorted neighbours that are equal. Only the tied values are touched.
    """
    if not ties.any():
        return
    length = ties.shape[1] + 1
    tied = np.flatnonzero(ties)
    pairs = tied + tied // (length - 1)  # flat sorted position of the first of each tied pair
    new_run = np.ones(pairs.size, dtype=bool)
    np.not_equal(pairs[1:], pairs[:-1] + 1, out=new_run[1:])
    first = pairs[new_run]
    last = pairs[np.append(new_run[1:], True)] + 1
    # the run's average 1-based rank is (first + last) / 2 + 1: doubled and centred
    average = ((first % length) + (last % length) + 1 - length).astype(np.float64)
    out[destinations[pairs]] = average[np.cumsum(new_run) - 1]
    out[destinations[last]] = average


def _centred_ranks_block(rows: np.ndarray, targets: np.ndarray, out: np.ndarray) -> None:
    """Write the centred doubled ranks of ``rows`` ``(..., D)`` into ``out[targets]``.

    ``targets`` ``(R, D)`` uint32 (``R`` rows of ``rows``) give the place of every value in the
    flat float64 ``out``, so that the caller chooses the layout (e.g. samples first).
    """
    if rows.dtype in (np.float16, np.float32):
        destinations, ties = _sort_float32(rows, targets)
    else:
        destinations, ties = _sort_any(rows, targets)
    out[destinations] = _sorted_ranks(*targets.shape)
    _average_ties(out, destinations, ties)


def _average_ranks_numpy(values: np.ndarray) -> np.ndarray:
    """1-based average ranks along the last axis of a NumPy array (float64)."""
    if values.size == 0:
        return np.empty(values.shape, dtype=np.float64)
    length = values.shape[-1]
    rows = values.reshape(-1, length)
    out = np.empty(rows.shape, dtype=np.float64)
    per_block = max(1, _BLOCK_ELEMENTS // length)

    def work(start: int) -> None:
        block = rows[start : start + per_block]
        targets = _samples_first(1, *block.shape)
        _centred_ranks_block(block, targets, out[start : start + per_block].reshape(-1))

    _map_blocks(work, rows.shape[0], per_block)
    out += length + 1
    out /= 2.0
    return out.reshape(values.shape)


def _spearman_gram_numpy(explanations: np.ndarray) -> np.ndarray:
    """``(B, K, K)`` Gram matrices of the centred doubled ranks of ``(K, B, D)`` explanations."""
    nb_models, nb_samples, length = explanations.shape
    gram = np.empty((nb_samples, nb_models, nb_models), dtype=np.float64)
    if gram.size == 0 or length == 0:
        gram.fill(np.nan)
        return gram
    per_block = max(1, _BLOCK_ELEMENTS // (nb_models * length))

    def work(start: int) -> None:
        stop = min(start + per_block, nb_samples)
        ranks = _SCRATCH.get("ranks", (stop - start, nb_models, length), np.float64)
        # ranks of model i for sample n go to ranks[n, i]: samples first, for the matmul
        targets = _samples_first(nb_models, stop - start, length)
        _centred_ranks_block(explanations[:, start:stop], targets, ranks.reshape(-1))
        np.matmul(ranks, ranks.transpose(0, 2, 1), out=gram[start:stop])

    _map_blocks(work, nb_samples, per_block)
    return gram


def _pairwise_distances_numpy(explanations: np.ndarray) -> np.ndarray:
    """``(K, K, B)`` Spearman distances of ``(K, B, D)`` explanations (NumPy)."""
    gram = _spearman_gram_numpy(explanations)
    norms = np.sqrt(np.diagonal(gram, axis1=1, axis2=2))  # 0 for a constant explanation
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = gram / (norms[:, :, None] * norms[:, None, :])  # NaN: undefined correlation
    rho = np.minimum(np.abs(rho), 1.0)  # NaN stays NaN
    return np.sqrt(1.0 - rho).transpose(1, 2, 0)


# ---------------------------------------------------------------------------------- TensorFlow


def _tie_corrected_tf(values: tf.Tensor, ties: tf.Tensor) -> tf.Tensor:
    """TensorFlow :func:`_average_ties`: the average centred doubled rank of each run, in
    sorted order (``values`` ``(R, D)``, ``ties`` ``(R, D - 1)``)."""
    nb_rows = tf.shape(ties)[0]
    length = tf.shape(ties, out_type=tf.int64)[1] + 1
    edge = tf.ones([nb_rows, 1], tf.bool)
    starts = tf.reshape(tf.concat([edge, ~ties], axis=1), [-1])
    ends = tf.reshape(tf.concat([~ties, edge], axis=1), [-1])
    run = tf.cumsum(tf.cast(starts, tf.int64)) - 1
    first = tf.gather(tf.where(starts)[:, 0], run)
    last = tf.gather(tf.where(ends)[:, 0], run)
    average = tf.cast(first % length + last % length + 1 - length, tf.float64)
    return tf.reshape(average, tf.shape(values))


@tf.function(reduce_retracing=True)
def _centred_ranks_tf(rows: tf.Tensor) -> tf.Tensor:
    """Centred doubled ranks ``2 rank - (D + 1)`` along the last axis of ``(R, D)``, float64."""
    nb_rows, length = tf.shape(rows)[0], tf.shape(rows)[1]
    order = tf.argsort(rows, axis=-1)  # stability is irrelevant: ties get the same rank
    sorted_rows = tf.gather(rows, order, batch_dims=1)
    ties = sorted_rows[:, 1:] == sorted_rows[:, :-1]
    values = tf.broadcast_to(
        tf.cast(tf.range(1 - length, length, 2), tf.float64), [nb_rows, length]
    )
    values = tf.cond(tf.reduce_any(ties), lambda: _tie_corrected_tf(values, ties), lambda: values)
    # flat 1-D destinations (int64: R * D may pass 2**31 on a large GPU)
    destinations = (
        tf.cast(order, tf.int64)
        + tf.cast(length, tf.int64) * tf.range(tf.cast(nb_rows, tf.int64))[:, None]
    )
    size = tf.cast(nb_rows, tf.int64) * tf.cast(length, tf.int64)
    ranks = tf.scatter_nd(tf.reshape(destinations, [-1, 1]), tf.reshape(values, [-1]), [size])
    return tf.reshape(ranks, [nb_rows, length])


@tf.function(reduce_retracing=True)
def _average_ranks_tf(values: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(values)
    length = shape[-1]
    centred = _centred_ranks_tf(tf.reshape(values, [-1, length]))
    return tf.reshape((centred + tf.cast(length + 1, tf.float64)) / 2.0, shape)


@tf.function(reduce_retracing=True)
def _pairwise_distances_tf(explanations: tf.Tensor) -> tf.Tensor:
    """TensorFlow :func:`_pairwise_distances_numpy`."""
    shape = tf.shape(explanations)
    ranks = tf.reshape(_centred_ranks_tf(tf.reshape(explanations, [-1, shape[2]])), shape)
    gram = tf.einsum("ind,jnd->ijn", ranks, ranks)
    norms = tf.sqrt(tf.linalg.diag_part(tf.transpose(gram, [2, 0, 1])))  # (B, K)
    rho = gram / (tf.transpose(norms)[:, None] * tf.transpose(norms)[None])
    rho = tf.clip_by_value(tf.abs(rho), 0.0, 1.0)  # clip keeps NaN (undefined correlation)
    return tf.sqrt(1.0 - rho)


# -------------------------------------------------------------------------------------- public


def average_ranks(values: tf.Tensor) -> tf.Tensor:
    """Ranks (1-based) along the last axis, ties given their average rank (``scipy`` style).

    One sort per row (``O(D log D)``), then only the runs of equal values are averaged; float64
    ranks, exact. NumPy kernel on CPU, TensorFlow on GPU (see the module docstring). Works
    eagerly and inside a ``tf.function``. ``values`` must not hold NaN.

    Parameters
    ----------
    values
        ``(..., D)`` numbers, ranked along the last axis.

    Returns
    -------
    ranks
        Float64 tensor of the shape of ``values``: ``ranks[..., d]`` is the rank of
        ``values[..., d]`` in its row, ``scipy.stats.rankdata(values, axis=-1)``.
    """
    values = tf.convert_to_tensor(values)
    if values.shape.rank == 0:
        raise ValueError("`values` must have at least one axis (the one ranked), got a scalar.")
    if not use_numpy_ranks():
        return _average_ranks_tf(values)
    return _numpy_kernel(_average_ranks_numpy, values, values.shape)


def pairwise_spearman_distances(explanations: tf.Tensor) -> tf.Tensor:
    """Spearman distances between the explanations of every pair of models, sample by sample.

    ``rho`` is the Pearson correlation of the average ranks (``scipy.stats.spearmanr``), from
    the Gram matrix of the centred ranks of the ``K`` explanations of each sample (all pairs at
    once, exact integer dot products). NumPy kernel on CPU, TensorFlow on GPU (see the module
    docstring).

    Parameters
    ----------
    explanations
        ``(K, B, D)``: the flattened explanations of ``B`` samples by ``K`` models, no NaN.

    Returns
    -------
    distances
        ``(K, K, B)`` float64, ``distances[i, j, n] = sqrt(1 - |rho(e_i[n], e_j[n])|)``; NaN where
        an explanation is constant (undefined correlation).
    """
    explanations = tf.convert_to_tensor(explanations)
    if explanations.shape.rank != 3:
        raise ValueError(
            f"`explanations` must have shape (K, B, D), got {tuple(explanations.shape)}."
        )
    if not use_numpy_ranks():
        return _pairwise_distances_tf(explanations)
    nb_models, nb_samples = explanations.shape[:2]
    return _numpy_kernel(
        _pairwise_distances_numpy, explanations, [nb_models, nb_models, nb_samples]
    )


def _numpy_kernel(kernel: Callable, tensor: tf.Tensor, shape: Any) -> tf.Tensor:
    """``kernel(array) -> float64 array`` on a tensor: called directly when eager (the tensor's
    buffer is read without a copy), as a ``tf.numpy_function`` inside a ``tf.function``."""
    if tf.executing_eagerly():
        return tf.convert_to_tensor(kernel(np.asarray(tensor)))
    result = tf.numpy_function(kernel, [tensor], tf.float64, stateful=False)
    result.set_shape(shape)
    return result
