"""Fidelity metrics: Deletion, Insertion (causal curves) and MuFidelity, with Xplique's signatures.

The kernels are vectorised: the (sample, step) or (sample, subset) pairs are flattened and run in
chunks of ``batch_size`` forward passes; each chunk's perturbed images are built (one fused XLA
pass, from per-pixel flip levels computed once per explanation) and scored in one compiled call,
and nothing goes back to the host before the last chunk. The model is run only where the
explanation matters: the scores of the inputs and of the baseline images (Deletion / Insertion
end points) and of the random subsets (MuFidelity) are computed once per metric object and reused
by every ``evaluate``.

Refs. Petsiuk et al., *RISE: Randomized Input Sampling for Explanation of Black-box Models*
(2018), https://arxiv.org/abs/1806.07421 (Deletion / Insertion); Bhatt et al., *Evaluating and
Aggregating Feature-based Model Explanations* (2020), https://arxiv.org/abs/2005.00631
(MuFidelity); Picard et al., *Back to the Baseline* (2025), arXiv 2512.11433 (baselines).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.inputs import model_output_size
from ..commons.operators import (
    OperatorSignature,
    get_operator,
    predictions_operator,
    regression_operator,
    with_activation,
)
from ..commons.tf_functions import shared_function
from ..commons.validation import check_finite, check_positive_int, to_float_tensor
from .base import BaseAttributionMetric, ExplanationMetric
from .baselines import compute_baselines, shared_baseline
from .stability.spearman import average_ranks

# --------------------------------------------------------------------------- targets


def broadcast_single_output_targets(
    model: Callable, inputs: Any, targets: Any, operator: str | OperatorSignature | None
) -> Any:
    """Xplique's convention for a single-output model given ``(N, C)`` targets, ``C > 1``.

    Xplique scores ``sum(f(x) * y, -1)``: with ``f(x)`` of shape ``(N, 1)`` (e.g. a sigmoid
    score) and one-hot ``y`` of shape ``(N, 2)`` the product broadcasts, and the score is
    ``f(x) * sum(y)``, i.e. ``f(x)`` itself for one-hot targets. The targets are then returned
    as that sum, ``(N, 1)``, which gives exactly Xplique's scores through the default
    (prediction) operator; anything else (several outputs, labels, a custom operator, a dataset
    holding its targets) is returned unchanged.
    """
    if targets is None or isinstance(inputs, tf.data.Dataset):
        return targets
    resolved = get_operator(operator)
    resolved = getattr(resolved, "python_function", resolved)
    if resolved not in (predictions_operator, regression_operator) and (
        getattr(resolved, "__name__", "") != "predictions_operator"
        or not getattr(resolved, "__module__", "").startswith("xplique.")
    ):
        return targets
    values = targets.numpy() if isinstance(targets, tf.Tensor) else np.asarray(targets)
    if values.ndim != 2 or values.shape[1] < 2 or not np.issubdtype(values.dtype, np.number):
        return targets
    if model_output_size(model, to_float_tensor(inputs[:1], "inputs")) != 1:
        return targets
    return values.sum(axis=1, keepdims=True).astype(np.float32)


# --------------------------------------------------------------------------- kernels


def reduce_explanations(explanations: tf.Tensor, inputs_shape: tuple) -> tf.Tensor:
    """Explanations as one score per feature ``(N, ...)``: channel-averaged for images."""
    if len(inputs_shape) == 4:
        if explanations.shape.rank == 4:
            explanations = tf.reduce_mean(explanations, axis=-1)
        if tuple(explanations.shape[1:]) != tuple(inputs_shape[1:3]):
            raise ValueError(
                f"`explanations` must have shape (N, H, W) or (N, H, W, C') matching the inputs "
                f"{tuple(inputs_shape)}, got {tuple(explanations.shape)}."
            )
        return explanations
    if explanations.shape.rank == len(inputs_shape) + 1 and explanations.shape[-1] == 1:
        explanations = explanations[..., 0]
    if tuple(explanations.shape[1:]) != tuple(inputs_shape[1:]):
        raise ValueError(
            f"`explanations` must have the inputs' shape {tuple(inputs_shape)}, got "
            f"{tuple(explanations.shape)}."
        )
    return explanations


def patch_scores(explanations: tf.Tensor, patch_size: int) -> tf.Tensor:
    """Mean explanation of each ``patch_size`` x ``patch_size`` cell: ``(N, gh, gw)``."""
    from .baselines import patch_means

    return patch_means(explanations[..., None], patch_size)[..., 0]


def descending_order(scores: Any) -> np.ndarray:
    """Feature indices of each sample by decreasing score, ``(N, F)``: Xplique's order.

    Ties are broken by the larger index first, as Xplique's ``np.argsort(x)[:, ::-1]`` does with a
    stable sort (numpy's default sort is not stable on long arrays: give tie-free explanations
    when exact agreement with Xplique matters). Each (score, index) pair is packed into one int64
    key that sorts in that order (the float bits made monotone, then the index), so a plain sort
    of the keys (no argsort, no stability needed) gives the order exactly.
    """
    flat = np.asarray(scores, dtype=np.float32)
    flat = flat.reshape(len(flat), -1) + np.float32(0.0)  # contiguous copy; -0.0 ties with 0.0
    bits = flat.view(np.int32)
    monotone = bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))  # float order as signed integers
    reverse_index = np.arange(flat.shape[1] - 1, -1, -1, dtype=np.int64)
    keys = np.sort(((~monotone).astype(np.int64) << 32) | reverse_index, axis=1)  # ascending
    return flat.shape[1] - 1 - (keys & 0xFFFFFFFF)


def _place(order: np.ndarray, values: np.ndarray, dtype: type) -> np.ndarray:
    """``out[n, order[n, r]] = values[r]``: per-rank values written back at each feature."""
    nb_rows, nb = order.shape
    out = np.empty(nb_rows * nb, dtype)
    out[(order + (np.arange(nb_rows) * nb)[:, None]).ravel()] = np.tile(
        values.astype(dtype), nb_rows
    )
    return out.reshape(nb_rows, nb)


def feature_ranks(scores: Any) -> tf.Tensor:
    """Rank of each feature by decreasing score, ``(N, F)`` int32 (0 = most important).

    Ties are broken as in :func:`descending_order` (Xplique's order).
    """
    order = descending_order(scores)
    return tf.constant(_place(order, np.arange(order.shape[1]), np.int32))


def flip_levels(scores: Any, points: np.ndarray, rows: int = 256) -> np.ndarray:
    """Curve point from which each feature is flipped, ``(N, F)``.

    ``points`` are the numbers of features flipped at the curve points, unique and ascending from
    0; the feature of rank ``r`` (:func:`feature_ranks`) is flipped at point ``j`` iff
    ``r < points[j]``, i.e. iff its level, the number of points ``<= r``, is ``<= j``. Levels
    run from 1 to ``len(points)``: point 0 flips nothing, point ``len(points)`` everything.
    uint8 when ``len(points) < 256`` (a quarter of the memory traffic of int32 ranks). Computed
    ``rows`` samples at a time (the sort keys are int64: bounded memory).
    """
    scores = np.asarray(scores, np.float32)
    scores = scores.reshape(len(scores), -1)
    level_of_rank = np.searchsorted(points, np.arange(scores.shape[1]), side="right")
    dtype = _level_dtype(len(points))
    levels = np.empty(scores.shape, dtype)
    for chunk in _chunks(len(scores), rows):
        levels[chunk] = _place(descending_order(scores[chunk]), level_of_rank, dtype)
    return levels


def _level_dtype(nb_points: int) -> type:
    return np.uint8 if nb_points <= np.iinfo(np.uint8).max else np.int32


def causal_steps(nb_features: int, steps: int, max_percentage_perturbed: float) -> np.ndarray:
    """Number of features flipped at each point of the curve, as in Xplique."""
    max_nb = int(np.floor(nb_features * max_percentage_perturbed))
    steps = max_nb if steps == -1 else steps
    return np.linspace(0, max_nb, steps + 1, dtype=np.int32)


def trapezoid_auc(curve: np.ndarray) -> np.ndarray:
    """Normalised area under curves sampled at equally spaced steps (last axis), as in Xplique."""
    curve = np.asarray(curve, dtype=np.float64)
    return np.mean(curve[..., :-1] + curve[..., 1:], axis=-1) * 0.5


@tf.function(reduce_retracing=True, jit_compile=True)
def causal_perturb(
    inputs: tf.Tensor,
    baselines: tf.Tensor,
    levels: tf.Tensor,
    deletion: tf.Tensor,
    mask_shape: tuple,
    shared: bool,
    sample_ids: tf.Tensor,
    points: tf.Tensor,
) -> tf.Tensor:
    """Images of the (sample, curve point) pairs, XLA-compiled (one fused pass per batch).

    The features of sample ``sample_ids`` with a level (:func:`flip_levels`, ``(N, pixels)``)
    ``<= points`` are flipped to the baseline (``deletion``, a boolean tensor) or from it
    (insertion): point 0 gives the start state, point ``max level`` the end state.
    ``baselines`` is ``(N, ...)``, or a ``(1, ...)`` image ``shared`` by all the samples
    (broadcast, never copied; a static flag, so a trace relaxed to an unknown number of baseline
    images can never confuse the two).
    """
    flip = tf.gather(levels, sample_ids) <= tf.cast(points, levels.dtype)[:, None]
    to_baseline = tf.reshape(tf.not_equal(flip, tf.logical_not(deletion)), (-1, *mask_shape))
    x = tf.gather(inputs, sample_ids)
    b = baselines if shared else tf.gather(baselines, sample_ids)
    return tf.where(to_baseline, b, x)


def padded_call(kernel: Callable, size: int | None, *ids: tf.Tensor) -> tf.Tensor:
    """``kernel(*ids)[:len]`` with the id vectors zero-padded to ``size`` (when given), so an
    XLA kernel compiles once for every batch (the last, smaller one included)."""
    if size is None:
        return kernel(*ids)
    length = tf.shape(ids[0])[0]
    padded = [tf.pad(i, [[0, size - length]]) for i in ids]
    return kernel(*padded)[:length]


def _chunks(total: int, size: int | None) -> Iterator[slice]:
    size = total if not size else size
    for start in range(0, total, size):
        yield slice(start, min(start + size, total))


def distinct_targets(targets: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)``: one sample per distinct target row (bitwise) and, for each sample,
    the index of its target among them (``targets == targets[first][inverse]``).

    Rows are grouped by a 64-bit hash of their bits (linear time), and the grouping is checked
    exactly; a collision (never seen in practice) falls back to an exact sort of the rows.
    """
    flat = np.ascontiguousarray(np.asarray(targets, np.float32).reshape(len(targets), -1))
    bits = flat.view(np.int32)
    weights = np.random.default_rng(0).integers(1, 2**62, bits.shape[1], dtype=np.int64)
    with np.errstate(over="ignore"):
        hashes = bits.astype(np.int64) @ weights  # wraps around: a hash, not a value
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    if not np.array_equal(bits[first][inverse], bits):
        _, first, inverse = np.unique(bits, axis=0, return_index=True, return_inverse=True)
    return first.astype(np.int32), inverse.reshape(-1)


def compiled_pair_scores(
    model: Callable,
    operator: OperatorSignature,
    activation: str | None,
    kernel: Callable,
    batch_size: int | None,
) -> Callable:
    """The compiled ``(targets, sample_ids, perturbation_ids, *kernel_args) -> scores``.

    Each call builds a batch of images with ``kernel(*kernel_args, sample_ids, perturbation_ids)``
    (padded to ``batch_size`` for XLA, see :func:`padded_call`) and scores them against
    ``targets[sample_ids]``, in one graph. Shared, as the explainers' compiled functions are
    (:mod:`xplique_lens.commons.tf_functions`), by every metric of the same model (held weakly),
    operator, activation, kernel and batch size: the model is traced once per process and input
    shapes, not once per metric object.
    """

    def build(get_model: Callable[[], Callable]) -> Callable:
        def scores(
            targets: tf.Tensor, sample_ids: tf.Tensor, perturbation_ids: tf.Tensor, *kernel_args
        ) -> tf.Tensor:
            def perturb(sample_ids: tf.Tensor, perturbation_ids: tf.Tensor) -> tf.Tensor:
                return kernel(*kernel_args, sample_ids, perturbation_ids)

            images = padded_call(perturb, batch_size, sample_ids, perturbation_ids)
            scored_model = with_activation(get_model(), activation)
            return operator(scored_model, images, tf.gather(targets, sample_ids))

        return scores

    kind = f"pair_scores/{kernel.__name__}/{activation}/{batch_size}"
    return shared_function(kind, model, operator, build)


def _spec(value: Any) -> Any:
    return tf.TensorSpec(value.shape, value.dtype) if isinstance(value, tf.Tensor) else value


def score_pairs(
    metric: BaseAttributionMetric,
    kernel: Callable,
    kernel_args: tuple,
    sample_ids: np.ndarray,
    perturbation_ids: np.ndarray,
) -> np.ndarray:
    """Scores of the (sample, perturbation) pairs, ``(P,)`` float32, ``batch_size`` at a time.

    Each batch's images are built by ``kernel`` and scored in one compiled call
    (:func:`compiled_pair_scores`); the scores stay tensors until the last batch (no host
    round-trip per batch). The compiled function is traced with an unknown batch size, once.
    """
    compiled = compiled_pair_scores(
        metric.model, metric.operator, metric.activation, kernel, metric.batch_size
    )
    ids = tf.TensorSpec((None,), tf.int32)
    # the trace for any batch size, called directly (no per-call signature matching)
    specs = (_spec(metric.targets), ids, ids, *map(_spec, kernel_args))
    scores = compiled.get_concrete_function(*specs)
    sample_ids = np.asarray(sample_ids, np.int32)
    perturbation_ids = np.asarray(perturbation_ids, np.int32)
    chunks = list(_chunks(len(sample_ids), metric.batch_size))
    verbose = bool(getattr(metric, "verbose", False))
    out = [
        scores(metric.targets, sample_ids[chunk], perturbation_ids[chunk], *kernel_args)
        for chunk in tqdm(chunks, disable=not verbose, desc=type(metric).__name__)
    ]
    return tf.concat(out, 0).numpy() if out else np.zeros(0, np.float32)


# --------------------------------------------------------------------------- causal fidelity


class CausalFidelity(ExplanationMetric):
    """Deletion / Insertion curve: the score while the most important features are flipped from
    the start state to the end state.

    Deletion goes from the inputs to the baseline, Insertion from the baseline to the inputs.
    Same parameters, defaults and values as Xplique 2.0.2's ``CausalFidelity``, plus
    ``patch_size`` (super-pixel granularity) and ``verbose``.

    The curve points where no feature or every feature is flipped (the inputs and the baseline
    images) do not depend on the explanation: their scores are computed once per metric object
    and reused by every ``evaluate`` (a metric usually scores many explainers); a baseline shared
    by all inputs (a constant, by default) costs one forward pass per distinct target. Points
    flipping the same number of features are computed once. The values are those of the full
    computation (up to the float rounding of a different batch composition).

    Parameters
    ----------
    model
        Keras model or callable.
    inputs
        Images ``(N, H, W, C)`` (channels of a pixel are flipped together) or other samples
        ``(N, ...)`` (each entry is a feature); array, tensor or ``tf.data.Dataset``.
    targets
        One-hot ``(N, C)`` or labels ``(N,)``; ``None`` for the predicted classes. A
        single-output model with ``(N, C)`` one-hot targets scores its one output, as Xplique
        does by broadcasting (:func:`broadcast_single_output_targets`).
    batch_size
        Number of forward passes run at once (memory bound).
    causal_mode
        ``"deletion"`` or ``"insertion"``.
    baseline_mode
        A number, a baseline name (see :mod:`xplique_lens.metrics.baselines`) or a callable
        ``inputs -> baseline images`` (functions, partials and callable objects alike; Xplique
        treats the last two as numbers and fails).
    steps
        Number of steps between the start and end states (``-1``: one per feature).
    max_percentage_perturbed
        Fraction of the features flipped at the last step, in ``]0, 1]``.
    operator, activation
        See :class:`~xplique_lens.metrics.base.BaseAttributionMetric`.
    patch_size
        ``None`` for pixels, else features are ``patch_size`` x ``patch_size`` cells ranked by
        their mean explanation (images only).
    verbose
        Show a progress bar over the chunks of forward passes.
    """

    causal_mode_default = "deletion"

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        causal_mode: str = "deletion",
        baseline_mode: float | str | Callable = 0.0,
        steps: int = 10,
        max_percentage_perturbed: float = 1.0,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
        patch_size: int | None = None,
        verbose: bool = False,
    ):
        targets = broadcast_single_output_targets(model, inputs, targets, operator)
        super().__init__(model, inputs, targets, batch_size, operator, activation)
        if causal_mode not in ("deletion", "insertion"):
            raise ValueError(
                f"`causal_mode` must be 'deletion' or 'insertion', got {causal_mode!r}."
            )
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
            raise TypeError(f"`steps` must be a positive integer or -1, got {steps!r}.")
        if steps != -1 and steps < 1:
            raise ValueError(f"`steps` must be a positive integer or -1, got {steps}.")
        if not isinstance(max_percentage_perturbed, numbers.Real) or not (
            0.0 < max_percentage_perturbed <= 1.0
        ):
            raise ValueError(
                f"`max_percentage_perturbed` must be in ]0, 1], got {max_percentage_perturbed!r}."
            )
        self.causal_mode = causal_mode
        self.baseline_mode = baseline_mode
        self.max_percentage_perturbed = float(max_percentage_perturbed)
        self.verbose = verbose

        shape = tuple(self.inputs.shape)
        self.has_channels = len(shape) > 3
        if patch_size is not None:
            if len(shape) != 4:
                raise ValueError(
                    f"`patch_size` needs images (N, H, W, C), got inputs of shape {shape}."
                )
            patch_size = check_positive_int(patch_size, "patch_size")
        self.patch_size = patch_size

        if self.has_channels:
            height, width = shape[1], shape[2]
            if patch_size:
                from .baselines import _patch_ids

                ids = _patch_ids(height, width, patch_size)
                self.nb_features = math.ceil(height / patch_size) * math.ceil(width / patch_size)
            else:
                ids = None
                self.nb_features = height * width
            self._mask_shape = (height, width, 1)
        else:
            self.nb_features = int(np.prod(shape[1:]))
            ids = None
            self._mask_shape = shape[1:]
        self._pixel_to_feature = ids  # None: one feature per pixel
        self.steps_ = causal_steps(self.nb_features, steps, self.max_percentage_perturbed)
        self.steps = len(self.steps_) - 1
        self.max_nb_perturbed = int(self.steps_[-1])
        # distinct curve points (numbers of features flipped) and the point of each step
        self._points, self._point_of_step = np.unique(self.steps_, return_inverse=True)
        self._baselines: tf.Tensor | None = None
        self._cache: dict[str, Any] = {}

    # -- state -------------------------------------------------------------------------------

    @property
    def baselines_(self) -> tf.Tensor:
        """Baseline images, ``(N, ...)``, or ``(1, ...)`` when shared by all inputs (a constant,
        or identical images), computed once."""
        if self._baselines is None:
            baselines = compute_baselines(self.baseline_mode, self.inputs, self.model)
            self._baselines = shared_baseline(baselines)
        return self._baselines

    def _state(self) -> dict[str, Any]:
        """The cached explanation-independent scores (``"inputs"``, ``"baselines"``: ``(N,)``),
        forgotten if the baseline images are replaced."""
        baselines = self.baselines_
        if self._cache.get("baselines_") is not baselines:
            self._cache = {"baselines_": baselines}
        return self._cache

    def _kernel_args(self, baselines: tf.Tensor, levels: tf.Tensor) -> tuple:
        """The leading arguments of :func:`causal_perturb` (all but the pair ids)."""
        deletion = tf.constant(self.causal_mode == "deletion")
        shared = baselines.shape[0] == 1
        return (self.inputs, baselines, levels, deletion, self._mask_shape, shared)

    def _levels(self, explanations: Any) -> tf.Tensor:
        """Flip level of each pixel (entry) of each sample, ``(N, pixels)`` (see
        :func:`flip_levels`)."""
        explanations = to_float_tensor(explanations, "explanations")
        if explanations.shape.rank == 0 or explanations.shape[0] != self.inputs.shape[0]:
            raise ValueError(
                f"`explanations` must hold one explanation per input: {self.inputs.shape[0]} "
                f"inputs, got explanations of shape {tuple(explanations.shape)}."
            )
        check_finite(explanations, "explanations")
        scores = reduce_explanations(explanations, tuple(self.inputs.shape))
        if self.patch_size:
            scores = patch_scores(scores, self.patch_size)
        levels = flip_levels(scores.numpy(), self._points)
        if self._pixel_to_feature is not None:
            levels = np.take(levels, self._pixel_to_feature, axis=1)
        return tf.constant(levels)

    # -- kernel ------------------------------------------------------------------------------

    def perturbed_path(self, explanations: Any) -> Iterator[tuple[np.ndarray, tf.Tensor]]:
        """Yield ``(flat pair ids, perturbed images)`` chunks along the curves.

        Pair ``p`` is sample ``p // (steps + 1)`` at step ``p % (steps + 1)``; each chunk holds at
        most ``batch_size`` images. Used by the baseline criteria (the metrics themselves build
        each batch next to its forward pass and skip the explanation-independent points).
        """
        args = self._kernel_args(self.baselines_, self._levels(explanations))

        def kernel(sample_ids: tf.Tensor, points: tf.Tensor) -> tf.Tensor:
            return causal_perturb(*args, sample_ids, points)

        nb_steps = len(self.steps_)
        chunks = list(_chunks(int(self.inputs.shape[0]) * nb_steps, self.batch_size))
        for chunk in tqdm(chunks, disable=not self.verbose, desc=type(self).__name__):
            pairs = np.arange(chunk.start, chunk.stop)
            sample_ids = tf.constant(pairs // nb_steps, tf.int32)
            points = tf.constant(self._point_of_step[pairs % nb_steps], tf.int32)
            yield pairs, padded_call(kernel, self.batch_size, sample_ids, points)

    def _end_points(self) -> tuple[str, str | None]:
        """What the curve starts from (no feature flipped) and ends on (every feature flipped;
        ``None`` when the last step flips fewer): ``"inputs"`` or ``"baselines"``."""
        start, end = ("inputs", "baselines")
        if self.causal_mode != "deletion":
            start, end = end, start
        return start, (end if self._points[-1] == self.nb_features else None)

    def _fixed_requests(self, state: dict[str, Any]) -> dict[str, tuple]:
        """Pairs still to score for the explanation-independent end points of the curve.

        ``{"inputs" | "baselines": (sample ids, points, expansion)}``. A shared baseline image is
        scored once per distinct target; ``expansion`` maps those scores back to the samples
        (``None``: one pair per sample).
        """
        deletion = self.causal_mode == "deletion"
        everything = len(self._points)  # the largest level: every feature flipped
        n = int(self.inputs.shape[0])
        requests = {}
        for name in self._end_points():
            if name is None or name in state:
                continue
            point = 0 if (name == "inputs") == deletion else everything
            samples, expansion = np.arange(n), None
            if name == "baselines" and state["baselines_"].shape[0] == 1:
                samples, expansion = distinct_targets(self.targets)
            requests[name] = (samples, np.full(len(samples), point), expansion)
        return requests

    def curves(self, explanations: Any) -> np.ndarray:
        """Score of every sample at every step: ``(N, steps + 1)``."""
        levels = self._levels(explanations)
        state = self._state()
        n, points = int(self.inputs.shape[0]), self._points
        inner = np.flatnonzero((points > 0) & (points < self.nb_features))
        requests = self._fixed_requests(state)
        requests["inner"] = (np.repeat(np.arange(n), len(inner)), np.tile(inner, n), None)
        scores = score_pairs(
            self,
            causal_perturb,
            self._kernel_args(state["baselines_"], levels),
            np.concatenate([samples for samples, _, _ in requests.values()]),
            np.concatenate([pts for _, pts, _ in requests.values()]),
        )
        parts = np.split(scores, np.cumsum([len(r[0]) for r in requests.values()])[:-1])
        for (name, (_, _, expansion)), part in zip(requests.items(), parts):
            if name != "inner":
                state[name] = part if expansion is None else part[expansion]
        table = np.empty((n, len(points)), np.float32)
        table[:, inner] = parts[-1].reshape(n, len(inner))
        start, end = self._end_points()
        table[:, 0] = state[start]
        if end is not None:
            table[:, -1] = state[end]
        return table[:, self._point_of_step]

    # -- public API --------------------------------------------------------------------------

    def detailed_evaluate(self, explanations: Any) -> dict[int, float]:
        """Mean score at each step, ``{number of features flipped: mean score}`` as in Xplique.

        Per-sample curves: :meth:`curves`.
        """
        mean_curve = self.curves(explanations).mean(axis=0)
        return {int(step): float(score) for step, score in zip(self.steps_, mean_curve)}

    def evaluate(self, explanations: Any) -> float:
        """Area under the mean curve (trapezoid rule, x normalised to [0, 1]), as in Xplique."""
        return float(trapezoid_auc(self.curves(explanations).mean(axis=0)))

    def evaluate_per_sample(self, explanations: Any) -> np.ndarray:
        """Area under each sample's curve, ``(N,)`` (their mean is :meth:`evaluate`)."""
        return trapezoid_auc(self.curves(explanations))


class Deletion(CausalFidelity):
    """Deletion: the score while the most important pixels are replaced by the baseline; a sharp
    drop (small area, lower is better) marks a faithful explanation.

    Ref. Petsiuk et al., *RISE* (2018), https://arxiv.org/abs/1806.07421. Drop-in for
    ``xplique.metrics.Deletion`` (same parameters, same values), vectorised and batched; adds
    ``patch_size`` and named / callable baselines (Picard et al. 2025, *Back to the Baseline*).
    See :class:`CausalFidelity` for the parameters.
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        baseline_mode: float | str | Callable = 0.0,
        steps: int = 10,
        max_percentage_perturbed: float = 1.0,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
        patch_size: int | None = None,
        verbose: bool = False,
    ):
        super().__init__(
            model,
            inputs,
            targets,
            batch_size,
            "deletion",
            baseline_mode,
            steps,
            max_percentage_perturbed,
            operator,
            activation,
            patch_size,
            verbose,
        )


class Insertion(CausalFidelity):
    """Insertion: the score while the most important pixels are put back onto the baseline; a
    fast rise (large area, higher is better) marks a faithful explanation.

    Ref. Petsiuk et al., *RISE* (2018), https://arxiv.org/abs/1806.07421. Drop-in for
    ``xplique.metrics.Insertion``; see :class:`Deletion` and :class:`CausalFidelity`.
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        baseline_mode: float | str | Callable = 0.0,
        steps: int = 10,
        max_percentage_perturbed: float = 1.0,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
        patch_size: int | None = None,
        verbose: bool = False,
    ):
        super().__init__(
            model,
            inputs,
            targets,
            batch_size,
            "insertion",
            baseline_mode,
            steps,
            max_percentage_perturbed,
            operator,
            activation,
            patch_size,
            verbose,
        )


# --------------------------------------------------------------------------- MuFidelity


@tf.function(reduce_retracing=True, jit_compile=True)
def subset_perturb(
    inputs: tf.Tensor,
    baselines: tf.Tensor,
    keep: tf.Tensor,
    shared: bool,
    sample_ids: tf.Tensor,
    subset_ids: tf.Tensor,
) -> tf.Tensor:
    """Images of the (sample, subset) pairs, XLA-compiled: the cells not kept (``keep``, boolean
    masks ``(nb_subsets, H, W, 1)`` or of the samples' shape) set to the baseline (``(N, ...)``,
    or one image ``shared`` by all samples, as in :func:`causal_perturb`)."""
    x = tf.gather(inputs, sample_ids)
    b = baselines if shared else tf.gather(baselines, sample_ids)
    return tf.where(tf.gather(keep, subset_ids), x, b)


@tf.function(reduce_retracing=True)
def spearman_rows(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """Spearman correlation of each row of ``a`` with the same row of ``b``; 0 when a row is
    constant (where scipy returns NaN, which Xplique replaces by 0). Float64."""
    a = tf.cast(a, tf.float64)
    b = tf.cast(b, tf.float64)
    ra = average_ranks(a)
    rb = average_ranks(b)
    ra -= tf.reduce_mean(ra, -1, keepdims=True)
    rb -= tf.reduce_mean(rb, -1, keepdims=True)
    num = tf.reduce_sum(ra * rb, -1)
    den = tf.sqrt(tf.reduce_sum(ra * ra, -1) * tf.reduce_sum(rb * rb, -1))
    return tf.where(den > 0, num / tf.where(den > 0, den, 1.0), tf.zeros_like(num))


class MuFidelity(ExplanationMetric):
    """MuFidelity: correlation, over random subsets of features set to the baseline, between the
    drop of the score and the sum of the explanation over the subset (higher is better).

    Ref. Bhatt et al., *Evaluating and Aggregating Feature-based Model Explanations* (2020),
    https://arxiv.org/abs/2005.00631 (def. 3). Same parameters and defaults as
    ``xplique.metrics.MuFidelity`` (each grid cell is removed with probability
    ``subset_percent``; cells upsampled with nearest-neighbour resize; Spearman correlation, 0
    when constant), with these differences, all improvements:

    - ``seed``: the subsets are drawn once from it and shared by all inputs, so the score is
      reproducible and does not depend on ``batch_size`` (Xplique draws unseeded subsets per
      batch);
    - the baseline is computed once per input (``baseline_mode`` callables get the inputs
      ``(N, H, W, C)``, as in Deletion; names and callable objects are accepted);
    - vectorised: chunks of ``batch_size`` (input, subset) pairs, correlations in one TF op;
    - the model's scores on the perturbed inputs do not depend on the explanation: they are
      computed at the first ``evaluate`` and reused by the next ones (``perturbed_scores_``,
      ``base_scores_``), where only the sums of the explanation over the subsets (a matrix
      product) and the correlations are computed.

    Parameters
    ----------
    model, inputs, targets, batch_size, operator, activation
        See :class:`CausalFidelity`.
    grid_size
        Images are cut in ``grid_size`` x ``grid_size`` cells; ``None``: one cell per pixel.
        Ignored for non-image inputs (one cell per entry).
    subset_percent
        Probability of each cell to be set to the baseline.
    baseline_mode
        See :class:`CausalFidelity`.
    nb_samples
        Number of random subsets per input.
    seed
        Seed of the subsets.
    verbose
        Show a progress bar.
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        grid_size: int | None = 9,
        subset_percent: float = 0.2,
        baseline_mode: float | str | Callable = 0.0,
        nb_samples: int = 200,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
        seed: int = 0,
        verbose: bool = False,
    ):
        targets = broadcast_single_output_targets(model, inputs, targets, operator)
        super().__init__(model, inputs, targets, batch_size, operator, activation)
        if not isinstance(subset_percent, numbers.Real) or not 0.0 <= subset_percent <= 1.0:
            raise ValueError(f"`subset_percent` must be in [0, 1], got {subset_percent!r}.")
        self.nb_samples = check_positive_int(nb_samples, "nb_samples", minimum=2)
        shape = tuple(self.inputs.shape)
        self.grid_size = (
            shape[1] if grid_size is None else check_positive_int(grid_size, "grid_size")
        )
        self.subset_percent = float(subset_percent)
        self.baseline_mode = baseline_mode
        self.seed = int(seed)
        self.verbose = verbose
        self._baselines: tf.Tensor | None = None

        if len(shape) == 4:
            cells = (self.nb_samples, self.grid_size, self.grid_size, 1)
        else:
            cells = (self.nb_samples, *shape[1:])
        noise = tf.random.stateless_uniform(cells, tf.constant([self.seed, 7], tf.int64))
        keep = tf.cast(noise > self.subset_percent, tf.float32)
        if len(shape) == 4:
            keep = tf.image.resize(keep, shape[1:3], method="nearest")
        self.subset_masks_ = keep  # 1 = kept, 0 = set to the baseline
        # the kernel's masks: the subsets, then "keep everything" (the inputs' own scores)
        self._keep = tf.concat([keep > 0.5, tf.ones_like(keep[:1], tf.bool)], axis=0)
        self._cache: dict[str, Any] = {}

    @property
    def baselines_(self) -> tf.Tensor:
        """Baseline images, ``(N, ...)``, or ``(1, ...)`` when shared by all inputs (a constant,
        or identical images), computed once."""
        if self._baselines is None:
            baselines = compute_baselines(self.baseline_mode, self.inputs, self.model)
            self._baselines = shared_baseline(baselines)
        return self._baselines

    def _scores(self) -> tf.Tensor:
        """Scores of every input with each subset removed, then with nothing removed,
        ``(N, nb_samples + 1)``: independent of the explanations, computed once (and again
        only if the baseline images are replaced)."""
        baselines = self.baselines_
        if self._cache.get("baselines_") is not baselines:
            n, nb_masks = int(self.inputs.shape[0]), self.nb_samples + 1
            scores = score_pairs(
                self,
                subset_perturb,
                (self.inputs, baselines, self._keep, baselines.shape[0] == 1),
                np.repeat(np.arange(n), nb_masks),
                np.tile(np.arange(nb_masks), n),
            )
            self._cache = {"baselines_": baselines, "scores": tf.reshape(scores, (n, nb_masks))}
        return self._cache["scores"]

    @property
    def base_scores_(self) -> tf.Tensor:
        """Scores of the unperturbed inputs, ``(N,)``."""
        return self._scores()[:, -1]

    @property
    def perturbed_scores_(self) -> tf.Tensor:
        """Scores of the inputs with each subset set to the baseline, ``(N, nb_samples)``."""
        return self._scores()[:, :-1]

    def _removed_attributions(self, explanations: tf.Tensor) -> tf.Tensor:
        """Sum of the explanation over each removed subset, ``(N, nb_samples)``."""
        shape = tuple(self.inputs.shape)
        phi = explanations
        if len(shape) == 4:
            if phi.shape.rank == 3:
                phi = phi[..., None]
            if tuple(phi.shape[1:3]) != shape[1:3] or phi.shape.rank != 4:
                raise ValueError(
                    f"`explanations` must have shape (N, H, W) or (N, H, W, C') matching the "
                    f"inputs {shape}, got {tuple(explanations.shape)}."
                )
            phi = tf.reduce_sum(phi, axis=-1)  # masks are shared by the channels
            removed = 1.0 - self.subset_masks_[..., 0]
        else:
            if tuple(phi.shape[1:]) != shape[1:]:
                raise ValueError(
                    f"`explanations` must have the inputs' shape {shape}, got {tuple(phi.shape)}."
                )
            removed = 1.0 - self.subset_masks_
        phi = tf.reshape(phi, (shape[0], -1))
        removed = tf.reshape(removed, (self.nb_samples, -1))
        return tf.matmul(phi, removed, transpose_b=True)

    def detailed_evaluate(self, explanations: Any) -> np.ndarray:
        """Spearman correlation of each input, ``(N,)`` (their mean is :meth:`evaluate`)."""
        explanations = to_float_tensor(explanations, "explanations")
        n = int(self.inputs.shape[0])
        if explanations.shape.rank == 0 or explanations.shape[0] != n:
            raise ValueError(
                f"`explanations` must hold one explanation per input: {n} inputs, got "
                f"explanations of shape {tuple(explanations.shape)}."
            )
        check_finite(explanations, "explanations")
        attributions = self._removed_attributions(explanations)
        drops = self.base_scores_[:, None] - self.perturbed_scores_
        rows = _chunks(n, max(1, 4096 // self.nb_samples))
        return np.concatenate(
            [spearman_rows(drops[s], attributions[s]).numpy() for s in rows], axis=0
        )

    def evaluate(self, explanations: Any) -> float:
        """Mean Spearman correlation between score drops and removed attributions."""
        return float(np.mean(self.detailed_evaluate(explanations)))
