"""Attribution methods: which input pixels matter for a prediction."""

from .base import BlackBoxExplainer, Explainer, WhiteBoxExplainer
from .saliency import Saliency
from .sobol import SobolAttributionMethod

__all__ = [
    "BlackBoxExplainer",
    "Explainer",
    "Saliency",
    "SobolAttributionMethod",
    "WhiteBoxExplainer",
]
