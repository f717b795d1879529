"""Concept extraction (dictionary learning), CRAFT, concept importance and metrics."""

from .craft import Craft
from .craft_manager import CraftManager
from .extractors import ICA, NMF, PCA, BaseConceptExtractor, KMeans, NotFittedError, SparseCoding

__all__ = [
    "ICA",
    "NMF",
    "PCA",
    "BaseConceptExtractor",
    "Craft",
    "CraftManager",
    "KMeans",
    "NotFittedError",
    "SparseCoding",
]
