"""Metrics of explanations and explainers (fidelity, stability)."""

from .base import BaseAttributionMetric, ExplainerMetric, ExplanationMetric
from .stability import AverageStability, MeGe, MeGeResult

__all__ = [
    "AverageStability",
    "BaseAttributionMetric",
    "ExplainerMetric",
    "ExplanationMetric",
    "MeGe",
    "MeGeResult",
]
