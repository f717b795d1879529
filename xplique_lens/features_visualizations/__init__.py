"""Xplique's ``features_visualizations`` API: ``maco``, ``Objective``, ``optimize``.

A drop-in module for ``xplique.features_visualizations``: the same names, parameters and
defaults, running on :mod:`xplique_lens.features` (``Objective`` is
:class:`xplique_lens.features.Objective`; ``maco`` reorders the arguments of
:func:`xplique_lens.features.maco`; ``optimize`` is Lucid-style visualization with Xplique's
transformations and regularizers, its ``transformations="crops"`` setting being the MACO paper's
Fourier baseline :func:`xplique_lens.features.fourier`).

References
----------
Fel et al. (2023). *Unlocking Feature Visualization for Deeper Networks with MAgnitude
Constrained Optimization.* NeurIPS. https://arxiv.org/abs/2306.06805
Olah, Mordvintsev & Schubert (2017). *Feature Visualization.* Distill.
https://distill.pub/2017/feature-visualization
"""

from ..features.objectives import Objective
from .maco import maco
from .optim import optimize
from .regularizers import l1_reg, l2_reg, l_inf_reg, total_variation_reg
from .transformations import (
    compose_transformations,
    pad,
    random_blur,
    random_flip,
    random_jitter,
    random_scale,
)

__all__ = [
    "Objective",
    "compose_transformations",
    "l1_reg",
    "l2_reg",
    "l_inf_reg",
    "maco",
    "optimize",
    "pad",
    "random_blur",
    "random_flip",
    "random_jitter",
    "random_scale",
    "total_variation_reg",
]
