"""Concept importance: attribution methods applied in concept space (the holistic framework).

Activations factorise as ``A ~ U W (+ mean)``; the latent-to-logit function ``h`` composed with
the reconstruction gives a model on concept codes, ``H(U) = h(U W + mean)``. Any attribution
method explains ``H`` at ``U``: its attributions over the ``r`` codes are the concept importances
of that image (local importance); averaging over the images of a class gives the global
importance (Fel et al. 2023, "A Holistic Approach to Unifying Automatic Concept Extraction and
Concept Importance Estimation", NeurIPS, arXiv 2306.07304, section 3).

The estimators reuse the attribution family: the gradient methods (``saliency``,
``gradient_input``, ``integrated_gradients``, ``smoothgrad``) are the explainers of
:mod:`xplique_lens.attributions` run on ``H``; the perturbation methods (``sobol``,
``occlusion``, ``rise``) run the streaming Sobol kernel (:func:`~xplique_lens.attributions.sobol.
sobol_explain`, :func:`~xplique_lens.attributions.sobol.perturbation_scores`) with a concept
mask. For codes of a spatial layer ``(N, h, w, r)`` one mask value per concept acts at every
position (as CRAFT's Sobol importance), and gradient attributions are summed over positions, so
every method returns ``(N, r)``. On flat codes the perturbation estimators equal the Occlusion
and Rise explainers run on ``H`` (a test checks it).

The same functions compare dictionary directions with single neurons ("local vs distributed"
representations): :func:`neuron_basis` turns activations into the canonical basis
(``U = A``, ``W = I``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ..attributions import GradientInput, IntegratedGradients, Saliency, SmoothGrad
from ..attributions.sobol import (
    Perturbation,
    make_perturbation_scorer,
    perturbation_scores,
    sobol_explain,
)
from ..commons.inputs import sanitize_for_model
from ..commons.validation import (
    check_batch_size,
    check_choice,
    check_finite,
    check_positive_int,
    check_power_of_two,
    to_float_tensor,
)

METHODS = (
    "sobol",
    "gradient_input",
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "occlusion",
    "rise",
)
GRADIENT_METHODS = {
    "gradient_input": GradientInput,
    "saliency": Saliency,
    "integrated_gradients": IntegratedGradients,
    "smoothgrad": SmoothGrad,
}


# ------------------------------------------------------------------------------ concept space
def as_concept_bank(concept_bank: Any, name: str = "concept_bank") -> tf.Tensor:
    """The concept bank ``W`` as a finite float32 ``(r, p)`` tensor; clear errors otherwise."""
    bank = to_float_tensor(concept_bank, name)
    if bank.shape.rank != 2 or bank.shape[0] == 0 or bank.shape[1] == 0:
        raise ValueError(
            f"`{name}` must be a non-empty matrix (number_of_concepts, n_features), got shape "
            f"{tuple(bank.shape)}."
        )
    check_finite(bank, name)
    return bank


def as_codes(codes: Any, number_of_concepts: int, name: str = "codes") -> tf.Tensor:
    """Codes ``(N, r)``, spatial ``(N, h, w, r)`` or per token ``(N, T, r)`` as float32,
    checked against ``r``."""
    tensor = to_float_tensor(codes, name)
    if tensor.shape.rank not in (2, 3, 4):
        raise ValueError(
            f"`{name}` must be concept codes (N, r), spatial codes (N, h, w, r) or token codes "
            f"(N, T, r), got shape {tuple(tensor.shape)}."
        )
    if tensor.shape[-1] != number_of_concepts:
        raise ValueError(
            f"`{name}` has {tensor.shape[-1]} concepts on its last axis but the concept bank has "
            f"{number_of_concepts} rows."
        )
    if tensor.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: expected at least one sample.")
    check_finite(tensor, name)
    return tensor


def concept_space_model(
    latent_to_logit_model: Callable, concept_bank: Any, mean: Any = None
) -> Callable:
    """``H(U) = h(U W + mean)``: the model on concept codes ``(B, r)`` or ``(B, h, w, r)``.

    Differentiable with respect to the codes; ``mean`` is the extractor's mean (PCA, ICA) or None.
    """
    if not callable(latent_to_logit_model):
        raise TypeError(
            "`latent_to_logit_model` must be callable (a Keras model), got "
            f"{type(latent_to_logit_model).__name__}."
        )
    bank = as_concept_bank(concept_bank)
    offset = None if mean is None else tf.reshape(to_float_tensor(mean, "mean"), (-1,))
    if offset is not None and offset.shape[0] != bank.shape[1]:
        raise ValueError(
            f"`mean` has {offset.shape[0]} features but the concept bank has {bank.shape[1]}."
        )

    def model(codes: tf.Tensor) -> tf.Tensor:
        activations = tf.tensordot(tf.cast(codes, tf.float32), bank, axes=1)
        if offset is not None:
            activations = activations + offset
        return tf.cast(latent_to_logit_model(activations), tf.float32)

    model.concept_bank = bank
    model.number_of_concepts = int(bank.shape[0])
    return model


def neuron_basis(activations: Any) -> tuple[np.ndarray, np.ndarray]:
    """Single neurons as concepts: codes ``U = A`` and the identity bank ``W = I`` ``(p, p)``.

    Feeding these to the importance estimators and the C-fidelity metrics gives the
    "local" (canonical basis) counterpart of a dictionary's "distributed" directions.
    """
    tensor = to_float_tensor(activations, "activations")
    if tensor.shape.rank not in (2, 4):
        raise ValueError(
            f"`activations` must be (N, p) or (N, h, w, p), got shape {tuple(tensor.shape)}."
        )
    return tensor.numpy(), np.eye(int(tensor.shape[-1]), dtype=np.float32)


class ConceptMasking(Perturbation):
    """``u * m + (1 - m) * baseline`` with one mask value per concept, broadcast over positions.

    ``masks`` is ``(B, r)``; ``inputs`` ``(B, r)`` or spatial ``(B, h, w, r)``.
    """

    def __init__(self, baseline_value: float = 0.0):
        self.baseline_value = float(baseline_value)

    def __call__(self, inputs, masks, *extras):
        masks = tf.reshape(masks, (-1, *([1] * (inputs.shape.rank - 2)), masks.shape[-1]))
        return inputs * masks + (1.0 - masks) * self.baseline_value

    def __repr__(self) -> str:
        return f"ConceptMasking(baseline_value={self.baseline_value})"


def _score_function(model: Callable) -> Callable:
    def score(codes: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        return tf.reduce_sum(model(codes) * targets, axis=-1)

    return score


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
        ``"rise"``.
    mean
        The extractor's mean (``PCA.mean_``), added to the reconstruction; None for NMF.
    batch_size
        Forward (or gradient) passes of ``h`` per chunk: bounds the memory.
    seed
        Seed of the random methods (``rise``, ``smoothgrad``, random Sobol samplers).
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

    _PARAMS = {
        "sobol": {"nb_design": 32, "sampler": None, "estimator": None},
        "gradient_input": {},
        "saliency": {},
        "integrated_gradients": {"steps": 50, "baseline_value": 0.0},
        "smoothgrad": {"nb_samples": 50, "noise": 0.2},
        "occlusion": {"occlusion_value": 0.0},
        "rise": {"nb_samples": 2000, "preservation_probability": 0.5, "mask_value": 0.0},
    }

    def __init__(
        self,
        latent_to_logit_model: Callable,
        concept_bank: Any,
        method: str = "sobol",
        mean: Any = None,
        batch_size: int | None = 64,
        seed: int = 0,
        **params: Any,
    ):
        self.method = check_choice(method, "method", METHODS)
        unknown = set(params) - set(self._PARAMS[method])
        if unknown:
            raise ValueError(
                f"Unknown parameter(s) {sorted(unknown)} for method {method!r}; expected some of "
                f"{sorted(self._PARAMS[method])}."
            )
        self.params = {**self._PARAMS[method], **params}
        self.batch_size = check_batch_size(batch_size)
        self.seed = int(seed)
        self.latent_to_logit_model = latent_to_logit_model
        self.model = concept_space_model(latent_to_logit_model, concept_bank, mean)
        self.number_of_concepts = self.model.number_of_concepts
        self._validate_params()
        self._explainer = None
        if method in GRADIENT_METHODS:
            kwargs = dict(self.params)
            if method == "smoothgrad":
                kwargs["seed"] = self.seed
            self._explainer = GRADIENT_METHODS[method](
                self.model, batch_size=self.batch_size, reducer=None, **kwargs
            )
        else:
            value_key = {"sobol": None, "occlusion": "occlusion_value", "rise": "mask_value"}
            key = value_key[method]
            self._perturbation = ConceptMasking(0.0 if key is None else self.params[key])
            self._scorer = make_perturbation_scorer(
                _score_function(self.model),
                self._perturbation,
                mask_shape=(self.number_of_concepts,),
            )

    def _validate_params(self) -> None:
        p = self.params
        if self.method == "sobol":
            p["nb_design"] = check_power_of_two(p["nb_design"], "nb_design")
        if self.method in ("smoothgrad", "rise"):
            p["nb_samples"] = check_positive_int(p["nb_samples"], "nb_samples")
        if self.method == "integrated_gradients":
            p["steps"] = check_positive_int(p["steps"], "steps", minimum=2)
        if self.method == "rise" and not 0.0 < float(p["preservation_probability"]) <= 1.0:
            raise ValueError(
                "`preservation_probability` must be in (0, 1], got "
                f"{p['preservation_probability']!r}."
            )

    @classmethod
    def from_craft(cls, craft: Any, method: str = "sobol", **kwargs: Any) -> ConceptImportance:
        """Estimator on a fitted :class:`~xplique_lens.concepts.Craft`'s concept space."""
        craft._check_fitted()
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
        if self._explainer is not None:
            if self.method in ("integrated_gradients", "smoothgrad"):
                maps = self._explainer.explain(codes, targets, verbose=verbose)
            else:
                maps = self._explainer.explain(codes, targets)
            return tf.reduce_sum(maps, axis=(1, 2)) if maps.shape.rank == 4 else maps
        return getattr(self, f"_{self.method}")(codes, targets, verbose)

    __call__ = explain

    # perturbation methods: the streaming kernel of the Sobol family with a concept mask
    def _sobol(self, codes: tf.Tensor, targets: tf.Tensor, verbose: bool) -> tf.Tensor:
        return sobol_explain(
            None,
            codes,
            targets,
            nb_design=self.params["nb_design"],
            sampler=self.params["sampler"],
            estimator=self.params["estimator"],
            perturbation=self._perturbation,
            batch_size=self.batch_size,
            mask_shape=(self.number_of_concepts,),
            seed=self.seed,
            verbose=verbose,
            scorer=self._scorer,
        )

    def _scores(self, codes, targets, masks, verbose) -> tf.Tensor:
        return perturbation_scores(
            self._scorer, codes, targets, masks, (), self.batch_size, verbose
        )

    def _occlusion(self, codes: tf.Tensor, targets: tf.Tensor, verbose: bool) -> tf.Tensor:
        r = self.number_of_concepts
        masks = tf.concat([tf.ones((1, r)), 1.0 - tf.eye(r)], axis=0)
        scores = self._scores(codes, targets, masks, verbose)
        return scores[:, :1] - scores[:, 1:]

    def _rise(self, codes: tf.Tensor, targets: tf.Tensor, verbose: bool) -> tf.Tensor:
        keep = float(self.params["preservation_probability"])
        uniform = tf.random.stateless_uniform(
            (self.params["nb_samples"], self.number_of_concepts), [self.seed, 0]
        )
        masks = tf.cast(uniform < keep, tf.float32)
        scores = self._scores(codes, targets, masks, verbose)
        return tf.matmul(scores, masks) / (tf.reduce_sum(masks, axis=0)[None] + 1e-4)

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
    seed: int = 0,
    **params: Any,
) -> np.ndarray:
    """Local concept importances ``(N, r)`` (functional form of :class:`ConceptImportance`)."""
    estimator = ConceptImportance(
        latent_to_logit_model, concept_bank, method, mean, batch_size, seed, **params
    )
    return estimator.explain(codes, targets).numpy()


# ------------------------------------------------------------------------------ summaries
def _as_local(local_importances: Any) -> np.ndarray:
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
    local = _as_local(local_importances)
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
    local = _as_local(local_importances)
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
