"""Craft's construction (issue 16): settings checked in ``__init__``, ``model`` / ``layer`` as
constructor arguments, the parent link built by ``refine``, ``verbose`` on the long calls, one
meaning per sampler name, and the shape helpers of ``craft_layout``."""

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions.sobol.samplers import HaltonSampler
from xplique_lens.commons import split_model
from xplique_lens.concepts import PCA, Craft, CraftManager, NotFittedError
from xplique_lens.concepts.craft import CraftLink
from xplique_lens.concepts.craft_layout import as_images, pool_positions, token_grid
from xplique_lens.concepts.craft_refine import ChainedModel


@pytest.fixture(scope="module")
def small(tiny_functional_model):
    rng = np.random.default_rng(3)
    images = rng.uniform(size=(4, 16, 16, 3)).astype(np.float32)
    g, h = split_model(tiny_functional_model, "conv")
    return tiny_functional_model, g, h, images


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"number_of_concepts": 0}, ValueError, "number_of_concepts"),
        ({"number_of_concepts": 2.5}, TypeError, "number_of_concepts"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"patch_size": -4}, ValueError, "patch_size"),
        ({"stride": 0}, ValueError, "stride"),
        ({"activation_policy": "relu"}, ValueError, "activation_policy"),
        ({"extractor": object()}, TypeError, "extractor"),
        ({"extractor": PCA(3)}, ValueError, "n_components"),
        ({"model": "model", "layer": "conv"}, TypeError, "model"),
        ({"layer": 1.5}, TypeError, "layer"),
        ({"link": "parent"}, TypeError, "link"),
        ({"verbose": "yes"}, TypeError, "verbose"),
    ],
)
def test_constructor_checks_every_argument(small, kwargs, error, match):
    _, g, h, _ = small
    with pytest.raises(error, match=match):
        Craft(g, h, **{"number_of_concepts": 2, **kwargs})


def test_model_and_layer_are_constructor_arguments(small):
    model, g, h, _ = small
    with pytest.raises(ValueError, match="layer"):
        Craft(g, h, 2, model=model)  # the split layer is needed with the model
    with pytest.raises(ValueError, match="nope"):
        Craft(g, h, 2, model=model, layer="nope")
    craft = Craft(g, h, 2, model=model, layer=1)
    assert craft.model is model and craft.layer == "conv"  # stored as the full path
    built = Craft.from_model(model, "conv", number_of_concepts=2)
    assert built.model is model and built.layer == "conv"
    plain = Craft(g, h, 2)
    assert plain.model is None and plain.layer is None and plain.link is None
    assert plain.parent_ is None and plain.to_parent_latent_ is None


def test_verbose_is_an_argument_of_the_long_calls(small):
    _, g, h, images = small
    craft = Craft(g, h, 2, patch_size=8, extractor=PCA(2))
    assert craft.verbose is False
    craft.fit(images, 0, verbose=False)
    with pytest.raises(TypeError, match="verbose"):
        craft.fit(images, 0, verbose="sobol")
    with pytest.raises(TypeError, match="verbose"):
        craft.estimate_importance(None, 4, "halton")  # a sampler given in verbose's place
    with pytest.warns(DeprecationWarning, match="verbose"):
        old = Craft(g, h, 2, patch_size=8, extractor=PCA(2), verbose=False)
    assert old.verbose is False


def test_refit_overwrites_the_learned_state(small):
    _, g, h, images = small
    craft = Craft(g, h, 2, patch_size=8, extractor=PCA(2)).fit(images, 0)
    craft.estimate_importance(nb_design=4)
    assert craft.most_important_concepts_.shape == (2,)
    craft.fit(images[:2], 1)
    assert not hasattr(craft, "importances_") and not hasattr(craft, "local_importances_")
    with pytest.raises(NotFittedError, match="estimate_importance"):
        _ = craft.most_important_concepts_
    assert craft.class_id_ == 1 and len(craft.inputs_) == 2


def test_sampler_names_mean_what_get_sampler_says(small):
    _, g, h, images = small
    craft = Craft(g, h, 2, patch_size=8, extractor=PCA(2)).fit(images, 0)
    default = craft.estimate_importance(images, nb_design=8)
    plain = craft.estimate_importance(images, nb_design=8, sampler=HaltonSampler(scramble=False))
    np.testing.assert_array_equal(default, plain)  # Xplique's unscrambled Halton design
    scrambled = craft.estimate_importance(images, nb_design=8, sampler="halton")
    again = craft.estimate_importance(images, nb_design=8, sampler=HaltonSampler(seed=0))
    np.testing.assert_allclose(scrambled, again, rtol=1e-6)
    assert not np.allclose(scrambled, default)  # "halton" is scrambled, as in get_sampler


def test_batches_do_not_change_the_maps(small):
    model, g, h, images = small
    craft = Craft(g, h, 2, batch_size=3, patch_size=8, extractor=PCA(2)).fit(images, 0)
    whole = craft.concept_attribution_maps(images, batch_size=None)
    np.testing.assert_allclose(
        craft.concept_attribution_maps(images, batch_size=1).numpy(), whole.numpy(), atol=1e-6
    )
    codes = Craft(g, h, 2, batch_size=None, patch_size=8, extractor=PCA(2)).fit(images, 0)
    np.testing.assert_allclose(codes.crops_u_, craft.crops_u_, rtol=1e-4, atol=1e-5)


def test_refine_builds_the_child_with_a_link(reference_model, concept_data):
    images = concept_data.images[concept_data.labels == 1][:4]
    parent = Craft.from_model(reference_model, "features", number_of_concepts=3, patch_size=32)
    parent.fit(images, class_id=1)
    child = parent.refine(0, "conv2", number_of_concepts=2, nb_crops=8)
    assert isinstance(child.link, CraftLink) and child.link.parent is parent
    assert child.parent_ is parent and child.parent_concept_id_ == 0
    assert len(child.parent_crop_indices_) == 8 and child.model is reference_model
    assert child.to_parent_latent_ is child.link.to_parent_latent
    assert isinstance(child.latent_to_logit_model, ChainedModel)
    with pytest.raises(ValueError, match="number_of_concepts"):
        parent.refine(0, "conv2", number_of_concepts=0)
    with pytest.raises(ValueError, match="nb_crops"):
        parent.refine(0, "conv2", nb_crops=0)
    # without the whole model, layers are resolved in g
    g, h = split_model(reference_model, "features")
    alone = Craft(g, h, 3, patch_size=32).fit(images, class_id=1)
    assert alone.refine(0, "conv2", number_of_concepts=2, nb_crops=8).layer == "conv2"
    with pytest.raises(ValueError, match="Keras"):
        Craft(lambda x: g(x), h, 3, patch_size=32).fit(images).refine(0, "conv2")


def test_craft_manager_checks_and_is_quiet_by_default(small):
    _, g, h, images = small
    labels = np.array([0, 1, 0, 1])
    manager = CraftManager(g, h, images, labels, number_of_concepts=2, patch_size=8)
    assert manager.verbose is False and sorted(manager.craft_instances) == [0, 1]
    with pytest.raises(ValueError, match="labels"):
        CraftManager(g, h, images, labels[:3])
    with pytest.raises(TypeError, match="extractor_factory"):
        CraftManager(g, h, images, labels, extractor_factory="nmf")
    with pytest.raises(ValueError, match="list_of_class_of_interest"):
        CraftManager(g, h, images, labels, list_of_class_of_interest=[])
    with pytest.raises(ValueError, match="patch_size"):
        CraftManager(g, h, images, labels, patch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        CraftManager(g, h, images, labels, batch_size=-1)
    with pytest.warns(DeprecationWarning, match="verbose"):
        CraftManager(g, h, images, labels, number_of_concepts=2, patch_size=8, verbose=True)


def test_layout_helpers():
    assert token_grid(16) == (0, 4) and token_grid(17) == (1, 4) and token_grid(32) is None
    assert as_images(np.zeros((8, 8, 3), np.float32)).shape == (1, 8, 8, 3)
    with pytest.raises(ValueError, match="empty"):
        as_images(np.zeros((0, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="images"):
        as_images(np.zeros((8, 8), np.float32), "images")
    tokens = tf.reshape(tf.range(2 * 17 * 3, dtype=tf.float32), (2, 17, 3))
    np.testing.assert_allclose(pool_positions(tokens), tf.reduce_mean(tokens[:, 1:], 1))
    with pytest.raises(ValueError, match="input_to_latent_model"):
        pool_positions(tf.zeros((1, 2, 2, 2, 2)))
