"""Fidelity metrics: Deletion, Insertion (causal curves) and MuFidelity, with Xplique's signatures.

The curves are vectorised: the (sample, step) pairs are flattened and run in chunks of
``batch_size`` forward passes (:func:`~xplique_lens.metrics.perturbation.score_pairs`); each
chunk's perturbed images are built (one fused XLA pass, from per-pixel flip levels computed once
per explanation) and scored in one compiled call. The model is run only where the explanation
matters: the scores of the inputs and of the baseline images (the end points of the curves) are
computed once per metric object and reused by every ``evaluate``
(:class:`~xplique_lens.metrics.fidelity_base.ScoreCache`).

This module also re-exports the kernels (:mod:`~xplique_lens.metrics.perturbation`), the shared
shell (:mod:`~xplique_lens.metrics.fidelity_base`) and :class:`MuFidelity`
(:mod:`~xplique_lens.metrics.mufidelity`), whose public names it has always held.

Refs. Petsiuk et al., *RISE: Randomized Input Sampling for Explanation of Black-box Models*
(2018), https://arxiv.org/abs/1806.07421 (Deletion / Insertion); Picard et al., *Back to the
Baseline* (2025), arXiv 2512.11433 (baselines).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.batching import batch_slices
from ..commons.operators import OperatorSignature
from ..commons.stats import spearman_rows, trapezoid_auc
from ..commons.validation import check_choice, check_positive_int
from .baselines import patch_ids
from .fidelity_base import PerturbationMetric, ScoreCache, broadcast_single_output_targets
from .mufidelity import MuFidelity
from .perturbation import (
    causal_perturb,
    causal_steps,
    compiled_pair_scores,
    descending_order,
    distinct_targets,
    feature_ranks,
    flip_levels,
    padded_call,
    patch_scores,
    reduce_explanations,
    score_pairs,
    subset_perturb,
)

__all__ = [
    "CausalFidelity",
    "Deletion",
    "Insertion",
    "MuFidelity",
    "PerturbationMetric",
    "ScoreCache",
    "broadcast_single_output_targets",
    "causal_perturb",
    "causal_steps",
    "compiled_pair_scores",
    "descending_order",
    "distinct_targets",
    "feature_ranks",
    "flip_levels",
    "padded_call",
    "patch_scores",
    "reduce_explanations",
    "score_pairs",
    "spearman_rows",
    "subset_perturb",
    "trapezoid_auc",
]

CAUSAL_MODES = ("deletion", "insertion")


class _Pairs(NamedTuple):
    """(sample, curve point) pairs of one end point of the curves; ``expansion`` maps the
    scores of distinct targets back to the samples (``None``: one pair per sample)."""

    name: str
    samples: np.ndarray
    points: np.ndarray
    expansion: np.ndarray | None


class CausalFidelity(PerturbationMetric):
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

    Attributes
    ----------
    steps_
        Number of features flipped at each step, ``(steps + 1,)`` (``steps`` keeps the value
        given, ``-1`` included).
    """

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
        self.causal_mode = check_choice(causal_mode, "causal_mode", CAUSAL_MODES)
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
            raise TypeError(f"`steps` must be a positive integer or -1, got {steps!r}.")
        if steps != -1 and steps < 1:
            raise ValueError(f"`steps` must be a positive integer or -1, got {steps}.")
        if (
            isinstance(max_percentage_perturbed, bool)
            or not isinstance(max_percentage_perturbed, numbers.Real)
            or not 0.0 < max_percentage_perturbed <= 1.0
        ):
            raise ValueError(
                f"`max_percentage_perturbed` must be in ]0, 1], got {max_percentage_perturbed!r}."
            )
        if patch_size is not None:
            patch_size = check_positive_int(patch_size, "patch_size")
        super().__init__(
            model, inputs, targets, batch_size, baseline_mode, operator, activation, verbose
        )
        self.steps = int(steps)
        self.max_percentage_perturbed = float(max_percentage_perturbed)

        shape = tuple(self.inputs.shape)
        self.has_channels = len(shape) > 3
        if patch_size is not None and len(shape) != 4:
            raise ValueError(
                f"`patch_size` needs images (N, H, W, C), got inputs of shape {shape}."
            )
        self.patch_size = patch_size
        self._pixel_to_feature = None  # None: one feature per pixel
        if self.has_channels:
            height, width = shape[1], shape[2]
            if patch_size:
                self._pixel_to_feature = patch_ids(height, width, patch_size)
                self.nb_features = math.ceil(height / patch_size) * math.ceil(width / patch_size)
            else:
                self.nb_features = height * width
            self._mask_shape = (height, width, 1)
        else:
            self.nb_features = int(np.prod(shape[1:]))
            self._mask_shape = shape[1:]
        self.steps_ = causal_steps(self.nb_features, self.steps, self.max_percentage_perturbed)
        self.max_nb_perturbed = int(self.steps_[-1])
        # distinct curve points (numbers of features flipped) and the point of each step
        self._points, self._point_of_step = np.unique(self.steps_, return_inverse=True)

    # -- kernel arguments --------------------------------------------------------------------

    def _kernel_args(self, baselines: tf.Tensor, levels: tf.Tensor) -> tuple:
        """The leading arguments of :func:`causal_perturb` (all but the pair ids)."""
        deletion = tf.constant(self.causal_mode == "deletion")
        shared = baselines.shape[0] == 1
        return (self.inputs, baselines, levels, deletion, self._mask_shape, shared)

    def _levels(self, explanations: Any) -> tf.Tensor:
        """Flip level of each pixel (entry) of each sample, ``(N, pixels)`` (see
        :func:`flip_levels`)."""
        scores = self.feature_scores(explanations)
        if self.patch_size:
            scores = patch_scores(scores, self.patch_size)
        levels = flip_levels(scores.numpy(), self._points)
        if self._pixel_to_feature is not None:
            levels = np.take(levels, self._pixel_to_feature, axis=1)
        return tf.constant(levels)

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
        chunks = list(batch_slices(int(self.inputs.shape[0]) * nb_steps, self.batch_size))
        for chunk in tqdm(chunks, disable=not self.verbose, desc=type(self).__name__):
            pairs = np.arange(chunk.start, chunk.stop)
            sample_ids = tf.constant(pairs // nb_steps, tf.int32)
            points = tf.constant(self._point_of_step[pairs % nb_steps], tf.int32)
            yield pairs, padded_call(kernel, self.batch_size, sample_ids, points)

    # -- the explanation-independent end points ----------------------------------------------

    def _end_points(self) -> tuple[str, str | None]:
        """The :class:`ScoreCache` fields the curve starts from (no feature flipped) and ends on
        (every feature flipped; ``None`` when the last step flips fewer)."""
        start, end = ("inputs", "baseline")
        if self.causal_mode != "deletion":
            start, end = end, start
        return start, (end if self._points[-1] == self.nb_features else None)

    def _missing_end_points(self, cache: ScoreCache) -> list[_Pairs]:
        """Pairs still to score for the end points absent from ``cache``. A shared baseline
        image is scored once per distinct target."""
        deletion = self.causal_mode == "deletion"
        n = int(self.inputs.shape[0])
        pairs = []
        for name in self._end_points():
            if name is None or getattr(cache, name) is not None:
                continue
            point = 0 if (name == "inputs") == deletion else len(self._points)
            samples, expansion = np.arange(n), None
            if name == "baseline" and cache.baselines.shape[0] == 1:
                samples, expansion = distinct_targets(self.targets)
            pairs.append(_Pairs(name, samples, np.full(len(samples), point), expansion))
        return pairs

    # -- public API --------------------------------------------------------------------------

    def curves(self, explanations: Any) -> np.ndarray:
        """Score of every sample at every step: ``(N, steps + 1)``."""
        levels = self._levels(explanations)
        cache = self.score_cache()
        n, points = int(self.inputs.shape[0]), self._points
        inner = np.flatnonzero((points > 0) & (points < self.nb_features))
        missing = self._missing_end_points(cache)
        scores = score_pairs(
            self,
            causal_perturb,
            self._kernel_args(cache.baselines, levels),
            np.concatenate([p.samples for p in missing] + [np.repeat(np.arange(n), len(inner))]),
            np.concatenate([p.points for p in missing] + [np.tile(inner, n)]),
        )
        offset = 0
        for pairs in missing:
            part = scores[offset : offset + len(pairs.samples)]
            offset += len(pairs.samples)
            setattr(cache, pairs.name, part if pairs.expansion is None else part[pairs.expansion])
        table = np.empty((n, len(points)), np.float32)
        table[:, inner] = scores[offset:].reshape(n, len(inner))
        start, end = self._end_points()
        table[:, 0] = getattr(cache, start)
        if end is not None:
            table[:, -1] = getattr(cache, end)
        return table[:, self._point_of_step]

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


class _OneWayCausalFidelity(CausalFidelity):
    """A :class:`CausalFidelity` whose direction is the class attribute ``causal_mode``.

    Its signature is Xplique's ``Deletion`` / ``Insertion`` one (no ``causal_mode``), kept for
    drop-in use.
    """

    causal_mode = "deletion"

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
            type(self).causal_mode,
            baseline_mode,
            steps,
            max_percentage_perturbed,
            operator,
            activation,
            patch_size,
            verbose,
        )


class Deletion(_OneWayCausalFidelity):
    """Deletion: the score while the most important pixels are replaced by the baseline; a sharp
    drop (small area, lower is better) marks a faithful explanation.

    Ref. Petsiuk et al., *RISE* (2018), https://arxiv.org/abs/1806.07421. Drop-in for
    ``xplique.metrics.Deletion`` (same parameters, same values), vectorised and batched; adds
    ``patch_size`` and named / callable baselines (Picard et al. 2025, *Back to the Baseline*).
    See :class:`CausalFidelity` for the parameters (all but ``causal_mode``).
    """

    causal_mode = "deletion"


class Insertion(_OneWayCausalFidelity):
    """Insertion: the score while the most important pixels are put back onto the baseline; a
    fast rise (large area, higher is better) marks a faithful explanation.

    Ref. Petsiuk et al., *RISE* (2018), https://arxiv.org/abs/1806.07421. Drop-in for
    ``xplique.metrics.Insertion``; see :class:`Deletion` and :class:`CausalFidelity`.
    """

    causal_mode = "insertion"
