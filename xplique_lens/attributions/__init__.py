"""Attribution methods: which input pixels matter for a prediction."""

from .base import BlackBoxExplainer, Explainer, WhiteBoxExplainer
from .fem import FEM
from .gradcam import GradCAM, GradCAMPP
from .gradient_input import GradientInput
from .guided_backprop import DeconvNet, GuidedBackprop
from .hsic import HsicAttributionMethod
from .integrated_gradients import IntegratedGradients
from .kernel_shap import KernelShap
from .lime import Lime
from .occlusion import Occlusion
from .rise import Rise
from .saliency import Saliency
from .segmentation import GridSegmentation, SlicSegmentation
from .smoothgrad import SmoothGrad, SquareGrad, VarGrad
from .sobol import SobolAttributionMethod

__all__ = [
    "BlackBoxExplainer",
    "DeconvNet",
    "Explainer",
    "FEM",
    "GradCAM",
    "GradCAMPP",
    "GradientInput",
    "GridSegmentation",
    "GuidedBackprop",
    "HsicAttributionMethod",
    "IntegratedGradients",
    "KernelShap",
    "Lime",
    "Occlusion",
    "Rise",
    "Saliency",
    "SlicSegmentation",
    "SmoothGrad",
    "SobolAttributionMethod",
    "SquareGrad",
    "VarGrad",
    "WhiteBoxExplainer",
]
