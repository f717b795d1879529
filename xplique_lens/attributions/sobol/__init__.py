"""Sobol attribution machinery: samplers, estimators, perturbations, the streaming kernel.

The pieces are pure and reusable outside images (e.g. concept importance in CRAFT):

- :func:`sobol_explain`: generic Sobol explainer of any ``score_fn(perturbed, targets)`` over
  inputs of any shape (images with coarse grid masks, concept codes ``(n, r)``...);
- :func:`sobol_total_indices` / :func:`sobol_first_order_indices`: estimators on score tensors;
- samplers returning designs ``Design(a, b)`` and :func:`replicated_design` / :func:`design_rows`;
- :func:`make_perturbation_scorer` + :func:`perturbation_scores`: the bounded-memory stream of
  ``inputs x masks`` through a score function.
"""

from .estimators import (
    ESTIMATORS,
    GlenEstimator,
    HommaEstimator,
    JanonEstimator,
    JansenEstimator,
    SaltelliEstimator,
    SobolEstimator,
    get_estimator,
    sobol_first_order_indices,
    sobol_total_indices,
)
from .kernel import (
    make_perturbation_scorer,
    perturbation_scores,
    sobol_explain,
    split_design_scores,
    upsample_masks,
    upsample_tile,
)
from .perturbations import (
    PERTURBATIONS,
    Amplitude,
    Blurring,
    Inpainting,
    Perturbation,
    box_blur,
    get_perturbation,
)
from .samplers import (
    SAMPLERS,
    Design,
    HaltonSampler,
    HaltonSequenceRS,
    LatinHypercubeRS,
    LatinHypercubeSampler,
    Sampler,
    ScipySobolSequenceRS,
    ScrambledSobolSampler,
    SobolSampler,
    TFSobolSequenceRS,
    UnscrambledHaltonSampler,
    design_rows,
    get_sampler,
    replicated_design,
)
from .sobol_attribution_method import SobolAttributionMethod

__all__ = [
    "ESTIMATORS",
    "PERTURBATIONS",
    "SAMPLERS",
    "Amplitude",
    "Blurring",
    "Design",
    "GlenEstimator",
    "HaltonSampler",
    "HaltonSequenceRS",
    "HommaEstimator",
    "Inpainting",
    "JanonEstimator",
    "JansenEstimator",
    "LatinHypercubeRS",
    "LatinHypercubeSampler",
    "Perturbation",
    "SaltelliEstimator",
    "Sampler",
    "ScipySobolSequenceRS",
    "ScrambledSobolSampler",
    "SobolAttributionMethod",
    "SobolEstimator",
    "SobolSampler",
    "TFSobolSequenceRS",
    "UnscrambledHaltonSampler",
    "box_blur",
    "design_rows",
    "get_estimator",
    "get_perturbation",
    "get_sampler",
    "make_perturbation_scorer",
    "perturbation_scores",
    "replicated_design",
    "sobol_explain",
    "sobol_first_order_indices",
    "sobol_total_indices",
    "split_design_scores",
    "upsample_masks",
    "upsample_tile",
]
