"""Every explainer, metric, MACO and CRAFT on real architectures (random weights, tiny sizes).

Each feature must run on each model and give finite outputs of the right shapes; the numerical
behaviour of each feature is tested on the built-in models elsewhere. Most of the cost is
TensorFlow tracing the model once per compiled function (1-5 s per trace on a keras.applications
backbone on 2 CPU cores), so the default run is budgeted (under 30 s): every feature on the
small models that stress the plumbing (a softmax head, ``mixed_float16``, a ViT with a class
token, whose Lens build in ``test_lens_real_models`` runs Saliency, Sobol and MACO), the features
that look inside the model on the nested transfer model (Saliency, MACO, CRAFT), CRAFT on two
backbones with signed layers (EfficientNetV2B0's swish with ``"clamp"``, ConvNeXtTiny's residual
stream inside a nested Sequential with ``"signed"``), and an exact split at the concept layer of
four more backbones. ``XPLIQUE_LENS_REAL_MODELS=all`` runs every feature on every model and the
Lens of the transfer model (about two and a half minutes on 2 CPU cores).
"""

from __future__ import annotations

import numpy as np
import pytest

from xplique_lens.attributions import (
    GradientInput,
    IntegratedGradients,
    Occlusion,
    Rise,
    Saliency,
    SmoothGrad,
    SobolAttributionMethod,
)
from xplique_lens.commons.model_splitting import layer_path, split_model
from xplique_lens.concepts import Craft
from xplique_lens.features import Objective, maco
from xplique_lens.metrics import Deletion, Insertion, MuFidelity

from ..numerics import assert_close
from .conftest import CASES, FULL, concept_layer, images_for

pytestmark = pytest.mark.slow

FEATURES = ("saliency", "sobol", "explainers", "metrics", "maco", "craft")
#: What the default run checks on each model (every feature with XPLIQUE_LENS_REAL_MODELS=all).
DEFAULT_FEATURES = {
    "transfer": ("saliency", "maco", "craft"),
    "softmax_head": FEATURES,
    "mixed_float16": FEATURES,
    "vit": ("explainers", "metrics", "craft"),  # the Lens build runs Saliency, Sobol and MACO
    "EfficientNetV2B0": ("craft",),
    "ConvNeXtTiny": ("craft",),
}
#: Backbones whose split at the concept layer is all the default run checks (DenseNet121, 3 s to
#: build, is only in the full run)
SPLIT_ONLY = ["ResNet50V2", "MobileNetV2", "MobileNetV3Small", "InceptionV3"]


def _finite(values, shape: tuple, what: str) -> np.ndarray:
    values = np.asarray(values, np.float64)
    assert values.shape == shape, f"{what}: shape {values.shape}, expected {shape}"
    assert np.all(np.isfinite(values)), f"{what}: non-finite values"
    return values


def _explainers(model, height: int, features: tuple[str, ...]) -> dict:
    cell = max(height // 4, 1)
    explainers = {}
    if "saliency" in features:
        explainers["Saliency"] = Saliency(model)
    if "sobol" in features:
        explainers["Sobol"] = SobolAttributionMethod(model, grid_size=2, nb_design=2, seed=0)
    if "explainers" in features:
        explainers.update(
            GradientInput=GradientInput(model),
            IntegratedGradients=IntegratedGradients(model, steps=2),
            SmoothGrad=SmoothGrad(model, nb_samples=2, noise=0.1),
            Occlusion=Occlusion(model, patch_size=2 * cell, patch_stride=2 * cell),
            Rise=Rise(model, nb_samples=4, grid_size=2),
        )
    return explainers


def _metrics(model, images, targets, explanation: np.ndarray) -> None:
    for metric in (Deletion, Insertion):
        score = metric(model, images, targets, steps=2)(explanation)
        assert np.isfinite(score), metric.__name__
    score = MuFidelity(model, images, targets, grid_size=2, nb_samples=4)(explanation)
    assert np.isfinite(score) and -1.0 <= score <= 1.0


def _maco(model, case, height: int, width: int) -> None:
    low, high = case.values_range
    images, transparencies = maco(
        Objective.class_logit(model, 0, layer=case.maco_layer),
        nb_steps=2,
        nb_crops=1,
        custom_shape=(height, width),
        values_range=case.values_range,
        seed=0,
    )
    image, transparency = images[0], transparencies[0]
    image = _finite(image, (height, width, 3), "MACO image")
    margin = 1e-3 * (high - low)
    assert low - margin <= image.min() and image.max() <= high + margin
    _finite(transparency, (height, width, 3), "MACO transparency")


def _check_split(model, g, h, images) -> None:
    """``h(g(x)) == f(x)``, eagerly, with a tolerance scaled to the outputs."""
    assert_close(h(g(images, training=False), training=False), model(images, training=False))


def _craft(model, case, images) -> None:
    n, height, width = images.shape[:3]
    craft = Craft.from_model(
        model,
        concept_layer(model, case),
        number_of_concepts=2,
        patch_size=height // 2,
        activation_policy=case.policy,
    )
    assert craft.layer == layer_path(model, concept_layer(model, case))
    _check_split(model, craft.input_to_latent_model, craft.latent_to_logit_model, images)
    craft.fit(images, class_id=0)
    assert craft.crops_u_.min() >= 0.0 and craft.concept_bank_.shape[0] == 2
    _finite(craft.estimate_importance(nb_design=2), (2,), "CRAFT importance")
    _finite(craft.local_importances_, (n, 2), "CRAFT local importance")
    _finite(craft.concept_attribution_maps(images), (n, height, width, 2), "CRAFT maps")


@pytest.mark.parametrize("name", list(CASES))
def test_every_feature(real_models, name):
    features = FEATURES if FULL else DEFAULT_FEATURES.get(name)
    if not features:
        pytest.skip("budgeted out of the default run: set XPLIQUE_LENS_REAL_MODELS=all")
    case = CASES[name]
    model = real_models[name]
    images = images_for(model, case)
    targets = np.array([0, 1])
    height, width = images.shape[1:3]
    n = len(images)
    for label, explainer in _explainers(model, height, features).items():
        explanation = _finite(explainer(images, targets), (n, height, width, 1), label)
    if "metrics" in features:
        _metrics(model, images, targets, explanation)
    if "maco" in features:
        _maco(model, case, height, width)
    if "craft" in features:
        _craft(model, case, images)


@pytest.mark.skipif(FULL, reason="CRAFT checks the split on every model")
@pytest.mark.parametrize("name", SPLIT_ONLY)
def test_split_at_the_concept_layer_is_exact(real_models, name):
    """``h(g(x)) == f(x)`` at the concept layer of the other backbones (eager: no tracing)."""
    case = CASES[name]
    model = real_models[name]
    g, h = split_model(model, concept_layer(model, case))
    _check_split(model, g, h, images_for(model, case))
