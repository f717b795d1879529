"""Concept extraction (dictionary learning), CRAFT, concept importance and metrics."""

from .cav import Cav
from .cluster_graph import (
    ClusterGraph,
    concept_class_alignment,
    concept_similarity,
    strategic_cluster_graph,
)
from .craft import Craft
from .craft_manager import CraftManager
from .extractors import ICA, NMF, PCA, BaseConceptExtractor, KMeans, NotFittedError, SparseCoding
from .fidelity import CDeletion, CInsertion, CMuFidelity
from .holistic_craft import HolisticCraft, HolisticCraftTf, LayerLatentExtractor
from .importance import (
    ConceptImportance,
    estimate_concept_importance,
    global_importance,
    neuron_basis,
    prevalence_reliability,
)
from .metrics import (
    compare_extractors,
    dictionary_distance,
    fid,
    reconstruction_error,
    reconstruction_ood_score,
    sparsity,
    stability,
)
from .tcav import Tcav
from .xplique_names import (
    CraftManagerTf,
    CraftTf,
    DisplayImportancesOrder,
    EncodedData,
    PartialExplainer,
)

__all__ = [
    "Cav",
    "Tcav",
    "ICA",
    "NMF",
    "PCA",
    "BaseConceptExtractor",
    "Craft",
    "CraftManager",
    "CraftManagerTf",
    "CraftTf",
    "DisplayImportancesOrder",
    "EncodedData",
    "HolisticCraft",
    "HolisticCraftTf",
    "LayerLatentExtractor",
    "PartialExplainer",
    "KMeans",
    "NotFittedError",
    "SparseCoding",
    "CDeletion",
    "CInsertion",
    "CMuFidelity",
    "ClusterGraph",
    "ConceptImportance",
    "compare_extractors",
    "concept_class_alignment",
    "concept_similarity",
    "dictionary_distance",
    "estimate_concept_importance",
    "fid",
    "global_importance",
    "neuron_basis",
    "prevalence_reliability",
    "reconstruction_error",
    "reconstruction_ood_score",
    "sparsity",
    "stability",
    "strategic_cluster_graph",
]
