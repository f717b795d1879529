"""Metrics of explanations and explainers (fidelity, stability)."""

from .base import BaseAttributionMetric, ExplainerMetric, ExplanationMetric

__all__ = ["BaseAttributionMetric", "ExplainerMetric", "ExplanationMetric"]
