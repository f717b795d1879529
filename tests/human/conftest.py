"""Cheap stand-ins for the human-experiment tests: a linear 'model' on mean colours, a counting
explainer, and a headless Chromium for the site."""

import numpy as np
import pytest

from xplique_lens.human import UtilityExperiment


class MeanColourModel:
    """Scores = mean colour @ W: decisions that agree with random labels ~1/3 of the time."""

    def __init__(self, nb_classes=3, seed=0):
        self.weights = np.random.default_rng(seed).normal(size=(3, nb_classes))

    def __call__(self, images):
        return np.asarray(images).mean(axis=(1, 2)) @ self.weights


class CountingExplainer:
    """|x - mean| maps; records the batches and targets it was called with."""

    def __init__(self):
        self.calls = []

    def __call__(self, inputs, targets):
        inputs = np.asarray(inputs)
        self.calls.append((len(inputs), np.asarray(targets).copy()))
        return np.abs(inputs - inputs.mean(axis=(1, 2), keepdims=True)).mean(axis=-1)


@pytest.fixture
def stub_model():
    return MeanColourModel()


@pytest.fixture
def stub_images():
    rng = np.random.default_rng(1)
    return rng.uniform(0, 1, size=(60, 16, 16, 3)).astype(np.float32)


@pytest.fixture
def stub_labels():
    return np.random.default_rng(2).integers(0, 3, size=60)


@pytest.fixture
def stub_experiment(stub_model, stub_images, stub_labels):
    """2 rounds of 4 + 4 trials, a baseline and an explainer, built."""
    return UtilityExperiment(
        stub_model,
        stub_images,
        stub_labels,
        {"baseline": None, "counting": CountingExplainer()},
        class_names=["cat", "dog", "fox"],
        n_rounds=2,
        n_train=4,
        n_test=4,
    ).fit()
