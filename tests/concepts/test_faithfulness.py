"""Issue 19: CRAFT's top concept is the concept that covers the planted parts, across data seeds.

Cheap version of ``benchmarks/bench_faithfulness.py``: 3 data seeds x 2 classes (red disk,
green square), 4 images per class, 6 concepts, ``nb_design=8``, ``"layer"`` maps (the
upsampled codes: no gradient). A concept is present when it holds >= 5% of the maps' positive
mass weighted by ``||W_k||``; the best-covering concept is the present one with the largest
share of its positive mass on the planted parts (object or pattern).
"""

import numpy as np
import pytest

from xplique_lens.concepts import Craft
from xplique_lens.datasets import make_synthetic_dataset

DATA_SEEDS = (1, 2, 3)
CLASSES = (0, 1)
MIN_PRESENCE = 0.05


def _presence(maps, bank):
    """Share of each concept in the positive map mass, weighted by ``||W_k||`` (invariant to
    NMF's rescaling ``U W = (U D)(D^-1 W)``)."""
    mass = np.maximum(maps, 0).sum(axis=(0, 1, 2)) * np.linalg.norm(bank, axis=1)
    return mass / mass.sum()


def _shares(maps, mask):
    positive = np.maximum(maps, 0)
    return (positive * mask[..., None]).sum(axis=(0, 1, 2)) / positive.sum(axis=(0, 1, 2))


@pytest.fixture(scope="module")
def faithfulness_runs(reference_model):
    """``(top share, best share, area, top is best)`` per (data seed, class)."""
    runs = []
    for seed in DATA_SEEDS:
        data = make_synthetic_dataset(n_per_class=4, seed=seed)
        for class_id in CLASSES:
            selected = data.labels == class_id
            images, parts = data.images[selected], data.masks[selected]
            craft = Craft.from_model(
                reference_model, "features", number_of_concepts=6, patch_size=16, batch_size=128
            )
            importances = craft.fit(images, class_id=class_id).estimate_importance(nb_design=8)
            maps = craft.concept_attribution_maps(images, method="layer").numpy()
            shares = _shares(maps, parts)
            present = _presence(maps, craft.concept_bank_) >= MIN_PRESENCE
            top, best = int(np.argmax(importances)), int(np.argmax(np.where(present, shares, -1)))
            runs.append((shares[top], shares[best], parts.mean(), top == best))
    return np.asarray(runs, np.float64)


def test_top_concept_is_the_best_covering_one(faithfulness_runs):
    """The top concept is the best-covering present concept in >= 5 of the 6 runs.

    Measured: 6 of 6 (10 of 10 on data seeds 1-5; with 3 images per class 9 of 10). Not every
    class passes: on the magenta ring (class 4) the top concept is, on data seeds 1-5, the
    concept present everywhere (NNDSVDa's first component) with 0.13-0.19 of its layer-map
    mass on the parts against 0.49-0.55 for the best-covering one; the cyan diamond misses on
    seed 2 (0.54 vs 0.59). See ``Craft.estimate_importance`` and the benchmark.
    """
    hits = faithfulness_runs[:, 3]
    assert hits.sum() >= len(hits) - 1


def test_top_concept_mass_is_on_the_planted_parts(faithfulness_runs):
    """The parts cover 0.10-0.12 of the images; the top concept's layer maps put 0.50-0.59 of
    their positive mass there (measured; blurred by the 18-pixel receptive field)."""
    top, _, area, _ = faithfulness_runs.T
    assert np.all(top > 3.5 * area)
    assert top.mean() > 0.45
