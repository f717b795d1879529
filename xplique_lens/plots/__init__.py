"""Matplotlib helpers, one module per family. Computation classes never draw."""

from .attributions import plot_attributions

__all__ = ["plot_attributions"]
