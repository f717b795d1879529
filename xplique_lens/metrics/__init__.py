"""Metrics of explanations and explainers (fidelity, stability)."""

from .base import BaseAttributionMetric, ExplainerMetric, ExplanationMetric
from .baselines import BASELINES, FeatureVisualizationBaseline, get_baseline
from .fidelity import CausalFidelity, Deletion, Insertion, MuFidelity
from .stability import AverageStability, MeGe, MeGeResult

__all__ = [
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
