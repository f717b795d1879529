"""Attribution methods: which input pixels matter for a prediction."""

from .base import BlackBoxExplainer, Explainer, WhiteBoxExplainer
from .saliency import Saliency

__all__ = ["BlackBoxExplainer", "Explainer", "Saliency", "WhiteBoxExplainer"]
