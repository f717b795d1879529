"""Concept-extraction metrics: Eckart-Young, one-hot KMeans, perfect self-stability, FID / OOD
limits, the comparison table, errors."""

import numpy as np
import pytest

from xplique_lens.commons import split_model
from xplique_lens.concepts import (
    NMF,
    PCA,
    KMeans,
    compare_extractors,
    dictionary_distance,
    fid,
    reconstruction_error,
    reconstruction_ood_score,
    sparsity,
    stability,
)
from xplique_lens.concepts.metrics import format_table


@pytest.fixture(scope="module")
def activations(reference_model, small_data):
    """600 spatial positions of the built-in model's "features" layer (non-negative, p=64)."""
    g, _ = split_model(reference_model, "features")
    matrix = np.asarray(g(small_data.images)).reshape(-1, 64)
    rows = np.random.default_rng(0).choice(len(matrix), 600, replace=False)
    return matrix[rows]


@pytest.fixture(scope="module")
def table(activations):
    return compare_extractors(
        activations,
        n_components=6,
        metrics=("reconstruction_error", "sparsity_l0", "sparsity_hoyer", "fid", "ood"),
    )


def test_pca_has_the_lowest_reconstruction_error_at_equal_rank(table):
    errors = {name: row["reconstruction_error"] for name, row in table.items()}
    assert set(errors) == {"NMF", "PCA", "ICA", "KMeans", "SparseCoding"}
    for name, error in errors.items():
        assert errors["PCA"] <= error + 1e-4, (name, errors)
    assert errors["KMeans"] > errors["NMF"] > errors["PCA"]


def test_kmeans_codes_are_one_hot_and_maximally_sparse(activations, table):
    codes = KMeans(6).fit_transform(activations)
    assert set(np.unique(codes)) == {0.0, 1.0}
    np.testing.assert_array_equal(codes.sum(1), 1.0)
    assert sparsity(codes, "l0") == pytest.approx(5 / 6)
    assert sparsity(codes, "hoyer") == pytest.approx(1.0)
    for name, row in table.items():
        assert row["sparsity_hoyer"] <= table["KMeans"]["sparsity_hoyer"] + 1e-6, name
        assert row["sparsity_l0"] <= table["KMeans"]["sparsity_l0"] + 1e-6, name


def test_sparsity_closed_forms():
    assert sparsity(np.ones((3, 4)), "hoyer") == pytest.approx(0.0)
    assert sparsity(np.ones((3, 4)), "l0") == 0.0
    assert sparsity(np.array([[0.0, 2.0, 0.0, 0.0]]), "hoyer") == pytest.approx(1.0)
    assert sparsity(np.array([[1.0, 1.0, 0.0, 0.0]]), "l0") == 0.5


def test_stability_of_a_dictionary_with_itself_is_perfect(activations):
    bank = NMF(6).fit(activations).components_
    assert dictionary_distance(bank, bank) == pytest.approx(0.0, abs=1e-6)
    permuted = -3.0 * bank[[4, 2, 0, 5, 1, 3]]  # order, sign and scale do not matter
    assert dictionary_distance(bank, permuted) == pytest.approx(0.0, abs=1e-6)
    assert dictionary_distance(bank, permuted, metric="l2") == pytest.approx(0.0, abs=1e-5)
    other = np.random.default_rng(0).normal(size=bank.shape)
    assert dictionary_distance(bank, other) > 0.3
    # the same data every time (fraction=1) gives the same deterministic dictionary
    assert stability(PCA(6), activations, n_resamples=2, fraction=1.0) == pytest.approx(
        0.0, abs=1e-5
    )
    resampled = stability(PCA(6), activations, n_resamples=3, fraction=0.5, seed=1)
    assert 0.0 < resampled < 0.5
    assert resampled == stability(PCA(6), activations, n_resamples=3, fraction=0.5, seed=1)


def test_fid_and_ood_limits(activations):
    rng = np.random.default_rng(0)
    assert fid(activations, activations) == pytest.approx(0.0, abs=1e-3)
    assert reconstruction_ood_score(activations, activations) == pytest.approx(0.0, abs=1e-3)
    scale = activations.std()
    small = activations + 0.1 * scale * rng.normal(size=activations.shape)
    large = activations + 2.0 * scale * rng.normal(size=activations.shape)
    assert fid(activations, small) < fid(activations, large)
    assert reconstruction_ood_score(activations, small) < reconstruction_ood_score(
        activations, large
    )
    assert reconstruction_ood_score(activations, large) > 1.0
    extractor = PCA(6).fit(activations)
    assert reconstruction_error(activations, extractor) == pytest.approx(
        reconstruction_error(
            activations, extractor.inverse_transform(extractor.transform(activations))
        ),
        rel=1e-5,
    )


def test_fid_feature_space_is_pluggable(activations):
    def doubled(batch):
        return 2.0 * batch

    plain = fid(activations, activations + 0.1)
    assert fid(activations, activations + 0.1, feature_fn=doubled) == pytest.approx(
        4.0 * plain, rel=1e-3
    )


def test_table_format(table):
    text = format_table(table)
    assert text.splitlines()[0].startswith("| extractor | reconstruction_error ↓")
    assert len(text.splitlines()) == 2 + len(table)


def test_bad_inputs_get_clear_errors(activations):
    with pytest.raises(ValueError, match="2-D"):
        reconstruction_error(activations[None], activations[None])
    with pytest.raises(ValueError, match="must match"):
        reconstruction_error(activations, activations[:10])
    with pytest.raises(ValueError, match="all zero"):
        reconstruction_error(np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="method"):
        sparsity(activations, "l1")
    with pytest.raises(ValueError, match="same shape"):
        dictionary_distance(np.ones((3, 4)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="fraction"):
        stability(PCA(2), activations, fraction=0.0)
    with pytest.raises(ValueError, match="metrics"):
        compare_extractors(activations, metrics=("accuracy",))
    with pytest.raises(ValueError, match="NaN"):
        fid(np.full((4, 2), np.nan), np.ones((4, 2)))
    with pytest.raises(ValueError, match="k=3"):
        reconstruction_ood_score(activations[:3], activations[:3], k=3)


def test_ood_score_is_a_deprecated_alias(activations):
    from xplique_lens.concepts.metrics import ood_score

    with pytest.warns(DeprecationWarning, match="reconstruction_ood_score"):
        value = ood_score(activations, activations)
    assert value == reconstruction_ood_score(activations, activations)
