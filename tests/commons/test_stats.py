"""The shared statistics kernels against numpy / scipy references."""

import warnings

import numpy as np
import pytest
import tensorflow as tf
from scipy import linalg
from scipy.stats import pearsonr, spearmanr

from xplique_lens.commons.stats import (
    check_correlation,
    frechet_distance,
    knn_distances,
    pearson_rows,
    spearman_rows,
    trapezoid_auc,
)

from ..numerics import assert_close


def _frechet_reference(a: np.ndarray, b: np.ndarray) -> float:
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        root = np.real(linalg.sqrtm(cov_a @ cov_b))
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a + cov_b - 2 * root))


def test_frechet_distance_matches_the_sqrtm_formula(rng):
    a = rng.normal(size=(200, 5))
    b = rng.normal(loc=1.0, scale=2.0, size=(150, 5))
    expected = _frechet_reference(a, b)
    assert_close(frechet_distance(a, b), expected, rel=1e-9)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_analytic_and_degenerate(rng):
    a = rng.normal(size=(20000, 1))
    b = rng.normal(loc=2.0, scale=2.0, size=(20000, 1))
    # |mu|^2 + (s_a - s_b)^2 = 4 + 1 for 1-D Gaussians
    assert frechet_distance(a, b) == pytest.approx(5.0, rel=0.03)
    assert frechet_distance(a[:, 0], b[:, 0]) == frechet_distance(a, b)  # (n,) is (n, 1)
    single = frechet_distance(np.ones((1, 3)), np.zeros((1, 3)))  # no covariance: the means
    assert single == pytest.approx(3.0)
    one_hot = np.eye(4)[rng.integers(0, 4, 50)]  # singular covariance
    assert np.isfinite(frechet_distance(one_hot, one_hot + 0.01))
    with pytest.raises(ValueError, match="features_a"):
        frechet_distance(np.ones((3, 2)), np.ones((3, 4)))


def _knn_reference(queries, bank, k, skip_self):
    distances = np.linalg.norm(queries[:, None] - bank[None], axis=-1)
    nearest = np.sort(distances, axis=1)
    return nearest[:, 1 : k + 1] if skip_self else nearest[:, :k]


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("batch_size", [None, 7])
def test_knn_distances_match_brute_force(rng, k, batch_size):
    bank = rng.normal(size=(40, 6)).astype("float32")
    queries = rng.normal(size=(25, 6)).astype("float32")
    expected = _knn_reference(queries.astype(np.float64), bank.astype(np.float64), k, False)
    ours = knn_distances(queries, bank, k, batch_size=batch_size).numpy()
    assert_close(ours, expected.mean(1), rel=1e-9)
    loo = knn_distances(bank, bank, k, skip_self=True, batch_size=batch_size).numpy()
    expected = _knn_reference(bank.astype(np.float64), bank.astype(np.float64), k, True)
    assert_close(loo, expected.mean(1), rel=1e-6)
    assert_close(knn_distances(tf.constant(bank), bank, 1), np.zeros(len(bank)), scale=1.0)
    with pytest.raises(ValueError, match="bank"):
        knn_distances(queries, bank[:2], k=2, skip_self=True)


def test_correlations_match_scipy_with_ties(rng):
    a = rng.integers(0, 5, size=(6, 40)).astype("float32")  # many ties
    b = rng.normal(size=(6, 40)).astype("float32")
    b[1] = a[1] * 2.0
    a64, b64 = a.astype(np.float64), b.astype(np.float64)  # scipy keeps float32 inputs' dtype
    assert_close(pearson_rows(a, b), [pearsonr(a64[i], b64[i])[0] for i in range(6)], rel=1e-10)
    assert_close(spearman_rows(a, b), [spearmanr(a64[i], b64[i])[0] for i in range(6)], rel=1e-10)
    assert spearman_rows(a, b)[1] == pytest.approx(1.0)
    # rows of more axes are flattened; 1-D is one row
    assert_close(pearson_rows(a.reshape(6, 4, 10), b.reshape(6, 4, 10)), pearson_rows(a, b))
    assert pearson_rows(a[0], b[0]).shape == (1,)


def test_correlations_of_constant_rows_are_zero():
    constant = np.full((2, 5), 0.1)  # the mean of 0.1s is not exactly 0.1
    other = np.arange(10.0).reshape(2, 5)
    np.testing.assert_array_equal(pearson_rows(constant, other), 0.0)
    np.testing.assert_array_equal(spearman_rows(other, constant), 0.0)
    with pytest.raises(ValueError, match="same shape"):
        pearson_rows(other, other[:, :3])
    assert check_correlation("pearson") == "pearson"
    with pytest.raises(ValueError, match="correlation"):
        check_correlation("kendall")


def test_trapezoid_auc_matches_numpy(rng):
    curves = rng.normal(size=(4, 11))
    expected = np.trapezoid(curves, dx=1.0 / 10, axis=-1)
    assert_close(trapezoid_auc(curves), expected, rel=1e-12)
    assert trapezoid_auc([1.0, 1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="curve"):
        trapezoid_auc([1.0])
