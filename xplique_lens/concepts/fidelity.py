"""C-Deletion, C-Insertion and C-MuFidelity: fidelity metrics in concept space.

The holistic framework scores concept importances as attributions of the model on concept codes
``H(U) = h(U W + mean)`` (Fel et al. 2023, "A Holistic Approach to Unifying Automatic Concept
Extraction and Concept Importance Estimation", NeurIPS, arXiv 2306.07304, section 3.3):

- **C-Deletion**: remove the concepts (set their code to ``baseline_mode``, at every position of
  spatial codes) in decreasing order of importance and record the class score; the metric is the
  area under that curve (lower is better);
- **C-Insertion**: start from all concepts removed and add them back in the same order (higher
  is better);
- **C-MuFidelity**: correlation, over random subsets of concepts, between the sum of the
  importances of the removed concepts and the drop of the score (higher is better).

They mirror :class:`~xplique_lens.metrics.Deletion`, ``Insertion`` and ``MuFidelity`` (Xplique's
parameters: ``batch_size``, ``baseline_mode``, ``steps``, ``operator``, ``activation``...), with
concepts in place of pixels. Every ``inputs x steps`` (or ``x subsets``) pair streams through
the compiled perturbation kernel of the Sobol family in chunks of ``batch_size`` forward passes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ..attributions.sobol import Perturbation, make_perturbation_scorer, perturbation_scores
from ..commons.operators import OperatorSignature
from ..commons.stats import CORRELATIONS, check_correlation, trapezoid_auc
from ..commons.validation import check_finite, check_positive_int, check_seed, to_float_tensor
from ..metrics.base import ExplanationMetric
from ..metrics.perturbation import check_subset_percent, keep_masks
from .importance import ConceptMasking, as_codes, concept_space_model


class _RankMasking(Perturbation):
    """Keep the concepts whose importance rank is ``>= m`` (deletion) or ``< m`` (insertion)."""

    def __init__(self, baseline_value: float, insertion: bool):
        self.inner = ConceptMasking(baseline_value)
        self.insertion = insertion

    def __call__(self, inputs, masks, ranks):
        removed = tf.cast(ranks, tf.float32) < masks  # masks: (B, 1) counts of concepts moved
        keep = removed if self.insertion else tf.logical_not(removed)
        return self.inner(inputs, tf.cast(keep, tf.float32))


class ConceptFidelityMetric(ExplanationMetric):
    """Shared shell: the concept-space model, the codes and the scoring kernel.

    Parameters
    ----------
    latent_to_logit_model
        ``h``: activations ``(B, [h, w,] p)`` -> logits.
    codes
        Concept codes ``(N, r)`` or spatial ``(N, h, w, r)`` of the evaluated images.
    concept_bank
        ``W`` ``(r, p)``.
    targets
        Class ids ``(N,)``, one-hot ``(N, C)``, or None (predicted class).
    batch_size
        Forward passes of ``h`` per chunk.
    baseline_mode
        Code value of a removed concept (0: absent for NMF, the mean activation for PCA).
    mean
        The extractor's mean (``PCA.mean_``), or None.
    operator, activation
        See :class:`~xplique_lens.metrics.base.BaseAttributionMetric` (e.g. ``"softmax"``).
    """

    def __init__(
        self,
        latent_to_logit_model: Callable,
        codes: Any,
        concept_bank: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        baseline_mode: float = 0.0,
        mean: Any = None,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
    ):
        if isinstance(baseline_mode, bool) or not isinstance(baseline_mode, int | float):
            raise TypeError(
                f"`baseline_mode` must be a number (the code of a removed concept), got "
                f"{baseline_mode!r}."
            )
        model = concept_space_model(latent_to_logit_model, concept_bank, mean)
        self.number_of_concepts = model.number_of_concepts
        codes = as_codes(codes, self.number_of_concepts)
        super().__init__(model, codes, targets, batch_size, operator, activation)
        self.baseline_mode = float(baseline_mode)
        self.latent_to_logit_model = latent_to_logit_model

    def _importances(self, importances: Any) -> tf.Tensor:
        values = to_float_tensor(importances, "importances")
        expected = (int(self.inputs.shape[0]), self.number_of_concepts)
        if tuple(values.shape) != expected:
            raise ValueError(
                f"`importances` must have shape {expected} (one importance per image and "
                f"concept), got {tuple(values.shape)}."
            )
        check_finite(values, "importances")
        return values

    def _scores(self, scorer, masks, extras=()) -> tf.Tensor:
        return perturbation_scores(
            scorer, self.inputs, self.targets, masks, extras, self.batch_size
        )


class _CausalConceptMetric(ConceptFidelityMetric):
    insertion = False

    def __init__(
        self,
        latent_to_logit_model: Callable,
        codes: Any,
        concept_bank: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        baseline_mode: float = 0.0,
        steps: int | None = None,
        mean: Any = None,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
    ):
        if steps is not None:
            steps = check_positive_int(steps, "steps")
        super().__init__(
            latent_to_logit_model,
            codes,
            concept_bank,
            targets,
            batch_size,
            baseline_mode,
            mean,
            operator,
            activation,
        )
        r = self.number_of_concepts
        self.steps = steps
        nb_steps = r if steps is None else steps
        if nb_steps > r:
            raise ValueError(f"`steps`={nb_steps} must be at most the number of concepts ({r}).")
        counts = np.ceil(np.linspace(0.0, r, nb_steps + 1) - 1e-9)
        self._counts = tf.constant(counts[:, None], tf.float32)  # concepts moved at each step
        operator_fn, model = self.operator, self.scored_model
        self._scorer = make_perturbation_scorer(
            lambda x, y: operator_fn(model, x, y), _RankMasking(self.baseline_mode, self.insertion)
        )

    def detailed_evaluate(self, importances: Any) -> np.ndarray:
        """Score curves ``(N, steps + 1)``: step 0 is the intact (deletion) or empty (insertion)
        code, step ``steps`` the opposite."""
        values = self._importances(importances)
        order = tf.argsort(-values, axis=-1, stable=True)
        ranks = tf.argsort(order, axis=-1, stable=True)
        return self._scores(self._scorer, self._counts, (ranks,)).numpy()

    def evaluate(self, importances: Any) -> float:
        """Mean area under the score curves (trapezoid over the share of concepts moved,
        :func:`~xplique_lens.commons.stats.trapezoid_auc`, as the pixel Deletion / Insertion)."""
        return float(trapezoid_auc(self.detailed_evaluate(importances)).mean())


class CDeletion(_CausalConceptMetric):
    """C-Deletion: remove concepts by decreasing importance; area under the score (lower is
    better).

    Parameters
    ----------
    latent_to_logit_model, codes, concept_bank, targets, batch_size, baseline_mode, mean,
    operator, activation
        See :class:`ConceptFidelityMetric`.
    steps
        Points of the curve; None (default) removes one concept per step (``r`` steps).

    References
    ----------
    Fel et al., "A Holistic Approach to Unifying Automatic Concept Extraction and Concept
    Importance Estimation", NeurIPS 2023.
    """

    insertion = False


class CInsertion(_CausalConceptMetric):
    """C-Insertion: add concepts back by decreasing importance, starting from all removed; area
    under the score (higher is better). Parameters as :class:`CDeletion`."""

    insertion = True


class CMuFidelity(ConceptFidelityMetric):
    """C-MuFidelity: correlation between the importance of removed concept subsets and the score
    drop they cause, averaged over images (higher is better).

    The concept twin of :class:`~xplique_lens.metrics.MuFidelity` (Bhatt et al. 2020, def. 3):
    each of ``nb_samples`` random subsets removes every concept with probability
    ``subset_percent`` (:func:`~xplique_lens.metrics.perturbation.keep_masks`, drawn from
    ``seed`` and shared by the images), and the scores of the subsets, which do not depend on the
    importances, are computed at the first evaluation and reused. The correlation is the
    paper's, Pearson's, by default; the pixel ``MuFidelity`` defaults to Spearman's for equality
    with Xplique (a deliberate difference: ``correlation=`` selects either in both).

    Parameters
    ----------
    latent_to_logit_model, codes, concept_bank, targets, batch_size, baseline_mode, mean,
    operator, activation
        See :class:`ConceptFidelityMetric`.
    subset_percent
        Probability that a concept is removed in a subset, in ``(0, 1)``.
    nb_samples
        Number of subsets (at least 2).
    seed : int or None, default 0
        Seed of the subsets; None draws fresh randomness.
    correlation
        ``"pearson"`` (the paper's) or ``"spearman"`` (Xplique's MuFidelity).
    """

    def __init__(
        self,
        latent_to_logit_model: Callable,
        codes: Any,
        concept_bank: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        baseline_mode: float = 0.0,
        subset_percent: float = 0.2,
        nb_samples: int = 200,
        mean: Any = None,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
        seed: int | None = 0,
        correlation: str = "pearson",
    ):
        self.subset_percent = check_subset_percent(subset_percent)
        self.nb_samples = check_positive_int(nb_samples, "nb_samples", minimum=2)
        self.seed = check_seed(seed)
        self.correlation = check_correlation(correlation)
        super().__init__(
            latent_to_logit_model,
            codes,
            concept_bank,
            targets,
            batch_size,
            baseline_mode,
            mean,
            operator,
            activation,
        )
        self._masks = keep_masks(
            (self.nb_samples, self.number_of_concepts), self.subset_percent, self.seed
        )  # 1 keeps
        operator_fn, model = self.operator, self.scored_model
        self._scorer = make_perturbation_scorer(
            lambda x, y: operator_fn(model, x, y), ConceptMasking(self.baseline_mode)
        )
        self._drops: np.ndarray | None = None

    @property
    def drops_(self) -> np.ndarray:
        """Score drop of each image for each subset, ``(N, nb_samples)`` float64 (computed once,
        at first use: it does not depend on the importances)."""
        if self._drops is None:
            masks = tf.concat([tf.ones((1, self.number_of_concepts)), self._masks], 0)
            scores = self._scores(self._scorer, masks)
            self._drops = (scores[:, :1] - scores[:, 1:]).numpy().astype(np.float64)
        return self._drops

    def detailed_evaluate(self, importances: Any) -> np.ndarray:
        """Per-image correlations ``(N,)`` (0 where either side is constant)."""
        values = self._importances(importances).numpy().astype(np.float64)
        removed = 1.0 - self._masks.numpy().astype(np.float64)
        attributions = values @ removed.T  # (N, S)
        return CORRELATIONS[self.correlation](attributions, self.drops_)

    def evaluate(self, importances: Any) -> float:
        """Mean correlation over the images."""
        return float(self.detailed_evaluate(importances).mean())
