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


class LazyCrafts(dict):
    """``crafts[class_id]``: a Craft fitted on the class's images, with importances, built on
    first access and shared by every test of the session."""

    def __init__(self, model, data):
        super().__init__()
        self.model, self.data = model, data

    def __missing__(self, class_id: int) -> Craft:
        images = self.data.images[self.data.labels == class_id]
        craft = Craft.from_model(self.model, "features", number_of_concepts=10, patch_size=PATCH)
        craft.fit(images, class_id=class_id).estimate_importance()
        self[class_id] = craft
        return craft


@pytest.fixture(scope="session")
def fitted_crafts(reference_model, concept_data):
    """Crafts (10 concepts, 16-pixel crops) with importances, fitted lazily per class."""
    return LazyCrafts(reference_model, concept_data)
