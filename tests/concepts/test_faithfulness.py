"""Issue 19: CRAFT's top concept is the concept that covers the planted parts, across data seeds.

Cheap version of ``benchmarks/bench_faithfulness.py``: 3 data seeds x the 6 classes, 4 images
per class, 4 concepts (the issue's setting), ``nb_design=8``, ``"layer"`` maps (the upsampled
codes: no gradient), Craft's default extractor (``CRAFT_NMF_SETTINGS``). A concept is present
when it holds >= 5% of the maps' positive mass weighted by ``||W_k||``; the best-covering concept
is the present one with the largest share of its positive mass on the planted parts (object or
pattern).
"""

import numpy as np
import pytest

from xplique_lens.concepts import Craft
from xplique_lens.datasets import make_synthetic_dataset

DATA_SEEDS = (1, 2, 3)
CLASSES = (0, 1, 2, 3, 4, 5)
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
                reference_model, "features", number_of_concepts=4, patch_size=16, batch_size=128
            )
            importances = craft.fit(images, class_id=class_id).estimate_importance(nb_design=8)
            maps = craft.concept_attribution_maps(images, method="layer").numpy()
            shares = _shares(maps, parts)
            present = _presence(maps, craft.concept_bank_) >= MIN_PRESENCE
            top, best = int(np.argmax(importances)), int(np.argmax(np.where(present, shares, -1)))
            runs.append((shares[top], shares[best], parts.mean(), top == best))
    return np.asarray(runs, np.float64)


def test_top_concept_is_the_best_covering_one(faithfulness_runs):
    """The top concept is the best-covering present concept in >= 16 of the 18 runs, and never
    far behind it (>= 0.9 of its share on the parts).

    Measured with Craft's default NMF: 17 of 18, the miss a tie (0.54 vs 0.54). With the
    converged ``NMF(4)`` (the former default): 11 of 18, and on the magenta ring (class 4) the
    top concept was the one present everywhere, 0.09-0.16 of its mass on the parts against
    0.45-0.46 for the best-covering one.
    """
    top, best, _, hits = faithfulness_runs.T
    assert hits.sum() >= len(hits) - 2
    assert np.all(top >= 0.9 * best)


def test_top_concept_mass_is_on_the_planted_parts(faithfulness_runs):
    """The parts cover 0.10-0.12 of the images; the top concept's layer maps put 0.45-0.57 of
    their positive mass there per class (mean 0.51; 0.47 with ``NMF(4)``, 0.23 on the magenta
    ring), blurred by the 18-pixel receptive field."""
    top, _, area, _ = faithfulness_runs.T
    assert np.all(top > 3.5 * area)
    assert top.mean() > 0.48
