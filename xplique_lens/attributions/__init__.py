"""Attribution methods: which input pixels matter for a prediction."""

from .base import BlackBoxExplainer, Explainer, WhiteBoxExplainer
from .gradient_input import GradientInput
from .integrated_gradients import IntegratedGradients
from .occlusion import Occlusion
from .rise import Rise
from .saliency import Saliency
from .smoothgrad import SmoothGrad, SquareGrad, VarGrad
from .sobol import SobolAttributionMethod

__all__ = [
    "BlackBoxExplainer",
    "Explainer",
    "GradientInput",
    "IntegratedGradients",
    "Occlusion",
    "Rise",
    "Saliency",
    "SmoothGrad",
    "SobolAttributionMethod",
    "SquareGrad",
    "VarGrad",
    "WhiteBoxExplainer",
]
