"""Fixtures of the concepts tests: class images of the built-in dataset and fitted Crafts."""

import numpy as np
import pytest

from xplique_lens.commons import split_model
from xplique_lens.concepts import Craft
from xplique_lens.datasets import make_synthetic_dataset

PATCH = 16


@pytest.fixture(scope="session")
def concept_data():
    """12 images per class, held out from the model's training data."""
    return make_synthetic_dataset(n_per_class=12, seed=77)


@pytest.fixture(scope="session")
def features_activations(reference_model, concept_data):
    """Activations of the ``features`` layer, flattened to (N * 16 * 16, 64)."""
    g, _ = split_model(reference_model, "features")
    return np.asarray(g(concept_data.images[:36])).reshape(-1, 64)


@pytest.fixture(scope="session")
def fitted_crafts(reference_model, concept_data):
    """One fitted Craft (10 concepts, 16-pixel crops) with importances for classes 1 and 2."""
    crafts = {}
    for class_id in (1, 2):
        images = concept_data.images[concept_data.labels == class_id]
        craft = Craft.from_model(
            reference_model, "features", number_of_concepts=10, patch_size=PATCH
        ).fit(images, class_id=class_id)
        craft.estimate_importance()
        crafts[class_id] = craft
    return crafts
