"""The registry of concept-importance methods: small named strategies on the concept space.

Each entry of :data:`IMPORTANCE_METHODS` is an :class:`ImportanceMethod`: its name, its settings
with their defaults, the checks of those settings, and ``build``, which prepares the estimator
once (an explainer, a compiled scorer) and returns ``estimate(codes, targets, seed, verbose) ->
(N, r)``. :class:`~xplique_lens.concepts.ConceptImportance` only looks a method up here; adding a
method is adding one entry.

- gradient methods (``saliency``, ``gradient_input``, ``integrated_gradients``, ``smoothgrad``):
  the explainers of :mod:`xplique_lens.attributions` run on ``H``, summed over positions;
- perturbation methods (``sobol``, ``occlusion``, ``rise``): the streaming kernel of the Sobol
  family (:func:`~xplique_lens.attributions.sobol.sobol_explain`,
  :func:`~xplique_lens.attributions.sobol.perturbation_scores`) with a concept mask
  (:class:`~xplique_lens.concepts.concept_space.ConceptMasking`), one value per concept acting
  at every position.

References
----------
Fel, Boutin, Moayeri, Cadène, Béthune, Andéol, Chalvidal, Serre, "A Holistic Approach to
Unifying Automatic Concept Extraction and Concept Importance Estimation", NeurIPS 2023.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import tensorflow as tf

from ..attributions import GradientInput, IntegratedGradients, Saliency, SmoothGrad
from ..attributions.sobol import make_perturbation_scorer, perturbation_scores, sobol_explain
from ..commons.operators import OperatorSignature
from ..commons.validation import check_positive_int, check_power_of_two
from .concept_space import ConceptMasking

Estimate = Callable[[tf.Tensor, tf.Tensor, int, bool], tf.Tensor]

__all__ = [
    "GRADIENT_METHODS",
    "IMPORTANCE_METHODS",
    "METHODS",
    "ConceptSpace",
    "ImportanceMethod",
]


@dataclass(frozen=True)
class ConceptSpace:
    """What every strategy needs: the scored model on codes and how to score and batch it.

    Attributes
    ----------
    model
        ``H`` followed by the ``activation`` (the scored model).
    operator
        The resolved operator ``(model, codes, targets) -> scores``.
    number_of_concepts
        ``r``.
    batch_size
        Forward (or gradient) passes per chunk.
    """

    model: Callable
    operator: OperatorSignature
    number_of_concepts: int
    batch_size: int | None

    def score(self, codes: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        """The operator's score of the scored model on ``codes``."""
        return self.operator(self.model, codes, targets)

    def scorer(self, masking_value: float) -> Callable:
        """Compiled perturbation scorer with a concept mask removing codes to ``masking_value``."""
        return make_perturbation_scorer(
            self.score, ConceptMasking(masking_value), mask_shape=(self.number_of_concepts,)
        )


@dataclass(frozen=True)
class ImportanceMethod:
    """One concept-importance strategy.

    Attributes
    ----------
    name
        The ``method`` users pass.
    defaults
        Its settings and their defaults (the only keywords accepted).
    build
        ``build(space, settings, seed) -> estimate(codes, targets, seed, verbose)``; ``seed`` is
        the estimator's (None: fresh per call), the estimate's the one resolved for the call.
    validate
        ``validate(settings) -> settings`` checked, raising ``ValueError`` / ``TypeError``.
    """

    name: str
    defaults: Mapping[str, Any]
    build: Callable[[ConceptSpace, dict, int | None], Estimate]
    validate: Callable[[dict], dict] = field(default=lambda settings: settings)

    def settings(self, params: Mapping[str, Any]) -> dict:
        """``params`` over the defaults, checked (unknown names raise ``ValueError``)."""
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"Unknown parameter(s) {sorted(unknown)} for method {self.name!r}; expected some "
                f"of {sorted(self.defaults)}."
            )
        return self.validate({**self.defaults, **params})


# ------------------------------------------------------------------------------ checks
def _check_steps(settings: dict) -> dict:
    settings["steps"] = check_positive_int(settings["steps"], "steps", minimum=2)
    return settings


def _check_nb_samples(settings: dict) -> dict:
    settings["nb_samples"] = check_positive_int(settings["nb_samples"], "nb_samples")
    return settings


def _check_nb_design(settings: dict) -> dict:
    settings["nb_design"] = check_power_of_two(settings["nb_design"], "nb_design")
    return settings


def _check_rise(settings: dict) -> dict:
    settings = _check_nb_samples(settings)
    keep = settings["preservation_probability"]
    if isinstance(keep, bool) or not isinstance(keep, numbers.Real) or not 0.0 < keep <= 1.0:
        raise ValueError(f"`preservation_probability` must be in (0, 1], got {keep!r}.")
    return settings


# ------------------------------------------------------------------------------ strategies
def _gradient(explainer_class: type, seeded: bool = False) -> Callable:
    """Build a gradient strategy: the explainer on ``H``, its maps summed over positions."""

    def build(space: ConceptSpace, settings: dict, seed: int | None) -> Estimate:
        def make(call_seed: int | None) -> Any:
            kwargs = dict(settings)
            if seeded:
                kwargs["seed"] = call_seed
            return explainer_class(
                space.model,
                batch_size=space.batch_size,
                operator=space.operator,
                reducer=None,
                **kwargs,
            )

        cached = make(seed) if not seeded or seed is not None else None

        def estimate(codes, targets, call_seed, verbose):
            explainer = cached if cached is not None else make(call_seed)
            if "verbose" in inspect.signature(explainer.explain).parameters:
                maps = explainer.explain(codes, targets, verbose=verbose)
            else:
                maps = explainer.explain(codes, targets)
            return tf.reduce_sum(maps, axis=(1, 2)) if maps.shape.rank == 4 else maps

        return estimate

    return build


def _build_sobol(space: ConceptSpace, settings: dict, seed: int | None) -> Estimate:
    """Total Sobol indices of the concepts (CRAFT's estimator), masks one value per concept."""
    perturbation = ConceptMasking(0.0)
    scorer = space.scorer(0.0)

    def estimate(codes, targets, call_seed, verbose):
        return sobol_explain(
            None,
            codes,
            targets,
            nb_design=settings["nb_design"],
            sampler=settings["sampler"],
            estimator=settings["estimator"],
            perturbation=perturbation,
            batch_size=space.batch_size,
            mask_shape=(space.number_of_concepts,),
            seed=call_seed,
            verbose=verbose,
            scorer=scorer,
        )

    return estimate


def _build_occlusion(space: ConceptSpace, settings: dict, seed: int | None) -> Estimate:
    """Drop of the score when each concept alone is removed (set to ``occlusion_value``)."""
    scorer = space.scorer(settings["occlusion_value"])
    r = space.number_of_concepts
    masks = tf.concat([tf.ones((1, r)), 1.0 - tf.eye(r)], axis=0)

    def estimate(codes, targets, call_seed, verbose):
        scores = perturbation_scores(scorer, codes, targets, masks, (), space.batch_size, verbose)
        return scores[:, :1] - scores[:, 1:]

    return estimate


def _build_rise(space: ConceptSpace, settings: dict, seed: int | None) -> Estimate:
    """RISE: score-weighted mean of random binary concept masks, over the masks keeping each."""
    scorer = space.scorer(settings["mask_value"])
    keep = float(settings["preservation_probability"])
    shape = (settings["nb_samples"], space.number_of_concepts)

    def estimate(codes, targets, call_seed, verbose):
        masks = tf.cast(tf.random.stateless_uniform(shape, [call_seed, 0]) < keep, tf.float32)
        scores = perturbation_scores(scorer, codes, targets, masks, (), space.batch_size, verbose)
        return tf.matmul(scores, masks) / (tf.reduce_sum(masks, axis=0)[None] + 1e-4)

    return estimate


def _method(name, defaults, build, validate=None) -> ImportanceMethod:
    extra = {} if validate is None else {"validate": validate}
    return ImportanceMethod(name, MappingProxyType(dict(defaults)), build, **extra)


_REGISTRY = (
    _method(
        "sobol",
        {"nb_design": 32, "sampler": None, "estimator": None},
        _build_sobol,
        _check_nb_design,
    ),
    _method("gradient_input", {}, _gradient(GradientInput)),
    _method("saliency", {}, _gradient(Saliency)),
    _method(
        "integrated_gradients",
        {"steps": 50, "baseline_value": 0.0},
        _gradient(IntegratedGradients),
        _check_steps,
    ),
    _method(
        "smoothgrad",
        {"nb_samples": 50, "noise": 0.2},
        _gradient(SmoothGrad, seeded=True),
        _check_nb_samples,
    ),
    _method("occlusion", {"occlusion_value": 0.0}, _build_occlusion),
    _method(
        "rise",
        {"nb_samples": 2000, "preservation_probability": 0.5, "mask_value": 0.0},
        _build_rise,
        _check_rise,
    ),
)

#: name -> strategy, in the order of :data:`METHODS`.
IMPORTANCE_METHODS: Mapping[str, ImportanceMethod] = MappingProxyType(
    {method.name: method for method in _REGISTRY}
)
#: The method names.
METHODS = tuple(IMPORTANCE_METHODS)
#: The gradient methods and the explainer each runs on ``H``.
GRADIENT_METHODS = {
    "gradient_input": GradientInput,
    "saliency": Saliency,
    "integrated_gradients": IntegratedGradients,
    "smoothgrad": SmoothGrad,
}
