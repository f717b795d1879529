"""MuFidelity (Bhatt et al. 2020), with Xplique's signature.

Ref. Bhatt et al., *Evaluating and Aggregating Feature-based Model Explanations* (2020),
https://arxiv.org/abs/2005.00631 (def. 3). Its concept-space twin is
:class:`~xplique_lens.concepts.fidelity.CMuFidelity`: the same subsets
(:func:`~xplique_lens.metrics.perturbation.keep_masks`), the same lazy cache and the same
correlation kernels (:mod:`xplique_lens.commons.stats`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.batching import batch_slices
from ..commons.operators import OperatorSignature
from ..commons.stats import CORRELATIONS, check_correlation
from ..commons.validation import check_positive_int, check_seed
from .fidelity_base import PerturbationMetric
from .perturbation import (
    check_subset_percent,
    keep_masks,
    score_pairs,
    subset_perturb,
)


class MuFidelity(PerturbationMetric):
    """MuFidelity: correlation, over random subsets of features set to the baseline, between the
    drop of the score and the sum of the explanation over the subset (higher is better).

    Ref. Bhatt et al., *Evaluating and Aggregating Feature-based Model Explanations* (2020),
    https://arxiv.org/abs/2005.00631 (def. 3). Same parameters and defaults as
    ``xplique.metrics.MuFidelity`` (each grid cell is removed with probability
    ``subset_percent``; cells upsampled with nearest-neighbour resize), with these differences,
    all improvements:

    - the correlation: Spearman by default, as Xplique 2.0.2 (``scipy.stats.spearmanr``, 0 when
      constant), so values equal Xplique's; the paper defines Pearson's, which
      ``correlation="pearson"`` gives (the default of the concept twin
      :class:`~xplique_lens.concepts.fidelity.CMuFidelity`). A deliberate difference, kept for
      drop-in values;
    - ``seed``: the subsets are drawn once from it and shared by all inputs, so the score is
      reproducible and does not depend on ``batch_size`` (Xplique draws unseeded subsets per
      batch);
    - the baseline is computed once per input (``baseline_mode`` callables get the inputs
      ``(N, H, W, C)``, as in Deletion; names and callable objects are accepted);
    - vectorised: chunks of ``batch_size`` (input, subset) pairs;
    - the model's scores on the perturbed inputs do not depend on the explanation: they are
      computed at the first ``evaluate`` and reused by the next ones (``perturbed_scores_``,
      ``base_scores_``), where only the sums of the explanation over the subsets (a matrix
      product) and the correlations are computed.

    Parameters
    ----------
    model, inputs, targets, batch_size, operator, activation
        See :class:`~xplique_lens.metrics.fidelity.CausalFidelity`.
    grid_size
        Images are cut in ``grid_size`` x ``grid_size`` cells; ``None``: one cell per pixel.
        Ignored for non-image inputs (one cell per entry).
    subset_percent
        Probability of each cell to be set to the baseline, in ``(0, 1)``.
    baseline_mode
        See :class:`~xplique_lens.metrics.fidelity.CausalFidelity`.
    nb_samples
        Number of random subsets per input (at least 2).
    seed : int or None, default 0
        Seed of the subsets; None draws fresh randomness.
    verbose
        Show a progress bar.
    correlation
        ``"spearman"`` (Xplique's) or ``"pearson"`` (the paper's).
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
        seed: int | None = 0,
        verbose: bool = False,
        correlation: str = "spearman",
    ):
        self.subset_percent = check_subset_percent(subset_percent)
        self.nb_samples = check_positive_int(nb_samples, "nb_samples", minimum=2)
        if grid_size is not None:
            grid_size = check_positive_int(grid_size, "grid_size")
        self.seed = check_seed(seed)
        self.correlation = check_correlation(correlation)
        super().__init__(
            model, inputs, targets, batch_size, baseline_mode, operator, activation, verbose
        )
        shape = tuple(self.inputs.shape)
        self.grid_size = shape[1] if grid_size is None else grid_size
        if len(shape) == 4:
            cells = (self.nb_samples, self.grid_size, self.grid_size, 1)
        else:
            cells = (self.nb_samples, *shape[1:])
        keep = keep_masks(cells, self.subset_percent, self.seed)
        if len(shape) == 4:
            keep = tf.image.resize(keep, shape[1:3], method="nearest")
        self.subset_masks_ = keep  # 1 = kept, 0 = set to the baseline
        # the kernel's masks: the subsets, then "keep everything" (the inputs' own scores)
        self._keep = tf.concat([keep > 0.5, tf.ones_like(keep[:1], tf.bool)], axis=0)

    def _scores(self) -> tuple[np.ndarray, np.ndarray]:
        """``(inputs, subsets)`` scores, ``(N,)`` and ``(N, nb_samples)``: independent of the
        explanations, computed once (and again only if the baseline images are replaced)."""
        cache = self.score_cache()
        if cache.subsets is None:
            n, nb_masks = int(self.inputs.shape[0]), self.nb_samples + 1
            baselines = cache.baselines
            scores = score_pairs(
                self,
                subset_perturb,
                (self.inputs, baselines, self._keep, baselines.shape[0] == 1),
                np.repeat(np.arange(n), nb_masks),
                np.tile(np.arange(nb_masks), n),
            ).reshape(n, nb_masks)
            cache.inputs, cache.subsets = scores[:, -1], scores[:, :-1]
        return cache.inputs, cache.subsets

    @property
    def base_scores_(self) -> tf.Tensor:
        """Scores of the unperturbed inputs, ``(N,)``."""
        return tf.constant(self._scores()[0])

    @property
    def perturbed_scores_(self) -> tf.Tensor:
        """Scores of the inputs with each subset set to the baseline, ``(N, nb_samples)``."""
        return tf.constant(self._scores()[1])

    def _removed_attributions(self, explanations: Any) -> tf.Tensor:
        """Sum of the explanation over each removed subset, ``(N, nb_samples)``."""
        phi = self.feature_scores(explanations, tf.reduce_sum)  # masks shared by the channels
        removed = 1.0 - self.subset_masks_
        if len(self.inputs.shape) == 4:
            removed = removed[..., 0]
        phi = tf.reshape(phi, (int(self.inputs.shape[0]), -1))
        removed = tf.reshape(removed, (self.nb_samples, -1))
        return tf.matmul(phi, removed, transpose_b=True)

    def detailed_evaluate(self, explanations: Any) -> np.ndarray:
        """Correlation of each input, ``(N,)`` (their mean is :meth:`evaluate`)."""
        attributions = self._removed_attributions(explanations).numpy()
        inputs, subsets = self._scores()
        drops = inputs[:, None] - subsets
        correlate = CORRELATIONS[self.correlation]
        rows = batch_slices(len(drops), max(1, 4096 // self.nb_samples))
        return np.concatenate([correlate(drops[s], attributions[s]) for s in rows], axis=0)

    def evaluate(self, explanations: Any) -> float:
        """Mean correlation between score drops and removed attributions."""
        return float(np.mean(self.detailed_evaluate(explanations)))
