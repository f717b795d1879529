"""Stability metrics: MeGe / ReCo over models retrained on k folds, and AverageStability."""

from .average_stability import AverageStability
from .folds import make_folds
from .mege import MeGe, MeGeResult
from .reco import reco_score
from .spearman import average_ranks, pairwise_spearman_distances

__all__ = [
    "AverageStability",
    "MeGe",
    "MeGeResult",
    "average_ranks",
    "make_folds",
    "pairwise_spearman_distances",
    "reco_score",
]
