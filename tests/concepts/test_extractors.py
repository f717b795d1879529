import numpy as np
import pytest
import tensorflow as tf
from sklearn.decomposition import NMF as SkNMF

from xplique_lens.concepts import ICA, NMF, PCA, KMeans, NotFittedError, SparseCoding
from xplique_lens.concepts.extractors import nnls_bpp, nnls_hals, nnls_jacobian
from xplique_lens.concepts.extractors.nnls import make_differentiable_nnls


def test_nmf_recovers_an_exact_low_rank_factorisation(rng):
    u, w = rng.random((300, 4)), rng.random((4, 20))
    a = (u @ w).astype(np.float32)
    nmf = NMF(4, max_iter=2000, tol=1e-9).fit(a)
    codes = nmf.transform(a)
    assert np.all(codes >= 0) and np.all(nmf.components_ >= 0)
    rel = np.linalg.norm(a - codes @ nmf.components_) / np.linalg.norm(a)
    assert rel < 1e-2


# the reference is scikit-learn at its default 200 iterations, converged or not
@pytest.mark.filterwarnings("ignore:Maximum number of iterations")
@pytest.mark.parametrize("rank", [10, 20])
def test_nmf_no_worse_than_sklearn_on_model_activations(features_activations, rank):
    a = features_activations
    ours = NMF(rank).fit(a)
    sk = SkNMF(rank, max_iter=200, random_state=0).fit(a)
    sk_error = np.linalg.norm(a - sk.transform(a) @ sk.components_)
    our_error = np.linalg.norm(a - ours.transform(a) @ ours.components_)
    assert ours.reconstruction_err_ <= sk.reconstruction_err_ * 1.001
    assert our_error <= sk_error * 1.001


def test_nmf_is_deterministic(features_activations):
    a = features_activations[:2000]
    w1 = NMF(6).fit(a).components_
    w2 = NMF(6).fit(a).components_
    np.testing.assert_array_equal(w1, w2)


def test_nmf_refit_encodes_with_the_new_components(rng):
    first, second = rng.random((50, 8)), rng.random((50, 8)) ** 3
    nmf = NMF(3)
    nmf.fit(first.astype(np.float32)).transform(first.astype(np.float32))
    codes = nmf.fit_transform(second.astype(np.float32))
    np.testing.assert_allclose(nmf.transform(second.astype(np.float32)), codes, atol=5e-3)


def test_nmf_encoder_first_built_inside_a_tf_function(features_activations):
    a = features_activations[:500]
    nmf = NMF(4).fit(a)
    traced = tf.function(nmf.tf_transform)(tf.constant(a))
    np.testing.assert_allclose(nmf.transform(a), traced.numpy(), atol=1e-5)


@pytest.mark.parametrize("solver", ["bpp", "hals"])
def test_nnls_satisfies_kkt(rng, solver):
    w = rng.random((6, 30)).astype(np.float32)
    a = rng.random((50, 30)).astype(np.float32)
    if solver == "bpp":
        u = nnls_bpp(tf.constant(a), tf.constant(w)).numpy()
    else:
        u = nnls_hals(tf.constant(a), tf.constant(w), 2000, 1e-10).numpy()
    grad = (u @ w - a) @ w.T  # gradient of 0.5 ||a - u W||^2
    assert np.all(u >= 0)
    assert np.all(grad > -1e-3)  # dual feasibility
    assert np.abs(u * grad).max() < 1e-3  # complementary slackness


def test_nnls_bpp_is_exact_on_hard_rows(rng):
    """Ill-conditioned dictionary (near-duplicate rows, norms 1e-2..1e4), zero and negative
    activations: same codes as a long HALS run, in a few exchanges."""
    w = rng.random((8, 40))
    w[7] = w[6] + 1e-3 * rng.random(40)  # near-duplicate concepts
    w = (w * np.logspace(-2, 4, 8)[:, None]).astype(np.float32)
    a = rng.random((200, 40)).astype(np.float32) * rng.random((200, 1)).astype(np.float32)
    a[0] = 0.0
    a[1] = -a[1]  # no non-negative code explains it: all codes 0
    exact = nnls_bpp(tf.constant(a), tf.constant(w)).numpy()
    slow = nnls_hals(tf.constant(a), tf.constant(w), 20000, 1e-12).numpy()
    norms = np.linalg.norm(w, axis=1)

    def loss(u):
        return np.sum((a - u @ w) ** 2, axis=1)

    assert np.all(exact >= 0) and np.all(exact[:2] == 0)
    assert np.all(loss(exact) <= loss(slow) * (1 + 1e-4) + 1e-5)
    # unit-row codes agree, except along the near-duplicate pair (a flat valley)
    np.testing.assert_allclose(exact[:, :6] * norms[:6], slow[:, :6] * norms[:6], atol=2e-3)
    # one exchange is not enough on these rows (three are): capped, the codes stay usable
    capped = nnls_bpp(tf.constant(a), tf.constant(w), 1).numpy()
    assert np.all(capped >= 0) and np.all(np.isfinite(capped))
    assert not np.allclose(capped, exact)


@pytest.mark.parametrize("row_scales", [None, (1e-1, 1.0, 1e2, 1e4, 1e6)])
def test_nnls_implicit_jacobian_matches_finite_differences_and_euler(rng, row_scales):
    """Also with concept rows whose norms span 7 orders of magnitude, as HALS returns them."""
    scales = np.ones(5) if row_scales is None else np.asarray(row_scales)
    w = (rng.random((5, 12)) * scales[:, None]).astype(np.float32)
    a = rng.random((8, 12)).astype(np.float32)
    solve = lambda x: nnls_hals(tf.constant(x), tf.constant(w), 5000, 1e-12).numpy()  # noqa: E731
    u = solve(a)
    jac = nnls_jacobian(tf.constant(u), tf.constant(w)).numpy()  # (n, r, p)
    # compare codes in the unit-row basis (u_k ||w_k||), where all concepts have one scale
    norms = np.linalg.norm(w, axis=1)
    # Euler: the code is positively homogeneous, so J a = u
    np.testing.assert_allclose(np.einsum("nrp,np->nr", jac, a) * norms, u * norms, atol=2e-3)
    eps = 1e-3
    direction = rng.normal(size=a.shape).astype(np.float32)
    numeric = (solve(a + eps * direction) - solve(a - eps * direction)) / (2 * eps)
    analytic = np.einsum("nrp,np->nr", jac, direction)
    np.testing.assert_allclose(analytic * norms, numeric * norms, atol=2e-2)
    # the gradient of the differentiable encoder is the same Jacobian (vector-Jacobian product)
    encode = make_differentiable_nnls(w, 5000, 1e-12)
    seed = rng.random((8, 5)).astype(np.float32)
    x = tf.constant(a)
    with tf.GradientTape() as tape:
        tape.watch(x)
        codes = encode(x)
    vjp = tape.gradient(codes, x, output_gradients=tf.constant(seed / norms))
    np.testing.assert_allclose(vjp.numpy(), np.einsum("nr,nrp->np", seed / norms, jac), atol=1e-3)


def test_nmf_errors(rng):
    with pytest.raises(ValueError, match="non-negative"):
        NMF(2).fit(rng.normal(size=(20, 5)).astype(np.float32))
    with pytest.raises(ValueError, match="larger than the number of features"):
        NMF(8).fit(rng.random((20, 5)).astype(np.float32))
    with pytest.raises(ValueError, match="2-D"):
        NMF(2).fit(rng.random((4, 5, 5)).astype(np.float32))
    with pytest.raises(TypeError, match="floating"):
        NMF(2).fit(np.ones((4, 5), dtype=np.uint8))
    with pytest.raises(NotFittedError):
        NMF(2).transform(rng.random((4, 5)).astype(np.float32))
    fitted = NMF(2).fit(rng.random((20, 5)).astype(np.float32))
    with pytest.raises(ValueError, match="features"):
        fitted.transform(rng.random((4, 6)).astype(np.float32))


@pytest.mark.parametrize("cls", [PCA, ICA, KMeans, SparseCoding])
def test_sklearn_extractors_reconstruct_and_match_shapes(cls, features_activations):
    a = features_activations[:1500]
    extractor = cls(6)
    codes = extractor.fit_transform(a)
    assert codes.shape == (1500, 6) and extractor.components_.shape == (6, 64)
    np.testing.assert_allclose(extractor.transform(a[:10]), codes[:10], rtol=1e-3, atol=1e-3)
    rec = extractor.inverse_transform(codes)
    rel = np.linalg.norm(a - rec) / np.linalg.norm(a)
    assert rel < 0.9  # better than predicting zero
    if extractor.differentiable:
        tf_codes = extractor.tf_transform(tf.constant(a[:10])).numpy()
        np.testing.assert_allclose(tf_codes, codes[:10], rtol=1e-3, atol=1e-3)


@pytest.mark.filterwarnings("ignore:Maximum number of iterations")
@pytest.mark.parametrize("alpha", [0.01, 0.1])
def test_nmf_ridge_matches_sklearn_alpha_w(alpha):
    """`alpha` is scikit-learn's `alpha_W` (alpha_H "same", l1_ratio 0): the same penalised
    objective, reached as well, and a shrunk dictionary."""
    rng = np.random.default_rng(0)
    a = (rng.random((200, 12)) ** 3).astype(np.float32)
    n, p = a.shape

    def objective(u, w):
        u, w = np.asarray(u, np.float64), np.asarray(w, np.float64)
        reconstruction = 0.5 * np.sum((a - u @ w) ** 2)
        return reconstruction + 0.5 * alpha * (p * np.sum(u**2) + n * np.sum(w**2))

    ours = NMF(4, alpha=alpha, max_iter=1000, tol=1e-8)
    codes = ours.fit_transform(a)
    reference = SkNMF(4, alpha_W=alpha, init="nndsvda", max_iter=1000, tol=1e-8)
    ref_codes = reference.fit_transform(a)
    assert objective(codes, ours.components_) <= 1.01 * objective(ref_codes, reference.components_)
    plain = NMF(4, max_iter=1000, tol=1e-8).fit(a)
    assert np.linalg.norm(ours.components_) < 0.9 * np.linalg.norm(plain.components_)
    with pytest.raises(ValueError, match="alpha"):
        NMF(4, alpha=-1.0)
