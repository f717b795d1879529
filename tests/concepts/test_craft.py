import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.commons import split_model
from xplique_lens.concepts import PCA, Craft, NotFittedError
from xplique_lens.concepts.crops import crop_masks, extract_crops

from ..numerics import assert_close
from .conftest import PATCH


def _class(concept_data, class_id):
    sel = concept_data.labels == class_id
    return concept_data.images[sel], {k: v[sel] for k, v in concept_data.part_masks.items()}


def test_fit_state_and_shapes(fitted_crafts, concept_data):
    craft = fitted_crafts[1]
    images, _ = _class(concept_data, 1)
    n_crops = len(images) * 5 * 5  # 64 px, 16 px crops at 0, 12, 24, 36, 48
    assert craft.crops_.shape == (n_crops, PATCH, PATCH, 3)
    assert craft.crops_u_.shape == (n_crops, 10) and np.all(craft.crops_u_ >= 0)
    assert craft.concept_bank_.shape == (10, 64)
    assert craft.transform(images[:3]).shape == (3, 16, 16, 10)
    assert craft.importances_.shape == (10,) and craft.local_importances_.shape == (12, 10)


def test_crops_and_origins_agree(concept_data):
    images = tf.constant(concept_data.images[:2])
    crops, origins = extract_crops(images, 20)
    for crop, (i, y, x) in zip(crops.numpy()[::5], origins[::5]):
        np.testing.assert_array_equal(crop, concept_data.images[i, y : y + 20, x : x + 20])


CLASSES = range(6)
_TOP_MAPS: dict = {}


def _top_concept_maps(crafts, data, class_id, method):
    """Positive part of the top concept's maps on the class images (cached per session)."""
    if (class_id, method) not in _TOP_MAPS:
        craft = crafts[class_id]
        images, _ = _class(data, class_id)
        maps = craft.concept_attribution_maps(images, method=method).numpy()
        _TOP_MAPS[class_id, method] = np.maximum(maps[..., craft.most_important_concepts_[0]], 0)
    return _TOP_MAPS[class_id, method]


def _share(maps, mask):
    return float((maps * mask).sum() / maps.sum())


@pytest.mark.parametrize("class_id", CLASSES)
def test_most_important_concept_is_the_planted_object(fitted_crafts, concept_data, class_id):
    """Issue 5 on every class: the top concept is a planted part, dense on the coloured object.

    Measured shares of positive mass (``benchmarks/bench_craft_maps.py``, object area 0.03-0.05,
    pattern 0.06): ``"input"`` maps 0.34-0.74 on the object and 0.67-0.98 on object + pattern;
    ``"layer"`` maps 0.09-0.40 on the object: they have the layer's resolution (4-pixel cells,
    18-pixel receptive field) and show the concept's weak response to plain background at
    full-image scale, hence only a density bound for them.
    """
    craft = fitted_crafts[class_id]
    _, parts = _class(concept_data, class_id)
    top = int(craft.most_important_concepts_[0])
    # the top concept carries a large part of the variance of the class logit (0.78-0.90), but
    # on the magenta ring, whose ring and stripes share it (0.32 / 0.22; 0.19 / 0.19 with oneDNN
    # off), only with the runner-up
    assert np.sort(craft.importances_)[::-1][:2].sum() > 0.3
    # its top crops are crops of the planted parts
    _, idx = craft.top_crops(top, 10)
    planted = parts["object"] | parts["pattern"]
    overlap = crop_masks(craft.crops_origin_[idx], PATCH, planted).mean(axis=(1, 2))
    assert np.mean(overlap > 0.2) >= 0.8
    area = parts["object"].mean()
    # input maps: the object is > 5x denser than average, and the planted parts hold most mass
    maps = _top_concept_maps(fitted_crafts, concept_data, class_id, "input")
    assert _share(maps, parts["object"]) > 5 * area
    assert _share(maps, parts["object"] | parts["pattern"]) > 0.5
    # layer maps (blurred by the receptive field): the object is > 2x denser than average
    maps = _top_concept_maps(fitted_crafts, concept_data, class_id, "layer")
    assert _share(maps, parts["object"]) > 2 * area


@pytest.mark.parametrize("class_id", CLASSES)
def test_input_maps_put_most_mass_on_the_object(fitted_crafts, concept_data, class_id):
    """``"input"`` maps (Integrated Gradients from the mean colour) of the top concept put most
    of their positive mass on the planted parts, and much of it on the object alone, for every
    class. Measured with Craft's default NMF under four numerics (AVX-512, AVX2 + oneDNN off +
    one thread, oneDNN off, one thread): parts 0.80-0.98, object 0.44-0.80 (the magenta ring's
    top concept also answers the stripes: object 0.44-0.64). The converged NMF of ``NMF(r)``
    ranked a concept present everywhere first on the ring (object 0.33)."""
    _, parts = _class(concept_data, class_id)
    maps = _top_concept_maps(fitted_crafts, concept_data, class_id, "input")
    assert _share(maps, parts["object"] | parts["pattern"]) > 0.7
    assert _share(maps, parts["object"]) > 0.35


def test_input_maps_are_integrated_gradients(fitted_crafts, concept_data):
    """Completeness: each map adds up to U_k(x) - U_k(x0), the total code over the layer."""
    craft = fitted_crafts[1]
    images, _ = _class(concept_data, 1)
    images = images[:3]
    baseline = np.broadcast_to(images.mean(axis=(1, 2), keepdims=True), images.shape)
    maps = craft.concept_attribution_maps(images, method="input", steps=32).numpy()
    gap = craft.transform(images).sum(axis=(1, 2)) - craft.transform(baseline).sum(axis=(1, 2))
    np.testing.assert_allclose(maps.sum(axis=(1, 2)), gap, atol=0.03 * np.abs(gap).max())
    # explicit baselines; batches of path points give the same maps
    same = craft.explain(images, method="input", steps=32, baseline=baseline, batch_size=7)
    np.testing.assert_allclose(same.numpy(), maps, atol=1e-4 * np.abs(maps).max())
    black = craft.concept_attribution_maps(images[:1], method="input", baseline="zero", steps=2)
    assert black.shape == (1, 64, 64, 10) and np.all(np.isfinite(black.numpy()))


def test_input_maps_bad_arguments(fitted_crafts, concept_data):
    craft = fitted_crafts[1]
    images, _ = _class(concept_data, 1)
    with pytest.raises(ValueError, match="baseline"):
        craft.concept_attribution_maps(images[:2], method="input", baseline="blur")
    with pytest.raises(ValueError, match="baseline"):
        craft.concept_attribution_maps(images[:2], method="input", baseline=np.zeros((5, 3)))
    with pytest.raises(TypeError, match="baseline"):
        craft.concept_attribution_maps(images[:2], method="input", baseline=None)
    with pytest.raises(ValueError, match="steps"):
        craft.concept_attribution_maps(images[:2], method="input", steps=0)


def test_importances_stable_and_sensible(fitted_crafts):
    craft = fitted_crafts[2]
    again = craft.estimate_importance()
    assert_close(again, craft.importances_, rel=1e-4)
    assert np.all(craft.importances_ >= -1e-3)
    # total indices sum to at least 1 (up to estimation error) for any model
    assert 0.8 < craft.importances_.sum() < 3.0


def test_importance_matches_a_per_image_loop(fitted_crafts, concept_data):
    """The batched kernel equals Xplique's per-image recipe (one h call per image, Jansen)."""
    from xplique_lens.attributions.sobol.samplers import HaltonSampler

    craft = fitted_crafts[1]
    images, _ = _class(concept_data, 1)
    ours = craft.estimate_importance(images[:3], nb_design=8)
    r = craft.number_of_concepts
    design = HaltonSampler(scramble=False).sample(r, 8)
    a, b = design.a.numpy(), design.b.numpy()
    cs = [a.copy() for _ in range(r)]
    for i in range(r):
        cs[i][:, i] = b[:, i]
    masks = np.concatenate([a, b, *cs], 0)
    per_image = []
    for codes in craft.transform(images[:3]):
        acts = (codes[None] * masks[:, None, None, :]) @ craft.concept_bank_
        y = craft.latent_to_logit_model(acts).numpy()[:, 1]
        fa, fc = y[:8], y[16:].reshape(r, 8)
        per_image.append(((fa - fc) ** 2).mean(1) / (2 * fa.var(ddof=1)))
    np.testing.assert_allclose(ours, np.mean(per_image, 0), rtol=1e-3, atol=1e-5)


def test_layer_maps_are_the_upsampled_codes(fitted_crafts, concept_data):
    craft = fitted_crafts[1]
    images, _ = _class(concept_data, 1)
    maps = craft.explain(images[:2])
    assert maps.shape == (2, 64, 64, 10) and maps.dtype == tf.float32
    codes = craft.transform(images[:2])
    np.testing.assert_allclose(maps.numpy()[:, 2::4, 2::4].mean(), codes.mean(), rtol=0.1)


def test_refine_sub_concepts_reconstruct_parent_codes(fitted_crafts, reference_model):
    parent = fitted_crafts[1]
    top = int(parent.most_important_concepts_[0])
    child = parent.refine(top, "conv2", number_of_concepts=4)
    assert parent.children_[top] is child and child.parent_ is parent
    assert child.layer == "conv2" and child.crops_u_.shape[1] == 4
    # spatial sub-concept codes of the parent crops, decoded and pushed to the parent layer
    crops = tf.image.resize(parent.crops_[child.parent_crop_indices_], (64, 64), "bicubic")
    sub_codes = child.transform(crops)
    rebuilt = np.tensordot(sub_codes, child.concept_bank_, axes=1)
    acts = child.input_to_latent_model(crops).numpy()
    assert np.linalg.norm(acts - rebuilt) / np.linalg.norm(acts) < 0.5
    parent_acts = np.asarray(child.to_parent_latent_(rebuilt)).mean(axis=(1, 2))
    parent_codes = parent.extractor.transform(parent_acts)[:, top]
    original = parent.crops_u_[child.parent_crop_indices_, top]
    assert np.corrcoef(parent_codes, original)[0, 1] > 0.8
    # the child explains the same class through the rest of the network
    assert child.estimate_importance(nb_design=8).shape == (4,)


def test_clear_errors(reference_model, concept_data, tiny_functional_model):
    images = concept_data.images[:4]
    craft = Craft.from_model(reference_model, "features", number_of_concepts=4, patch_size=16)
    with pytest.raises(NotFittedError):
        craft.transform(images)
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        craft.fit(images[0, ..., 0])
    with pytest.raises(TypeError, match="floating"):
        craft.fit((images * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="patch_size"):
        Craft.from_model(reference_model, "features", patch_size=128).fit(images)
    with pytest.raises(ValueError, match="larger than the number of features"):
        Craft.from_model(reference_model, "features", number_of_concepts=65, patch_size=32).fit(
            images
        )
    # a layer with negative activations (the linear logits of a cut before them)
    g, h = split_model(reference_model, "gap")
    signed = tf.keras.Sequential([g, tf.keras.layers.Lambda(lambda x: x - 1.0)])
    with pytest.raises(ValueError, match="non-negative"):
        Craft(signed, h, number_of_concepts=2, patch_size=32).fit(images)
    craft.fit(images, class_id=0)
    with pytest.raises(ValueError, match="nb_design"):
        craft.estimate_importance(nb_design=30)
    with pytest.raises(ValueError, match="concept_id"):
        craft.top_crops(7)
    with pytest.raises(ValueError, match="before the parent layer"):
        craft.refine(0, "logits")
    with pytest.raises(ValueError, match="n_components"):
        Craft(g, h, number_of_concepts=3, extractor=PCA(4))


def test_signed_extractor_runs(reference_model, concept_data):
    images = concept_data.images[:6]
    craft = Craft.from_model(
        reference_model, "features", number_of_concepts=4, patch_size=32, extractor=PCA(4)
    ).fit(images, class_id=0)
    assert craft.estimate_importance(nb_design=8).shape == (4,)
    assert craft.concept_attribution_maps(images[:2], method="input").shape == (2, 64, 64, 4)


def test_craft_manager_fits_each_predicted_class(reference_model, concept_data):
    from xplique_lens.concepts import CraftManager

    g, h = split_model(reference_model, "features")
    manager = CraftManager(
        g,
        h,
        concept_data.images,
        concept_data.labels,
        list_of_class_of_interest=[0, 3],
        number_of_concepts=3,
        patch_size=32,
    ).fit(nb_samples_per_class=4, verbose=False)
    assert set(manager.craft_instances) == {0, 3}
    assert all(c.class_id_ == k for k, c in manager.craft_instances.items())
    importances = manager.estimate_importance(nb_design=8)
    assert importances[3].shape == (3,)


def test_visualize_concepts_batches_directions(fitted_crafts):
    craft = fitted_crafts[1]
    kwargs = dict(nb_steps=4, nb_crops=2, custom_shape=(32, 32), values_range=(0, 1), seed=0)
    images, transparencies = craft.visualize_concepts([0, 2], progress=False, **kwargs)
    assert images.shape == (2, 32, 32, 3) and transparencies.shape == (2, 32, 32, 3)
    assert 0.0 <= images.min() and images.max() <= 1.0
    single, _ = craft.visualize_concepts(2, progress=False, **kwargs)
    assert single.shape == (1, 32, 32, 3)
    with pytest.raises(ValueError, match="concept_id"):
        craft.visualize_concepts([99], progress=False, **kwargs)


def test_visualize_concepts_needs_the_whole_model(reference_model, concept_data):
    g, h = split_model(reference_model, "features")
    images = concept_data.images[concept_data.labels == 1]
    craft = Craft(g, h, number_of_concepts=3, patch_size=16).fit(images, class_id=1)
    with pytest.raises(TypeError, match="from_model"):
        craft.visualize_concepts(progress=False)
