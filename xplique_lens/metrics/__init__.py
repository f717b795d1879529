"""Metrics of explanations and explainers (fidelity, stability, complexity, randomization)."""

from .average_drop import AverageDropMetric, AverageGainMetric, AverageIncreaseMetric
from .base import BaseAttributionMetric, ExplainerMetric, ExplanationMetric
from .baselines import BASELINES, FeatureVisualizationBaseline, get_baseline
from .complexity import Complexity, Sparseness
from .fidelity import CausalFidelity, Deletion, Insertion, MuFidelity
from .randomization import (
    ModelRandomizationMetric,
    ModelRandomizationStrategy,
    ProgressiveLayerRandomization,
    RandomLogitMetric,
)
from .stability import AverageStability, MeGe, MeGeResult

__all__ = [
    "AverageDropMetric",
    "AverageGainMetric",
    "AverageIncreaseMetric",
    "Complexity",
    "ModelRandomizationMetric",
    "ModelRandomizationStrategy",
    "ProgressiveLayerRandomization",
    "RandomLogitMetric",
    "Sparseness",
    "BASELINES",
    "CausalFidelity",
    "Deletion",
    "FeatureVisualizationBaseline",
    "Insertion",
    "MuFidelity",
    "get_baseline",
    "AverageStability",
    "BaseAttributionMetric",
    "ExplainerMetric",
    "ExplanationMetric",
    "MeGe",
    "MeGeResult",
]
