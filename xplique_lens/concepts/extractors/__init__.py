"""Concept extractors: dictionary learning on activations, ``A ~ U W``."""

from .base import BaseConceptExtractor, NotFittedError
from .ica import ICA
from .kmeans import KMeans
from .nmf import NMF
from .nnls import nnls_bpp, nnls_hals, nnls_jacobian, nnls_vjp
from .pca import PCA
from .sparse_coding import SparseCoding

__all__ = [
    "ICA",
    "NMF",
    "PCA",
    "BaseConceptExtractor",
    "KMeans",
    "NotFittedError",
    "SparseCoding",
    "nnls_bpp",
    "nnls_hals",
    "nnls_jacobian",
    "nnls_vjp",
]
