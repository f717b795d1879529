"""The shared shell of the perturbation fidelity metrics (Deletion, Insertion, MuFidelity).

:class:`PerturbationMetric` owns what those metrics have in common: the validated settings
(``baseline_mode``, ``verbose``), the baseline images (:attr:`~PerturbationMetric.baselines_`,
computed once), the check of the explanations, and a typed cache of the model's scores that do
not depend on the explanation (:class:`ScoreCache`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.inputs import model_output_size
from ..commons.operators import (
    OperatorSignature,
    get_operator,
    predictions_operator,
    regression_operator,
)
from ..commons.validation import check_finite, to_float_tensor
from .base import ExplanationMetric
from .baselines import compute_baselines, get_baseline, shared_baseline
from .perturbation import reduce_explanations


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


@dataclass
class ScoreCache:
    """Model scores that do not depend on the explanation, valid for one set of baselines.

    Attributes
    ----------
    baselines
        The baseline images the scores below were computed with (the cache's identity: replaced
        baselines invalidate it).
    inputs
        Score of each unperturbed input, ``(N,)``; ``None`` until computed.
    baseline
        Score of each input's baseline image (everything flipped), ``(N,)``.
    subsets
        Scores of each input with each random subset set to the baseline,
        ``(N, nb_samples)`` (MuFidelity).
    """

    baselines: tf.Tensor
    inputs: np.ndarray | None = None
    baseline: np.ndarray | None = None
    subsets: np.ndarray | None = None


class PerturbationMetric(ExplanationMetric):
    """A metric that scores the model on inputs partly replaced by baseline images.

    Parameters
    ----------
    model, inputs, targets, batch_size, operator, activation
        See :class:`~xplique_lens.metrics.base.BaseAttributionMetric`. A single-output model
        with ``(N, C)`` one-hot targets scores its one output, as Xplique does by broadcasting
        (:func:`broadcast_single_output_targets`).
    baseline_mode
        A number, a baseline name (see :mod:`xplique_lens.metrics.baselines`) or a callable
        ``inputs -> baseline images`` (functions, partials and callable objects alike); checked
        here, the images computed at first use (:attr:`baselines_`).
    verbose
        Show a progress bar over the chunks of forward passes.
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        baseline_mode: float | str | Callable = 0.0,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
        verbose: bool = False,
    ):
        get_baseline(baseline_mode, model)  # raises on an unknown name or type, now
        if not isinstance(verbose, bool | int | np.bool_):
            raise TypeError(f"`verbose` must be a bool, got {verbose!r}.")
        targets = broadcast_single_output_targets(model, inputs, targets, operator)
        super().__init__(model, inputs, targets, batch_size, operator, activation)
        self.baseline_mode = baseline_mode
        self.verbose = bool(verbose)
        self._baselines: tf.Tensor | None = None
        self._cache: ScoreCache | None = None

    @property
    def baselines_(self) -> tf.Tensor:
        """Baseline images, ``(N, ...)``, or ``(1, ...)`` when shared by all inputs (a constant,
        or identical images), computed once."""
        if self._baselines is None:
            baselines = compute_baselines(self.baseline_mode, self.inputs, self.model)
            self._baselines = shared_baseline(baselines)
        return self._baselines

    def score_cache(self) -> ScoreCache:
        """The explanation-independent scores, forgotten if the baseline images are replaced."""
        baselines = self.baselines_
        if self._cache is None or self._cache.baselines is not baselines:
            self._cache = ScoreCache(baselines)
        return self._cache

    def feature_scores(self, explanations: Any, reduce: Callable = tf.reduce_mean) -> tf.Tensor:
        """Checked explanations, one score per feature (:func:`reduce_explanations`).

        Raises a ``ValueError`` unless ``explanations`` are finite numbers, one explanation per
        input, of a shape matching the inputs.
        """
        explanations = to_float_tensor(explanations, "explanations")
        n = int(self.inputs.shape[0])
        if explanations.shape.rank == 0 or explanations.shape[0] != n:
            raise ValueError(
                f"`explanations` must hold one explanation per input: {n} inputs, got "
                f"explanations of shape {tuple(explanations.shape)}."
            )
        check_finite(explanations, "explanations")
        return reduce_explanations(explanations, tuple(self.inputs.shape), reduce)
