"""Streaming of ``inputs x samples`` (masks, noise draws, path steps) in chunks of bounded size.

Perturbation and gradient-statistics explainers evaluate the model on ``n * S`` derived inputs
(``S`` masks, noisy copies or interpolation steps per input). They flatten the pairs, cut them in
chunks of ``batch_size`` passes (a chunk mixes inputs: no per-input Python loop, full batches),
and each compiled chunk returns its per-input partial sums, combined at the end with one
segment sum. Memory: ``O(batch_size)`` derived inputs plus the ``(n, ...)`` results.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
from tqdm.auto import tqdm


def partial_sums(sample: tf.Tensor, values: tuple[tf.Tensor, ...]) -> tuple[tf.Tensor, tuple]:
    """Inside a chunk: sum the ``values`` rows per input. ``sample`` is sorted (chunk order).

    Returns ``(first, sums)``: the first input index of the chunk and ``(k, ...)`` sums for the
    inputs ``first .. first + k - 1``.
    """
    first = sample[0]
    segment = sample - first
    count = segment[-1] + 1
    return first, tuple(tf.math.unsorted_segment_sum(v, segment, count) for v in values)


def stream_sums(
    chunk_fn: Callable,
    args: tuple,
    n: int,
    per_input: int,
    batch_size: int | None,
    verbose: bool = False,
    desc: str = "forward passes",
) -> tuple[tf.Tensor, ...]:
    """Run ``chunk_fn(*args, per_input, start, size) -> (first, sums)`` over ``n * per_input``
    flat indices and return the per-input totals, each ``(n, ...)``. ``size`` is a Python int so
    the model runs on static shapes (two traces at most: full chunks and the remainder).

    Flat index ``k`` is input ``k // per_input`` and sample ``k % per_input``.
    """
    total = n * per_input
    step = total if not batch_size else int(batch_size)
    firsts, parts = [], []
    for start in tqdm(range(0, total, step), desc=desc, disable=not verbose, leave=False):
        stop = min(start + step, total)
        first, sums = chunk_fn(*args, tf.constant(per_input), tf.constant(start), stop - start)
        firsts.append(first + tf.range(tf.shape(sums[0])[0]))
        parts.append(sums)
    ids = tf.concat(firsts, axis=0)
    return tuple(
        tf.math.unsorted_segment_sum(tf.concat([p[i] for p in parts], 0), ids, n)
        for i in range(len(parts[0]))
    )


def make_gradient_chunk(
    gradient_fn: Callable, transform: Callable, statistics: Callable
) -> Callable:
    """Compiled chunk for gradient statistics (SmoothGrad, Integrated Gradients...).

    ``transform(x, j, context) -> z`` derives the inputs (noise draw / path step ``j``),
    ``gradient_fn(z, y)`` differentiates the score, ``statistics(g, j, context) -> tuple`` gives
    the per-row values summed per input. Works on inputs of any shape (images, concept codes).
    """

    @tf.function(reduce_retracing=True)
    def chunk(inputs, targets, context, per_input, start, size):
        index = start + tf.range(size)
        sample = index // per_input
        j = index % per_input
        x = tf.gather(inputs, sample)
        y = tf.gather(targets, sample)
        gradients = gradient_fn(transform(x, j, context), y)
        return partial_sums(sample, statistics(gradients, j, context))

    return chunk
