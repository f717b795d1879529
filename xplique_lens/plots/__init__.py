"""Matplotlib helpers, one module per family. Computation classes never draw."""

from .attributions import plot_attributions, plot_comparison
from .concepts import plot_concept_attribution_maps, plot_concept_crops, plot_concept_importances
from .concepts_holistic import plot_cluster_graph, plot_extractor_comparison
from .features import plot_maco, plot_maco_grid
from .human import plot_human_accuracy, plot_utility
from .metrics import plot_baseline_tradeoff, plot_mege_distances

__all__ = [
    "plot_attributions",
    "plot_comparison",
    "plot_concept_attribution_maps",
    "plot_concept_crops",
    "plot_concept_importances",
    "plot_cluster_graph",
    "plot_extractor_comparison",
    "plot_human_accuracy",
    "plot_baseline_tradeoff",
    "plot_maco",
    "plot_maco_grid",
    "plot_mege_distances",
    "plot_utility",
]
