"""C-Deletion / C-Insertion / C-MuFidelity: Gradient x Input optimality on a linear head, the
true order against random ones on the built-in model, curve end points, invariances, errors."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.commons import split_model
from xplique_lens.concepts import NMF, CDeletion, CInsertion, CMuFidelity, ConceptImportance
from xplique_lens.concepts.importance import METHODS

from ..numerics import assert_close

R = 5


@pytest.fixture(scope="module")
def linear_space():
    rng = np.random.default_rng(3)
    bank = rng.normal(size=(R, 7)).astype(np.float32)
    kernel = rng.normal(size=(7, 3)).astype(np.float32)
    bias = np.array([0.5, -1.0, 2.0], np.float32)
    codes = rng.random((6, R)).astype(np.float32)
    labels = np.array([0, 1, 2, 2, 1, 0])

    def head(a):
        return tf.matmul(a, kernel) + bias

    return head, bank, codes, labels


@pytest.fixture(scope="module")
def builtin_space(reference_model, small_data):
    """NMF (8 concepts) of the built-in model's "features" layer; spatial codes (N, 16, 16, 8)."""
    g, h = split_model(reference_model, "features")
    activations = np.asarray(g(small_data.images))
    nmf = NMF(8).fit(activations.reshape(-1, 64))
    codes = nmf.transform(activations.reshape(-1, 64)).reshape(*activations.shape[:3], 8)
    return h, nmf.components_, codes, small_data.labels


def _per_image_areas(metric, importances):
    curves = metric.detailed_evaluate(importances)
    return (curves[:, 1:] + curves[:, :-1]).sum(1) / (2.0 * (curves.shape[1] - 1))


def test_gradient_input_is_optimal_on_a_linear_head(linear_space):
    """The paper's result: with h linear, Gradient x Input gives the best C-Deletion (lowest)
    and C-Insertion (highest) area of all R! orders, for every image."""
    head, bank, codes, labels = linear_space
    deletion = CDeletion(head, codes, bank, labels)
    insertion = CInsertion(head, codes, bank, labels)
    gxi = ConceptImportance(head, bank, "gradient_input")(codes, labels).numpy()
    best_deletion = _per_image_areas(deletion, gxi)
    best_insertion = _per_image_areas(insertion, gxi)
    for order in itertools.permutations(range(R)):
        importances = np.tile(-np.argsort(order).astype(np.float32), (len(codes), 1))
        assert np.all(best_deletion <= _per_image_areas(deletion, importances) + 1e-5)
        assert np.all(best_insertion >= _per_image_areas(insertion, importances) - 1e-5)
    # and C-MuFidelity is exactly 1: a removed subset drops the score by its contributions
    assert CMuFidelity(head, codes, bank, labels, nb_samples=64).evaluate(gxi) == pytest.approx(
        1.0, abs=1e-5
    )


def test_curve_end_points_and_steps(linear_space):
    head, bank, codes, labels = linear_space
    full = np.asarray(head(codes @ bank))[np.arange(6), labels]
    empty = np.asarray(head(np.zeros((1, 7), np.float32)))[0, labels]
    importances = np.random.default_rng(0).random((6, R))
    curves = CDeletion(head, codes, bank, labels).detailed_evaluate(importances)
    assert curves.shape == (6, R + 1)
    # the head's outputs, batched differently: errors scale with the largest output, not each
    # (seen: 3.6e-7 on a 0.0046 entry)
    scale = np.abs(full).max()
    assert_close(curves[:, 0], full, scale=scale)
    assert_close(curves[:, -1], empty, scale=scale)
    inserted = CInsertion(head, codes, bank, labels).detailed_evaluate(importances)
    assert_close(inserted[:, 0], empty, scale=scale)
    assert_close(inserted[:, -1], full, scale=scale)
    coarse = CDeletion(head, codes, bank, labels, steps=2).detailed_evaluate(importances)
    assert coarse.shape == (6, 3)
    assert_close(coarse[:, 1], curves[:, 3], scale=scale)  # ceil(5 / 2) removed


def test_only_the_order_matters(linear_space):
    head, bank, codes, labels = linear_space
    importances = np.random.default_rng(1).normal(size=(6, R)).astype(np.float32)
    metric = CDeletion(head, codes, bank, labels)
    assert metric(importances) == pytest.approx(metric(np.exp(3.0 * importances) + 7.0))


def test_true_order_beats_random_orders_on_the_builtin_model(builtin_space):
    """On the built-in model (h = pooling + dense, so the exact contributions of the concepts
    are known), removing concepts in the true order deletes the logit faster than random
    orders, and inserting them in that order restores it faster."""
    h, bank, codes, labels = builtin_space
    deletion, insertion = CDeletion(h, codes, bank, labels), CInsertion(h, codes, bank, labels)
    kernel = h.get_layer("logits").kernel.numpy()
    truth = codes.sum(axis=(1, 2)) / 256.0 * (bank @ kernel)[:, labels].T
    rng = np.random.default_rng(0)
    randoms = [rng.random(truth.shape) for _ in range(8)]
    assert deletion(truth) < min(deletion(r) for r in randoms)
    assert insertion(truth) > max(insertion(r) for r in randoms)
    for method in METHODS:  # every estimator beats the mean random order on both metrics
        params = {"nb_samples": 256} if method in ("rise", "smoothgrad") else {}
        importances = ConceptImportance(h, bank, method, **params)(codes, labels)
        assert deletion(importances) < np.mean([deletion(r) for r in randoms]), method
        assert insertion(importances) > np.mean([insertion(r) for r in randoms]), method


def test_mufidelity_prefers_true_importances(linear_space):
    head, bank, codes, labels = linear_space
    metric = CMuFidelity(head, codes, bank, labels, nb_samples=128, seed=2)
    gxi = ConceptImportance(head, bank, "gradient_input")(codes, labels)
    noise = np.random.default_rng(0).normal(size=(6, R))
    assert metric(gxi) > metric(noise)
    assert metric(gxi) == CMuFidelity(head, codes, bank, labels, nb_samples=128, seed=2)(gxi)


def test_bad_inputs_get_clear_errors(linear_space):
    head, bank, codes, labels = linear_space
    metric = CDeletion(head, codes, bank, labels)
    with pytest.raises(ValueError, match=r"\(6, 5\)"):
        metric(np.ones((6, 4)))
    with pytest.raises(ValueError, match="NaN"):
        metric(np.full((6, R), np.nan))
    with pytest.raises(ValueError, match="steps"):
        CDeletion(head, codes, bank, labels, steps=R + 1)
    with pytest.raises(ValueError, match="subset_percent"):
        CMuFidelity(head, codes, bank, labels, subset_percent=1.5)
    with pytest.raises(ValueError, match="concept bank has 5"):
        CInsertion(head, codes[:, :3], bank, labels)
    with pytest.raises(ValueError, match="labels must lie"):
        CInsertion(head, codes, bank, labels + 5)


@pytest.mark.parametrize(
    ("cls", "settings", "error", "match"),
    [
        (CDeletion, {"steps": 0}, ValueError, "steps"),
        (CInsertion, {"steps": 1.5}, TypeError, "steps"),
        (CDeletion, {"baseline_mode": "zero"}, TypeError, "baseline_mode"),
        (CDeletion, {"batch_size": 0}, ValueError, "batch_size"),
        (CInsertion, {"activation": "relu"}, ValueError, "activation"),
        (CMuFidelity, {"subset_percent": 0.0}, ValueError, "subset_percent"),
        (CMuFidelity, {"subset_percent": 1.0}, ValueError, "subset_percent"),
        (CMuFidelity, {"nb_samples": 1}, ValueError, "nb_samples"),
        (CMuFidelity, {"seed": "0"}, TypeError, "seed"),
        (CMuFidelity, {"correlation": "kendall"}, ValueError, "correlation"),
    ],
)
def test_constructors_validate_every_argument(linear_space, cls, settings, error, match):
    head, bank, codes, labels = linear_space
    with pytest.raises(error, match=match):
        cls(head, codes, bank, labels, **settings)


def test_mufidelity_twins_share_subsets_and_correlations(linear_space):
    """C-MuFidelity is lazy, Pearson by default (Bhatt et al.), Spearman on request (Xplique's
    MuFidelity), with the subsets of the pixel MuFidelity's kernel."""
    from scipy.stats import spearmanr

    from xplique_lens.metrics.perturbation import keep_masks

    head, bank, codes, labels = linear_space
    metric = CMuFidelity(head, codes, bank, labels, nb_samples=32, seed=5)
    assert metric._drops is None  # nothing scored before the first evaluation
    np.testing.assert_array_equal(metric._masks.numpy(), keep_masks((32, R), 0.2, 5).numpy())
    importances = np.random.default_rng(1).normal(size=(6, R)).astype(np.float32)
    sums = importances.astype(np.float64) @ (1.0 - metric._masks.numpy().astype(np.float64)).T
    pearson = [np.corrcoef(sums[i], metric.drops_[i])[0, 1] for i in range(6)]
    assert_close(metric.detailed_evaluate(importances), pearson, rel=1e-9)
    ranked = CMuFidelity(head, codes, bank, labels, nb_samples=32, seed=5, correlation="spearman")
    spearman = [spearmanr(sums[i], metric.drops_[i])[0] for i in range(6)]
    assert_close(ranked.detailed_evaluate(importances), spearman, rel=1e-9)
