"""The embedded default: a synthetic dataset of known parts and tiny reference CNNs."""

from .models import (
    FEATURE_LAYER,
    LOGITS_LAYER,
    build_reference_model,
    cache_dir,
    get_reference_model,
    train_reference_model,
)
from .synthetic import CLASS_SPECS, PART_NAMES, SyntheticDataset, make_synthetic_dataset

__all__ = [
    "CLASS_SPECS",
    "FEATURE_LAYER",
    "LOGITS_LAYER",
    "PART_NAMES",
    "SyntheticDataset",
    "build_reference_model",
    "cache_dir",
    "get_reference_model",
    "make_synthetic_dataset",
    "train_reference_model",
]
