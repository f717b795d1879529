"""Matplotlib helpers, one module per family. Computation classes never draw."""

from .attributions import plot_attributions
from .features import plot_maco, plot_maco_grid

__all__ = ["plot_attributions", "plot_maco", "plot_maco_grid"]
