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
from ..commons.validation import check_positive_int, to_float_tensor
from ..metrics.base import ExplanationMetric
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
        model = concept_space_model(latent_to_logit_model, concept_bank, mean)
        self.number_of_concepts = model.number_of_concepts
        codes = as_codes(codes, self.number_of_concepts)
        super().__init__(model, codes, targets, batch_size, operator, activation)
        if not isinstance(baseline_mode, int | float):
            raise TypeError(
                f"`baseline_mode` must be a number, got {type(baseline_mode).__name__}."
            )
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
        if not bool(tf.reduce_all(tf.math.is_finite(values))):
            raise ValueError("`importances` contains NaN or inf values.")
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
        self.steps = r if steps is None else check_positive_int(steps, "steps")
        if self.steps > r:
            raise ValueError(f"`steps`={self.steps} must be at most the number of concepts ({r}).")
        counts = np.ceil(np.linspace(0.0, r, self.steps + 1) - 1e-9)
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
        """Mean area under the score curve (trapezoid over the share of concepts moved)."""
        curves = self.detailed_evaluate(importances)
        width = 1.0 / (curves.shape[1] - 1)
        areas = width * (curves[:, 1:] + curves[:, :-1]).sum(axis=1) / 2.0
        return float(areas.mean())


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
    """C-MuFidelity: Pearson correlation between the importance of removed concept subsets and
    the score drop they cause, averaged over images (higher is better).

    Each of ``nb_samples`` random subsets removes every concept with probability
    ``subset_percent`` (as Xplique's MuFidelity removes grid cells); the subsets are drawn from
    ``seed`` and shared by the images.

    Parameters
    ----------
    latent_to_logit_model, codes, concept_bank, targets, batch_size, baseline_mode, mean,
    operator, activation
        See :class:`ConceptFidelityMetric`.
    subset_percent
        Probability that a concept is removed in a subset.
    nb_samples
        Number of subsets.
    seed
        Seed of the subsets.
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
        seed: int = 0,
    ):
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
        if not 0.0 < float(subset_percent) < 1.0:
            raise ValueError(f"`subset_percent` must be in (0, 1), got {subset_percent!r}.")
        self.subset_percent = float(subset_percent)
        self.nb_samples = check_positive_int(nb_samples, "nb_samples", minimum=2)
        self.seed = int(seed)
        uniform = tf.random.stateless_uniform(
            (self.nb_samples, self.number_of_concepts), [self.seed, 0]
        )
        self._masks = tf.cast(uniform >= self.subset_percent, tf.float32)  # 1 keeps
        operator_fn, model = self.operator, self.scored_model
        self._scorer = make_perturbation_scorer(
            lambda x, y: operator_fn(model, x, y), ConceptMasking(self.baseline_mode)
        )
        masks = tf.concat([tf.ones((1, self.number_of_concepts)), self._masks], 0)
        scores = self._scores(self._scorer, masks)
        self._drops = (scores[:, :1] - scores[:, 1:]).numpy().astype(np.float64)  # (N, S)

    def detailed_evaluate(self, importances: Any) -> np.ndarray:
        """Per-image correlations ``(N,)`` (0 where either side is constant)."""
        values = self._importances(importances).numpy().astype(np.float64)
        removed = 1.0 - self._masks.numpy().astype(np.float64)
        attributions = values @ removed.T  # (N, S)
        a = attributions - attributions.mean(1, keepdims=True)
        d = self._drops - self._drops.mean(1, keepdims=True)
        denominator = np.sqrt((a**2).sum(1) * (d**2).sum(1))
        return np.where(denominator > 1e-12, (a * d).sum(1) / np.maximum(denominator, 1e-30), 0.0)

    def evaluate(self, importances: Any) -> float:
        """Mean correlation over the images."""
        return float(self.detailed_evaluate(importances).mean())
