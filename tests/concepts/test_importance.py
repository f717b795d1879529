"""Concept importance estimators: analytic linear cases, cross-checks with the attribution
explainers, spatial codes, summaries and errors."""

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import Occlusion, Rise
from xplique_lens.commons import split_model
from xplique_lens.concepts import (
    ConceptImportance,
    estimate_concept_importance,
    global_importance,
    neuron_basis,
    prevalence_reliability,
)
from xplique_lens.concepts.importance import METHODS, concept_space_model

from ..numerics import assert_close

R, P, C = 5, 8, 3


@pytest.fixture(scope="module")
def linear_space():
    """Flat codes, a random bank and a linear head h(a) = a V + b."""
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(R, P)).astype(np.float32)
    kernel = rng.normal(size=(P, C)).astype(np.float32)
    bias = rng.normal(size=(C,)).astype(np.float32)
    codes = rng.random((6, R)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])

    def head(a):
        return tf.matmul(a, kernel) + bias

    contributions = codes * (bank @ kernel)[:, labels].T  # exact additive decomposition
    return head, bank, kernel, codes, labels, contributions


def test_gradient_methods_are_exact_on_a_linear_head(linear_space):
    head, bank, kernel, codes, labels, contributions = linear_space
    settings = {"gradient_input": {}, "integrated_gradients": {"steps": 3}, "occlusion": {}}
    for method, params in settings.items():
        out = ConceptImportance(head, bank, method, **params)(codes, labels)
        np.testing.assert_allclose(out.numpy(), contributions, rtol=1e-4, atol=1e-5)
    saliency = ConceptImportance(head, bank, "saliency")(codes, labels).numpy()
    assert_close(saliency, np.abs((bank @ kernel)[:, labels].T))


def test_sobol_of_an_additive_head_is_proportional_to_squared_contributions(linear_space):
    # For H(m) = sum_k c_k m_k with independent uniform masks, ST_k = c_k^2 / sum c^2.
    head, bank, _, codes, labels, contributions = linear_space
    indices = ConceptImportance(head, bank, "sobol", nb_design=256)(codes, labels).numpy()
    expected = contributions**2 / (contributions**2).sum(1, keepdims=True)
    np.testing.assert_allclose(indices, expected, atol=0.03)


def test_perturbation_estimators_equal_the_attribution_explainers_on_flat_codes(linear_space):
    head, bank, _, codes, labels, _ = linear_space
    model = concept_space_model(head, bank)
    occlusion = Occlusion(model, patch_size=1, patch_stride=1)(codes, labels)
    ours = ConceptImportance(head, bank, "occlusion")(codes, labels)
    np.testing.assert_allclose(ours.numpy(), occlusion.numpy(), atol=1e-5)
    rise = Rise(model, nb_samples=300, seed=4)(codes, labels)
    ours = ConceptImportance(head, bank, "rise", nb_samples=300, seed=4)(codes, labels)
    np.testing.assert_allclose(ours.numpy(), rise.numpy(), atol=1e-4)


def test_spatial_codes_mask_a_concept_at_every_position(linear_space):
    head, bank, _, _, labels, _ = linear_space
    rng = np.random.default_rng(1)
    spatial = rng.random((6, 3, 4, R)).astype(np.float32)

    def pooled_head(a):
        return head(tf.reduce_mean(a, axis=(1, 2)))

    pooled = spatial.mean(axis=(1, 2))
    for method in METHODS:
        params = {"nb_samples": 64} if method in ("rise", "smoothgrad") else {}
        flat = ConceptImportance(head, bank, method, **params)(pooled, labels).numpy()
        space = ConceptImportance(pooled_head, bank, method, **params)(spatial, labels).numpy()
        assert space.shape == (6, R)
        if method in ("saliency", "smoothgrad"):  # gradients summed over the h*w positions
            continue
        np.testing.assert_allclose(space, flat, rtol=1e-3, atol=1e-4, err_msg=method)


def test_same_seed_same_output_and_functional_form(linear_space):
    head, bank, _, codes, labels, _ = linear_space
    a = estimate_concept_importance(head, codes, bank, labels, "rise", nb_samples=50, seed=3)
    b = estimate_concept_importance(head, codes, bank, labels, "rise", nb_samples=50, seed=3)
    c = estimate_concept_importance(head, codes, bank, labels, "rise", nb_samples=50, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_builtin_model_gradient_input_decomposes_the_logit(reference_model, small_data):
    """On the built-in model cut at "features" (h = pooling + dense, linear), the neuron basis
    Gradient x Input sums to the logit minus the bias."""
    g, h = split_model(reference_model, "features")
    activations = np.asarray(g(small_data.images[:8]))
    codes, bank = neuron_basis(activations)
    labels = small_data.labels[:8]
    importance = ConceptImportance(h, bank, "gradient_input")(codes, labels).numpy()
    logits = np.asarray(reference_model(small_data.images[:8]))[np.arange(8), labels]
    bias = reference_model.get_layer("logits").bias.numpy()[labels]
    np.testing.assert_allclose(importance.sum(1), logits - bias, rtol=1e-4, atol=1e-4)


def test_global_importance_and_prevalence_reliability():
    local = np.array([[3.0, 1, 0], [2, 5, 0], [4, 0, 1], [0, 1, 2]], np.float32)
    np.testing.assert_allclose(global_importance(local), local.mean(0))
    per_class = global_importance(local, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(per_class, [[2.5, 3, 0], [2, 0.5, 1.5]])
    summary = prevalence_reliability(local, correct=np.array([True, False, False, True]))
    np.testing.assert_allclose(summary["prevalence"], [0.5, 0.25, 0.25])
    np.testing.assert_allclose(summary["reliability"], [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(summary["top_concept"], [0, 1, 0, 2])
    assert np.isnan(prevalence_reliability(local)["reliability"]).all()


def test_bad_inputs_get_clear_errors(linear_space):
    head, bank, _, codes, labels, _ = linear_space
    with pytest.raises(ValueError, match="method"):
        ConceptImportance(head, bank, "lime")
    with pytest.raises(ValueError, match="nb_designs"):
        ConceptImportance(head, bank, "sobol", nb_designs=8)
    with pytest.raises(ValueError, match="power of two"):
        ConceptImportance(head, bank, "sobol", nb_design=12)
    with pytest.raises(ValueError, match="concept bank has 5"):
        ConceptImportance(head, bank, "saliency")(codes[:, :3], labels)
    with pytest.raises(ValueError, match="NaN"):
        ConceptImportance(head, bank, "saliency")(np.full_like(codes, np.nan), labels)
    with pytest.raises(ValueError, match="codes"):
        ConceptImportance(head, bank, "saliency")(codes[:, None, None, None], labels)
    with pytest.raises(TypeError, match="latent_to_logit_model"):
        ConceptImportance("h", bank)
    with pytest.raises(ValueError, match="concept_bank"):
        ConceptImportance(head, bank[0])
    with pytest.raises(ValueError, match="local_importances"):
        global_importance(np.zeros(3))
    with pytest.raises(ValueError, match="correct"):
        prevalence_reliability(np.zeros((2, 3)), correct=[True])


def test_methods_are_a_registry_of_named_strategies():
    from xplique_lens.concepts.importance_methods import IMPORTANCE_METHODS, ImportanceMethod

    assert tuple(IMPORTANCE_METHODS) == METHODS
    assert all(isinstance(m, ImportanceMethod) for m in IMPORTANCE_METHODS.values())
    assert IMPORTANCE_METHODS["rise"].defaults["nb_samples"] == 2000
    with pytest.raises(TypeError):
        IMPORTANCE_METHODS["rise"].defaults["nb_samples"] = 1  # read-only defaults


def test_operator_and_activation_are_applied_to_the_concept_logits(linear_space):
    head, bank, _, codes, labels, _ = linear_space
    space = concept_space_model(head, bank)
    probabilities = tf.nn.softmax(space(codes)).numpy()
    onehot = np.eye(C, dtype=np.float32)[labels]
    for method in ("occlusion", "gradient_input"):
        default = ConceptImportance(head, bank, method)(codes, labels).numpy()
        explicit = ConceptImportance(head, bank, method, operator="classification")
        np.testing.assert_array_equal(explicit(codes, labels).numpy(), default)
        soft = ConceptImportance(head, bank, method, activation="softmax")(codes, labels).numpy()
        assert not np.allclose(soft, default)
    # occlusion on softmax: probability drop of the target when each concept is removed
    soft = ConceptImportance(head, bank, "occlusion", activation="softmax")(codes, labels).numpy()
    full = (probabilities * onehot).sum(-1)
    for k in range(R):
        removed = codes.copy()
        removed[:, k] = 0.0
        dropped = (tf.nn.softmax(space(removed)).numpy() * onehot).sum(-1)
        np.testing.assert_allclose(soft[:, k], full - dropped, rtol=1e-4, atol=1e-6)

    def negated(model, inputs, targets):
        return -tf.reduce_sum(model(inputs) * targets, axis=-1)

    flipped = ConceptImportance(head, bank, "occlusion", operator=negated)(codes, labels).numpy()
    np.testing.assert_allclose(flipped, -ConceptImportance(head, bank, "occlusion")(codes, labels))


def test_constructor_validates_operator_activation_and_seed(linear_space):
    head, bank, *_ = linear_space
    with pytest.raises(ValueError, match="`activation`"):
        ConceptImportance(head, bank, "saliency", activation="relu")
    with pytest.raises(ValueError, match="`operator`"):
        ConceptImportance(head, bank, "saliency", operator="ranking")
    with pytest.raises(TypeError, match="`operator`"):
        ConceptImportance(head, bank, "saliency", operator=3)
    with pytest.raises(TypeError, match="`seed`"):
        ConceptImportance(head, bank, "rise", seed=1.5)
    with pytest.raises(ValueError, match="`preservation_probability`"):
        ConceptImportance(head, bank, "rise", preservation_probability=0.0)
    with pytest.raises(TypeError, match="`steps`"):
        ConceptImportance(head, bank, "integrated_gradients", steps=2.5)


def test_seed_none_draws_fresh_randomness(linear_space):
    head, bank, _, codes, labels, _ = linear_space
    fresh = ConceptImportance(head, bank, "rise", nb_samples=40, seed=None)
    assert not np.allclose(fresh(codes, labels).numpy(), fresh(codes, labels).numpy())
    seeded = ConceptImportance(head, bank, "rise", nb_samples=40)  # default seed=0
    np.testing.assert_array_equal(seeded(codes, labels).numpy(), seeded(codes, labels).numpy())


def test_from_craft_needs_a_fitted_craft():
    from xplique_lens.commons.validation import NotFittedError

    class Unfitted:
        batch_size = 8

    with pytest.raises(NotFittedError, match=r"not fitted yet .*craft\.fit"):
        ConceptImportance.from_craft(Unfitted())
