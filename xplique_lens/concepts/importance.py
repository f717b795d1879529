"""Concept importance: attribution methods applied in concept space (the holistic framework).

Activations factorise as ``A ~ U W (+ mean)``; the latent-to-logit function ``h`` composed with
the reconstruction gives a model on concept codes, ``H(U) = h(U W + mean)``
(:mod:`~xplique_lens.concepts.concept_space`). Any attribution method explains ``H`` at ``U``: its
attributions over the ``r`` codes are the concept importances of that image (local importance);
averaging over the images of a class gives the global importance (Fel et al. 2023, "A Holistic
Approach to Unifying Automatic Concept Extraction and Concept Importance Estimation", NeurIPS,
arXiv 2306.07304, section 3).

The methods are the named strategies of :mod:`~xplique_lens.concepts.importance_methods`: the
gradient explainers of :mod:`xplique_lens.attributions` run on ``H``, and the perturbation
methods (``sobol``, ``occlusion``, ``rise``) run the streaming Sobol kernel with a concept mask.
For codes of a spatial layer ``(N, h, w, r)`` one mask value per concept acts at every position
(as CRAFT's Sobol importance), and gradient attributions are summed over positions, so every
method returns ``(N, r)``. On flat codes the perturbation estimators equal the Occlusion and Rise
explainers run on ``H`` (a test checks it).

The same functions compare dictionary directions with single neurons ("local vs distributed"
representations): :func:`neuron_basis` turns activations into the canonical basis
(``U = A``, ``W = I``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.inputs import sanitize_for_model
from ..commons.operators import OperatorSignature, get_operator, with_activation
from ..commons.validation import (
    check_batch_size,
    check_choice,
    check_is_fitted,
    check_seed,
    resolve_seed,
)
from .concept_space import (
    ConceptMasking,
    as_codes,
    as_concept_bank,
    concept_space_model,
    neuron_basis,
)
from .importance_methods import GRADIENT_METHODS, IMPORTANCE_METHODS, METHODS, ConceptSpace

__all__ = [
    "GRADIENT_METHODS",
    "IMPORTANCE_METHODS",
    "METHODS",
    "ConceptImportance",
    "ConceptMasking",
    "as_codes",
    "as_concept_bank",
    "as_local_importances",
    "concept_space_model",
    "estimate_concept_importance",
    "global_importance",
    "neuron_basis",
    "prevalence_reliability",
]


# ------------------------------------------------------------------------------ estimators
class ConceptImportance:
    """Local concept importance ``(N, r)`` of codes for a class, by an attribution method.

    Parameters
    ----------
    latent_to_logit_model
        ``h``: activations ``(B, [h, w,] p)`` -> logits.
    concept_bank
        ``W`` ``(r, p)`` (``extractor.components_``, ``craft.concept_bank_``, or the identity
        from :func:`neuron_basis`).
    method
        One of ``"sobol"`` (total Sobol indices, CRAFT's choice), ``"gradient_input"``,
        ``"saliency"``, ``"integrated_gradients"``, ``"smoothgrad"``, ``"occlusion"``,
        ``"rise"`` (the keys of
        :data:`~xplique_lens.concepts.importance_methods.IMPORTANCE_METHODS`).
    mean
        The extractor's mean (``PCA.mean_``), added to the reconstruction; None for NMF.
    batch_size
        Forward (or gradient) passes of ``h`` per chunk: bounds the memory.
    seed : int or None, default 0
        Seed of the random methods (``rise``, ``smoothgrad``, random Sobol samplers); None
        draws fresh randomness at every call.
    operator
        The score explained, as in the sibling metrics (:class:`~xplique_lens.concepts.CDeletion`
        ...): ``None`` (classification: ``sum(H(u) * targets)``), ``"classification"``,
        ``"regression"``, or a callable ``(model, codes, targets) -> scores``.
    activation
        ``None``, ``"softmax"`` or ``"sigmoid"``, applied to the logits of ``H`` before the
        operator (e.g. to explain probabilities).
    **params
        Settings of the method: ``nb_design``, ``sampler``, ``estimator`` (sobol);
        ``steps``, ``baseline_value`` (integrated_gradients); ``nb_samples``, ``noise``
        (smoothgrad); ``occlusion_value`` (occlusion); ``nb_samples``,
        ``preservation_probability``, ``mask_value`` (rise).

    Notes
    -----
    A removed concept has code 0 (``baseline``/``occlusion``/``mask`` values default to 0): for
    NMF it is absent, for PCA / ICA the activation falls back to the mean. With ``h`` linear,
    Gradient x Input is the exact additive decomposition of the logit (minus ``h(mean)``), hence
    optimal for C-Deletion / C-Insertion (the paper's theorem).

    References
    ----------
    Fel, Boutin, Moayeri, Cadène, Béthune, Andéol, Chalvidal, Serre, "A Holistic Approach to
    Unifying Automatic Concept Extraction and Concept Importance Estimation", NeurIPS 2023.
    """

    def __init__(
        self,
        latent_to_logit_model: Callable,
        concept_bank: Any,
        method: str = "sobol",
        mean: Any = None,
        batch_size: int | None = 64,
        seed: int | None = 0,
        *,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
        **params: Any,
    ):
        self.method = check_choice(method, "method", METHODS)
        strategy = IMPORTANCE_METHODS[method]
        self.params = strategy.settings(params)
        self.batch_size = check_batch_size(batch_size)
        self.seed = check_seed(seed)
        self.latent_to_logit_model = latent_to_logit_model
        self.model = concept_space_model(latent_to_logit_model, concept_bank, mean)
        self.number_of_concepts = self.model.number_of_concepts
        self.operator = get_operator(operator)
        self.activation = activation
        self.space = ConceptSpace(
            with_activation(self.model, activation),
            self.operator,
            self.number_of_concepts,
            self.batch_size,
        )
        self._estimate = strategy.build(self.space, self.params, self.seed)

    @classmethod
    def from_craft(cls, craft: Any, method: str = "sobol", **kwargs: Any) -> ConceptImportance:
        """Estimator on a fitted :class:`~xplique_lens.concepts.Craft`'s concept space."""
        check_is_fitted(craft, "concept_bank_", hint="craft.fit(inputs, class_id)")
        kwargs.setdefault("batch_size", craft.batch_size)
        return cls(
            craft.latent_to_logit_model,
            craft.concept_bank_,
            method,
            mean=getattr(craft.extractor, "mean_", None),
            **kwargs,
        )

    def explain(self, codes: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Local importances ``(N, r)`` of ``codes`` (``(N, r)`` or ``(N, h, w, r)``).

        ``targets``: class ids ``(N,)``, one-hot ``(N, C)``, or None for the predicted class.
        """
        codes = as_codes(codes, self.number_of_concepts)
        codes, targets = sanitize_for_model(self.model, codes, targets, self.model, self.batch_size)
        seed = resolve_seed(self.seed)
        return self._estimate(codes, targets, seed, bool(verbose))

    __call__ = explain

    def __repr__(self) -> str:
        return (
            f"ConceptImportance(method={self.method!r}, number_of_concepts="
            f"{self.number_of_concepts}, batch_size={self.batch_size}, params={self.params})"
        )


def estimate_concept_importance(
    latent_to_logit_model: Callable,
    codes: Any,
    concept_bank: Any,
    targets: Any = None,
    method: str = "sobol",
    mean: Any = None,
    batch_size: int | None = 64,
    seed: int | None = 0,
    *,
    operator: str | OperatorSignature | None = None,
    activation: str | None = None,
    **params: Any,
) -> np.ndarray:
    """Local concept importances ``(N, r)`` (functional form of :class:`ConceptImportance`)."""
    estimator = ConceptImportance(
        latent_to_logit_model,
        concept_bank,
        method,
        mean,
        batch_size,
        seed,
        operator=operator,
        activation=activation,
        **params,
    )
    return estimator.explain(codes, targets).numpy()


# ------------------------------------------------------------------------------ summaries
def as_local_importances(local_importances: Any) -> np.ndarray:
    """Local importances as a finite float32 ``(N, r)`` matrix; clear errors otherwise."""
    local = np.asarray(local_importances, dtype=np.float32)
    if local.ndim != 2 or local.shape[0] == 0:
        raise ValueError(
            "`local_importances` must be a non-empty matrix (N, number_of_concepts), got shape "
            f"{local.shape}."
        )
    if not np.isfinite(local).all():
        raise ValueError("`local_importances` contains NaN or inf values.")
    return local


def _as_labels(labels: Any, n: int, name: str = "labels") -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"`{name}` must be {n} integer class ids, got {labels.dtype} {labels.shape}."
        )
    return labels


def global_importance(local_importances: Any, labels: Any = None) -> np.ndarray:
    """Global importance: mean of the local importances, per class when ``labels`` is given.

    Returns ``(r,)`` without labels, else ``(C, r)`` for classes ``0 .. max(labels)`` (rows of
    absent classes are NaN).
    """
    local = as_local_importances(local_importances)
    if labels is None:
        return local.mean(axis=0)
    labels = _as_labels(labels, len(local))
    nb_classes = int(labels.max()) + 1
    sums = np.zeros((nb_classes, local.shape[1]), np.float64)
    np.add.at(sums, labels, local)
    counts = np.bincount(labels, minlength=nb_classes)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / counts).astype(np.float32)


def prevalence_reliability(local_importances: Any, correct: Any = None) -> dict[str, np.ndarray]:
    """How often each concept drives the decision, and how reliable that decision is.

    The top concept of an image is its most important one (its "strategy", the colour of the
    strategic cluster graph). For each concept ``k``:

    - ``prevalence[k]``: share of the images whose top concept is ``k``;
    - ``mean_share[k]``: mean share of the positive importance held by ``k``;
    - ``reliability[k]``: among the images whose top concept is ``k``, the share that the
      model classifies correctly (``correct``: one boolean per image, e.g. prediction == label);
      NaN when no image has it as top concept or ``correct`` is None.

    A prevalent but unreliable concept is a strategy that leads the model astray (the holistic
    paper's analysis of misclassifications, section 5).
    """
    local = as_local_importances(local_importances)
    n, r = local.shape
    top = local.argmax(axis=1)
    counts = np.bincount(top, minlength=r)
    positive = np.maximum(local, 0.0)
    shares = positive / np.maximum(positive.sum(axis=1, keepdims=True), 1e-12)
    reliability = np.full(r, np.nan, np.float32)
    if correct is not None:
        correct = np.asarray(correct)
        if correct.shape != (n,):
            raise ValueError(
                f"`correct` must hold one boolean per image ({n}), got {correct.shape}."
            )
        hits = np.bincount(top, weights=correct.astype(np.float64), minlength=r)
        present = counts > 0
        reliability[present] = hits[present] / counts[present]
    return {
        "prevalence": (counts / n).astype(np.float32),
        "mean_share": shares.mean(axis=0).astype(np.float32),
        "reliability": reliability,
        "top_concept": top,
    }
