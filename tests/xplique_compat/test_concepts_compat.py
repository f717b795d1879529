"""Xplique's CRAFT names: ``CraftTf`` / ``CraftManagerTf`` conventions, holistic CRAFT
(``HolisticCraftTf``) on our split or on Xplique's latent extractor, ``PartialExplainer``."""

import inspect

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import GradientInput, Occlusion, Saliency
from xplique_lens.commons import split_model
from xplique_lens.concepts import (
    PCA,
    CraftManagerTf,
    CraftTf,
    DisplayImportancesOrder,
    EncodedData,
    HolisticCraftTf,
    NotFittedError,
    PartialExplainer,
)

from ..numerics import assert_close

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(5).uniform(size=(3, 16, 16, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def holistic(tiny_functional_model, images):
    return HolisticCraftTf.from_model(tiny_functional_model, "conv", number_of_concepts=3).fit(
        images
    )


def test_craft_tf_conventions(tiny_functional_model, images, tmp_path):
    g, h = split_model(tiny_functional_model, "conv")
    with pytest.raises(TypeError, match="latent_to_logit_model"):
        CraftTf(g, lambda a: 2 * a)  # Xplique refuses non-Keras models too
    # Xplique's conventions do not depend on the extractor (NMF: tests/concepts, holistic below)
    craft = CraftTf(g, h, number_of_concepts=3, batch_size=64, patch_size=8, extractor=PCA(3))
    with pytest.raises(NotFittedError, match="fit"):
        craft.check_if_fitted()
    crops, crops_u, bank = craft.fit(images, 1)  # Xplique returns the factorization
    craft.check_if_fitted()
    assert crops.shape[1:] == (8, 8, 3) and crops_u.shape == (len(crops), 3)
    assert bank.shape == (3, 4) and craft.factorization.concept_bank_w is bank
    assert craft.factorization.class_id == 1 and craft.sensitivity is None
    importances = craft.estimate_importance(nb_design=4)
    assert importances.shape == (3,) and np.all(np.isfinite(importances))
    assert list(craft.sensitivity.most_important_concepts) == list(np.argsort(importances)[::-1])
    assert craft.transform(images).shape == (3, 16, 16, 3)
    figure = craft.plot_concepts_importances(
        display_importance_order=DisplayImportancesOrder.LOCAL, nb_most_important_concepts=2
    )
    assert figure.axes[0].get_title() == "Local Concept Importance"
    assert len(figure.axes[0].patches) == 2
    assert len([a for a in craft.plot_concepts_crops(nb_crops=2).axes if a.images]) == 6
    craft.plot_image_concepts(images[0], nb_most_important_concepts=2, filepath=tmp_path / "i.png")
    assert (tmp_path / "i.png").stat().st_size > 0
    plt.close("all")


def test_craft_manager_tf(tiny_functional_model, images):
    g, h = split_model(tiny_functional_model, "conv")
    manager = CraftManagerTf(g, h, images, np.array([0, 1, 2]), [0, 2], number_of_concepts=2)
    assert sorted(manager.craft_instances) == [0, 2]
    assert all(isinstance(c, CraftTf) for c in manager.craft_instances.values())
    predictions = manager.compute_predictions()
    assert_close(predictions, np.argmax(tiny_functional_model(images), -1))
    with pytest.raises(ValueError, match="class_id"):
        manager.plot_concepts_crops(7)
    # Xplique's signatures: progress is an argument of the long calls, quiet by default
    for method, names in (
        ("fit", ["nb_samples_per_class", "verbose"]),
        ("estimate_importance", ["nb_design", "verbose"]),
    ):
        parameters = inspect.signature(getattr(manager, method)).parameters
        assert list(parameters) == names and parameters["verbose"].default is False


def test_holistic_craft_encode_decode(holistic, tiny_functional_model, images):
    codes = holistic.transform(images)
    assert codes.shape == (3, 16, 16, 3) and codes.min() >= 0
    assert_close(holistic.transform(), holistic.factorization.coeffs_u)
    encoded = holistic.encode(images[:2])
    assert len(encoded) == 2 and isinstance(encoded[0], EncodedData)  # batch size 1
    latent, coeffs = encoded[0]
    before = np.array(latent.get_activations())
    decoded = holistic.decode(latent, coeffs)
    reconstructed = coeffs @ holistic.factorization.concept_bank_w
    _, h = split_model(tiny_functional_model, "conv")
    assert_close(decoded, h(reconstructed))
    assert_close(latent.get_activations(), before)  # the caller's latent data is untouched
    assert_close(holistic.make_concept_decoder(latent)(coeffs), decoded)
    # differentiable codes: the gradient reaches the images
    x = tf.constant(images[:1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(holistic.encode(x, differentiable=True)[0].coeffs_u)
    assert float(tf.reduce_sum(tf.abs(tape.gradient(total, x)))) > 0
    localizer = holistic.make_concept_localizer("mean")
    assert_close(localizer(images), codes.mean(axis=(1, 2)), rel=1e-4)


def test_holistic_craft_importance_and_reductions(holistic, images):
    explainer = PartialExplainer(GradientInput, reducer=None)
    explanation = holistic.compute_explanation_per_concept(images, explainer, class_id=1)
    assert explanation.shape == (3, 16, 16, 3)
    importances = holistic.estimate_importance(images, None, 1)
    assert_close(importances, np.abs(explanation).mean(axis=(1, 2)).mean(axis=0), rel=1e-4)
    assert_close(
        holistic.reduce_to_importance(explanation, "sum", False, None),
        explanation.sum(axis=(1, 2)),
        rel=1e-4,
    )
    prevalence = holistic.reduce_to_prevalence(explanation)
    dominant = np.argmax(explanation.mean(axis=(1, 2)), -1)
    assert_close(prevalence, np.bincount(dominant, minlength=3) / 3)
    accuracy = np.array([1.0, 0.0, 1.0])
    reliability = holistic.reduce_to_reliability(explanation, accuracy)
    for concept in range(3):
        group = accuracy[dominant == concept]
        assert_close(reliability[concept], group.mean() if len(group) else 0.0)
    top = holistic.get_topk_images_per_concept(holistic.transform(images), topk=2)
    assert top.shape == (3, 2)
    with pytest.raises(ValueError, match="method"):
        holistic.estimate_importance(images, None, 1, method="lime")


def test_holistic_concepts_to_inputs(holistic, images):
    maps = holistic.attribute_concepts_to_inputs(
        images[:1], PartialExplainer(Occlusion, patch_size=8, patch_stride=8), concept_ids=[2]
    )
    assert maps.shape == (1, 16, 16, 3)
    assert np.isnan(maps[..., :2]).all() and np.isfinite(maps[..., 2]).all()
    with pytest.raises(ValueError, match="black-box"):
        holistic.attribute_concepts_to_inputs(images, PartialExplainer(Saliency))
    with pytest.raises(ValueError, match="batch_size"):
        PartialExplainer(Saliency, batch_size=4)
    with pytest.raises(NotFittedError):
        HolisticCraftTf(holistic.latent_extractor, 3).transform(images)
    with pytest.raises(TypeError, match="latent_extractor"):
        HolisticCraftTf(object())


def test_holistic_craft_on_xplique_latent_extractor(tiny_functional_model, images, holistic):
    builder = pytest.importorskip(
        "xplique.concepts.tf.layered_model_latent_extractor"
    ).LayeredModelExtractorBuilder
    extractor = builder.build(tiny_functional_model, split_layer=1, batch_size=1)
    craft = HolisticCraftTf(extractor, number_of_concepts=3).fit(tf.constant(images))
    # same split, same TF NMF: same concepts as on our own split
    assert_close(craft.factorization.concept_bank_w, holistic.factorization.concept_bank_w)
    assert_close(craft.transform(images), holistic.transform(images), rel=1e-4)
    # Xplique's path (one decoder and explainer per image, structured predictions) gives our
    # batched explanations
    explainer = PartialExplainer(GradientInput, reducer=None)
    assert_close(
        craft.compute_explanation_per_concept(images[:1], explainer, class_id=2),
        holistic.compute_explanation_per_concept(images[:1], explainer, class_id=2),
        rel=1e-4,
    )
