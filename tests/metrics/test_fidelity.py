"""Deletion, Insertion and MuFidelity: closed forms on a linear model, Xplique cross-checks."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import spearmanr

from xplique_lens.metrics import CausalFidelity, Deletion, Insertion, MuFidelity
from xplique_lens.metrics.fidelity import feature_ranks, spearman_rows
from xplique_lens.metrics.stability.spearman import average_ranks


def _linear_model(rng: np.random.Generator, side: int) -> tuple[keras.Model, np.ndarray]:
    """f(x) = x_flat @ W (no bias) on side x side x 1 images, 2 outputs; the model and W."""
    weights = rng.normal(size=(side * side, 2)).astype("float32")
    model = keras.Sequential([keras.Input((side, side, 1)), keras.layers.Flatten()])
    model.add(keras.layers.Dense(2, use_bias=False))
    model.layers[-1].set_weights([weights])
    return model, weights


@pytest.fixture(scope="module")
def linear():
    """The linear model on 6x6x1 images; inputs, targets, weights."""
    rng = np.random.default_rng(3)
    model, weights = _linear_model(rng, 6)
    inputs = rng.uniform(size=(5, 6, 6, 1)).astype("float32")
    labels = np.array([0, 1, 0, 1, 1])
    return model, inputs, labels, weights


def _contributions(inputs, labels, weights):
    return inputs.reshape(len(inputs), -1) * weights[:, labels].T  # (N, 36)


def test_deletion_curve_closed_form(linear):
    model, x, labels, w = linear
    contrib = _contributions(x, labels, w)
    phi = contrib.reshape(x.shape)  # gradient x input, exact for a linear model
    metric = Deletion(model, x, labels, batch_size=7, steps=6)
    curves = metric.curves(phi)
    flipped = np.linspace(0, 36, 7).astype(int)
    ordered = -np.sort(-contrib, axis=1)
    expected = contrib.sum(1, keepdims=True) - np.stack(
        [ordered[:, :k].sum(1) for k in flipped], axis=1
    )
    np.testing.assert_allclose(curves, expected, atol=1e-4)
    mean = expected.mean(0)
    assert metric.evaluate(phi) == pytest.approx(np.mean(mean[:-1] + mean[1:]) / 2, abs=1e-5)
    assert list(metric.detailed_evaluate(phi)) == list(flipped)


def test_insertion_curve_closed_form_with_baseline(linear):
    model, x, labels, w = linear
    contrib = _contributions(x, labels, w)
    base = 0.25
    metric = Insertion(model, x, labels, baseline_mode=base, steps=4)
    curves = metric.curves(contrib.reshape(x.shape))
    # score = sum over inserted pixels of w x + sum over the others of w * base
    wt = w[:, labels].T
    order = np.argsort(-contrib, axis=1)
    for n in range(len(x)):
        for j, k in enumerate(np.linspace(0, 36, 5).astype(int)):
            inserted = np.zeros(36, bool)
            inserted[order[n, :k]] = True
            expected = (contrib[n] * inserted).sum() + (wt[n] * base * ~inserted).sum()
            assert curves[n, j] == pytest.approx(expected, abs=1e-4)


def test_patch_granularity_closed_form(linear):
    model, x, labels, w = linear
    contrib = _contributions(x, labels, w).reshape(5, 6, 6)
    patches = contrib.reshape(5, 3, 2, 3, 2).sum(axis=(2, 4)).reshape(5, 9)
    metric = Deletion(model, x, labels, steps=9, patch_size=2)
    assert metric.nb_features == 9
    ordered = -np.sort(-patches, axis=1)
    expected = patches.sum(1, keepdims=True) - np.cumsum(
        np.concatenate([np.zeros((5, 1)), ordered], 1), 1
    )
    np.testing.assert_allclose(metric.curves(contrib), expected, atol=1e-4)


def test_batch_size_and_input_types_do_not_change_the_score(reference_model, small_data):
    x, y = small_data.images[:6], small_data.one_hot()[:6]
    phi = np.random.default_rng(0).normal(size=x.shape[:3]).astype("float32")
    ref = Deletion(reference_model, x, y, batch_size=64).evaluate(phi)
    assert Deletion(reference_model, x, y, batch_size=5).evaluate(phi) == pytest.approx(ref)
    assert Deletion(reference_model, tf.constant(x), small_data.labels[:6]).evaluate(
        phi[..., None]
    ) == pytest.approx(ref, abs=1e-6)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    assert Deletion(reference_model, dataset).evaluate(phi) == pytest.approx(ref, abs=1e-6)


def test_steps_minus_one_and_max_percentage(linear):
    model, x, labels, _ = linear
    metric = Deletion(model, x, labels, steps=-1, max_percentage_perturbed=0.5)
    np.testing.assert_array_equal(metric.steps_, np.arange(19))
    phi = np.random.default_rng(1).normal(size=x.shape)
    assert metric.curves(phi.astype("float32")).shape == (5, 19)


def test_callable_baselines_of_every_kind(linear):
    model, x, labels, _ = linear
    phi = np.random.default_rng(2).normal(size=x.shape).astype("float32")

    def grey(inputs, value=0.3):
        return tf.fill(tf.shape(inputs), value)

    class Grey:
        def __call__(self, inputs):
            return grey(inputs)

    ref = Deletion(model, x, labels, baseline_mode=0.3).evaluate(phi)
    for mode in (grey, functools.partial(grey, value=0.3), Grey(), "constant"):
        value = Deletion(model, x, labels, baseline_mode=mode).evaluate(phi)
        expected = (
            ref
            if mode != "constant"
            else Deletion(model, x, labels, baseline_mode=0.5).evaluate(phi)
        )
        assert value == pytest.approx(expected, abs=1e-5)
    assert Deletion(model, x, labels, baseline_mode="constant").evaluate(phi) != pytest.approx(ref)


def test_inputs_are_not_mutated(linear):
    model, x, labels, _ = linear
    x_copy, phi = x.copy(), np.ones(x.shape, "float32")
    Insertion(model, x, labels, baseline_mode="blur").evaluate(phi)
    np.testing.assert_array_equal(x, x_copy)


def test_clear_errors(linear):
    model, x, labels, _ = linear
    metric = Deletion(model, x, labels)
    with pytest.raises(ValueError, match="one explanation per input"):
        metric.evaluate(np.zeros((4, 6, 6), "float32"))
    with pytest.raises(ValueError, match="explanations"):
        metric.evaluate(np.zeros((5, 5, 6), "float32"))
    with pytest.raises(ValueError, match="Unknown `baseline_mode` 'zeros'"):
        Deletion(model, x, labels, baseline_mode="zeros").evaluate(np.zeros((5, 6, 6)))
    with pytest.raises(ValueError, match="baseline_mode"):
        Deletion(model, x, labels, baseline_mode=lambda i: i[:2, :3]).evaluate(
            np.zeros((5, 6, 6), "float32")
        )
    with pytest.raises(ValueError, match="max_percentage_perturbed"):
        Deletion(model, x, labels, max_percentage_perturbed=0.0)
    with pytest.raises(ValueError, match="steps"):
        Insertion(model, x, labels, steps=0)
    with pytest.raises(TypeError, match="baseline_mode"):
        Deletion(model, x, labels, baseline_mode=[0.0]).evaluate(np.zeros((5, 6, 6), "float32"))
    with pytest.raises(ValueError, match="subset_percent"):
        MuFidelity(model, x, labels, subset_percent=1.5)


def test_feature_ranks_break_ties_like_xplique():
    scores = tf.constant([[0.5, 1.0, 0.5, 0.2, 1.0]])
    xplique_order = np.argsort(scores.numpy(), axis=-1, kind="stable")[:, ::-1]
    ranks = feature_ranks(scores).numpy()
    np.testing.assert_array_equal(np.argsort(ranks, axis=1), xplique_order)


# --------------------------------------------------------------------------- MuFidelity


def test_spearman_rows_matches_scipy_with_ties():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=(4, 30)).astype("float32")
    b = rng.normal(size=(4, 30)).astype("float32")
    b[1] = a[1] * 2.0
    expected = [spearmanr(a[i], b[i])[0] for i in range(4)]
    np.testing.assert_allclose(spearman_rows(a, b), expected, atol=1e-10)
    np.testing.assert_allclose(average_ranks(tf.constant([[3.0, 1.0, 3.0]])), [[2.5, 1.0, 2.5]])
    assert spearman_rows(np.ones((1, 5)), np.arange(5.0)[None])[0] == 0.0


def test_mufidelity_is_one_for_exact_attributions_of_a_linear_model(linear):
    model, x, labels, w = linear
    phi = _contributions(x, labels, w).reshape(x.shape)
    ours = MuFidelity(model, x, labels, grid_size=None, nb_samples=64, seed=1)
    np.testing.assert_allclose(ours.detailed_evaluate(phi), 1.0, atol=1e-6)
    noisy = phi + np.random.default_rng(0).normal(scale=2.0, size=phi.shape).astype("float32")
    assert ours.evaluate(noisy) < 0.9


def test_mufidelity_is_seeded_and_batch_independent(reference_model, small_data):
    x, y = small_data.images[:4], small_data.one_hot()[:4]
    phi = np.random.default_rng(0).normal(size=x.shape[:3]).astype("float32")
    a = MuFidelity(reference_model, x, y, batch_size=64, nb_samples=32, seed=3).evaluate(phi)
    b = MuFidelity(reference_model, x, y, batch_size=7, nb_samples=32, seed=3).evaluate(phi)
    c = MuFidelity(reference_model, x, y, nb_samples=32, seed=4).evaluate(phi)
    assert a == pytest.approx(b, abs=1e-9)
    assert a != c


@pytest.mark.parametrize(
    ("cls", "settings", "error", "match"),
    [
        (Deletion, {"baseline_mode": "nope"}, ValueError, "baseline_mode"),
        (Deletion, {"baseline_mode": [0.0]}, TypeError, "baseline_mode"),
        (Insertion, {"steps": 0}, ValueError, "steps"),
        (Insertion, {"steps": 2.5}, TypeError, "steps"),
        (Deletion, {"max_percentage_perturbed": 1.5}, ValueError, "max_percentage_perturbed"),
        (Deletion, {"patch_size": 0}, ValueError, "patch_size"),
        (Deletion, {"batch_size": 0}, ValueError, "batch_size"),
        (Deletion, {"activation": "relu"}, ValueError, "activation"),
        (Insertion, {"operator": "nope"}, ValueError, "operator"),
        (Deletion, {"verbose": "yes"}, TypeError, "verbose"),
        (MuFidelity, {"baseline_mode": "nope"}, ValueError, "baseline_mode"),
        (MuFidelity, {"subset_percent": 0.0}, ValueError, "subset_percent"),
        (MuFidelity, {"subset_percent": 1.0}, ValueError, "subset_percent"),
        (MuFidelity, {"subset_percent": "half"}, TypeError, "subset_percent"),
        (MuFidelity, {"nb_samples": 1}, ValueError, "nb_samples"),
        (MuFidelity, {"grid_size": 0}, ValueError, "grid_size"),
        (MuFidelity, {"seed": 1.5}, TypeError, "seed"),
        (MuFidelity, {"correlation": "kendall"}, ValueError, "correlation"),
    ],
)
def test_constructors_validate_every_argument(linear, cls, settings, error, match):
    """Bad settings raise at construction, naming the argument (not at the first evaluate)."""
    model, x, labels, _ = linear
    with pytest.raises(error, match=match):
        cls(model, x, labels, **settings)


def test_causal_fidelity_is_deletion_or_insertion_by_its_mode(linear):
    model, x, labels, _ = linear
    phi = np.random.default_rng(8).normal(size=x.shape).astype("float32")
    for cls in (Deletion, Insertion):
        generic = CausalFidelity(model, x, labels, causal_mode=cls.causal_mode, steps=4)
        assert generic.evaluate(phi) == pytest.approx(cls(model, x, labels, steps=4).evaluate(phi))
    with pytest.raises(ValueError, match="causal_mode"):
        CausalFidelity(model, x, labels, causal_mode="both")
    metric = Deletion(model, x, labels, steps=-1)
    assert metric.steps == -1 and len(metric.steps_) == 37  # the argument is kept as given


def test_mufidelity_pearson_and_fresh_seeds(linear):
    model, x, labels, _ = linear
    phi = np.random.default_rng(9).normal(size=x.shape).astype("float32")
    metric = MuFidelity(model, x, labels, grid_size=3, nb_samples=16, correlation="pearson")
    drops = metric.base_scores_.numpy()[:, None] - metric.perturbed_scores_.numpy()
    removed = 1.0 - metric.subset_masks_.numpy()[..., 0].reshape(16, -1)
    sums = phi.reshape(len(x), -1).astype(np.float64) @ removed.T
    expected = [np.corrcoef(drops[i], sums[i])[0, 1] for i in range(len(x))]
    np.testing.assert_allclose(metric.detailed_evaluate(phi), expected, atol=1e-6)
    fresh = [MuFidelity(model, x, labels, nb_samples=4, seed=None) for _ in range(2)]
    assert not np.array_equal(fresh[0].subset_masks_.numpy(), fresh[1].subset_masks_.numpy())


# --------------------------------------------------------------------------- Xplique


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"activation": "softmax", "steps": 7, "max_percentage_perturbed": 0.5},
        {"baseline_mode": 0.3, "batch_size": 5},
    ],
)
def test_deletion_insertion_equal_xplique(reference_model, small_data, settings):
    xm = pytest.importorskip("xplique.metrics")
    x, y = small_data.images[:8], small_data.one_hot()[:8]
    phi = np.random.default_rng(5).normal(size=(8, 64, 64, 1)).astype("float32")
    for ours, theirs in ((Deletion, xm.Deletion), (Insertion, xm.Insertion)):
        a = ours(reference_model, x, y, **settings).evaluate(phi)
        b = theirs(reference_model, x, y, **settings).evaluate(phi)
        assert a == pytest.approx(float(b), abs=1e-5)
        curve = ours(reference_model, x, y, **settings).detailed_evaluate(phi)
        ref = theirs(reference_model, x, y, **settings).detailed_evaluate(phi)
        assert list(curve) == [int(k) for k in ref]
        np.testing.assert_allclose(list(curve.values()), list(ref.values()), atol=1e-5)


def test_deletion_equal_xplique_with_a_function_baseline(reference_model, small_data):
    xm = pytest.importorskip("xplique.metrics")
    x, y = small_data.images[:6], small_data.one_hot()[:6]
    phi = np.random.default_rng(6).normal(size=(6, 64, 64)).astype("float32")

    def flipped(inputs):
        return 1.0 - np.asarray(inputs)

    a = Deletion(reference_model, x, y, baseline_mode=flipped).evaluate(phi)
    b = xm.Deletion(reference_model, x, y, baseline_mode=flipped).evaluate(phi)
    assert a == pytest.approx(float(b), abs=1e-5)


def test_mufidelity_equal_xplique_on_exact_linear_attributions(linear):
    xm = pytest.importorskip("xplique.metrics")
    model, x, labels, w = linear
    phi = _contributions(x, labels, w).reshape(x.shape)
    y = np.eye(2, dtype="float32")[labels]
    theirs = xm.MuFidelity(model, x, y, grid_size=None, nb_samples=64).evaluate(phi)
    ours = MuFidelity(model, x, y, grid_size=None, nb_samples=64).evaluate(phi)
    assert ours == pytest.approx(theirs, abs=1e-6) and ours == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_mufidelity_agrees_with_xplique_in_expectation(reference_model, small_data):
    xm = pytest.importorskip("xplique.metrics")
    from xplique_lens.attributions import Saliency

    x, y = small_data.images[:12], small_data.one_hot()[:12]
    phi = Saliency(reference_model)(x, y)
    tf.random.set_seed(0)
    theirs = xm.MuFidelity(reference_model, x, y, nb_samples=400).evaluate(phi)
    ours = MuFidelity(reference_model, x, y, nb_samples=400).evaluate(phi)
    assert ours == pytest.approx(theirs, abs=0.06)


# --------------------------------------------------------------------------- caching, shortcuts


class CountingLinear:
    """``f(x) = x_flat @ W`` that counts the images it is run on (a graph-side counter, so the
    forward passes of compiled functions are counted too)."""

    def __init__(self, weights):
        self.weights = tf.constant(weights)
        self.images = tf.Variable(0, dtype=tf.int64)

    def __call__(self, inputs):
        self.images.assign_add(tf.cast(tf.shape(inputs)[0], tf.int64))
        return tf.reshape(inputs, (tf.shape(inputs)[0], -1)) @ self.weights

    def count(self):
        value = int(self.images.numpy())
        self.images.assign(0)
        return value


@pytest.fixture
def counting(linear):
    _, x, labels, w = linear
    return CountingLinear(w), x, labels


def _naive_curves(model, x, labels, phi, baselines, flipped, deletion, patch_size=None):
    """Textbook curves: for each sample and step, flip the top-k features (Xplique's order, in
    numpy), build the image and run the model on it alone."""
    n, height, width, _ = x.shape
    scores = phi.reshape(n, height, width)
    if patch_size:
        grid_w = -(-width // patch_size)
        ids = (np.arange(height)[:, None] // patch_size) * grid_w + (
            np.arange(width)[None] // patch_size
        )
        ids = ids.reshape(-1)
        flat = scores.reshape(n, -1)
        scores = np.stack([np.bincount(ids, f) / np.bincount(ids) for f in flat])
    else:
        ids = np.arange(height * width)
        scores = scores.reshape(n, -1)
    curves = np.zeros((n, len(flipped)))
    for i in range(n):
        order = np.argsort(scores[i], kind="stable")[::-1]
        for j, k in enumerate(flipped):
            top = np.isin(ids, order[:k]).reshape(height, width, 1)
            base = baselines[0] if len(baselines) == 1 else baselines[i]
            image = np.where(top, base, x[i]) if deletion else np.where(top, x[i], base)
            curves[i, j] = model(image[None].astype("float32")).numpy()[0, labels[i]]
    return curves


@pytest.mark.parametrize("cls", [Deletion, Insertion])
@pytest.mark.parametrize(
    "settings",
    [
        {"steps": 4},
        {"steps": 5, "max_percentage_perturbed": 0.5},  # the last step is not the baseline
        {"steps": 10, "max_percentage_perturbed": 0.2},  # 7 features, 11 steps: repeated points
        {"steps": -1, "max_percentage_perturbed": 0.25},
        {"steps": 3, "patch_size": 2},
        {"steps": 4, "patch_size": 4},  # border patches overhang the 6x6 image
        {"steps": 4, "baseline_mode": "blur"},  # one baseline image per input
        {"steps": 6, "baseline_mode": lambda inputs: tf.fill(tf.shape(inputs), 0.7)},
    ],
)
def test_curves_equal_the_textbook_computation(cls, settings, linear):
    model, x, labels, _ = linear
    rng = np.random.default_rng(11)
    metric = cls(model, x, labels, batch_size=4, **settings)
    for _ in range(2):  # the second evaluation reuses the cached end points
        phi = rng.normal(size=x.shape).astype("float32")
        phi[0, :2] = phi[0, 2:4]  # ties, broken as Xplique does
        expected = _naive_curves(
            model,
            x,
            labels,
            phi,
            metric.baselines_.numpy(),
            metric.steps_,
            cls is Deletion,
            settings.get("patch_size"),
        )
        np.testing.assert_allclose(metric.curves(phi), expected, atol=1e-5)


def test_second_evaluate_runs_only_the_explanation_dependent_steps(counting):
    model, x, labels = counting
    n, rng = len(x), np.random.default_rng(0)
    metric = Deletion(model, x, labels, batch_size=4, steps=4)  # points 0, 9, 18, 27, 36
    model.count()
    first = metric.evaluate(rng.normal(size=x.shape).astype("float32"))
    # inputs (n), the zero baseline once per distinct target (2 classes), 3 inner points
    assert model.count() == n + 2 + 3 * n
    second = metric.evaluate(rng.normal(size=x.shape).astype("float32"))
    assert model.count() == 3 * n
    assert first != second
    insertion = Insertion(model, x, labels, steps=4, max_percentage_perturbed=0.5)
    model.count()
    insertion.evaluate(rng.normal(size=x.shape).astype("float32"))
    # the baseline start (2 distinct targets) and 4 perturbed points; the inputs never appear
    assert model.count() == 2 + 4 * n
    insertion.evaluate(rng.normal(size=x.shape).astype("float32"))
    assert model.count() == 4 * n


def test_a_baseline_shared_by_all_inputs_is_scored_once_per_target(counting):
    model, x, labels = counting
    n, phi = len(x), np.random.default_rng(1).normal(size=x.shape).astype("float32")
    shared = Deletion(model, x, labels, baseline_mode=lambda i: tf.fill(tf.shape(i), 0.3))
    assert shared.baselines_.shape[0] == 1  # identical images detected
    per_input = Deletion(model, x, labels, baseline_mode=lambda i: 1.0 - i)
    assert per_input.baselines_.shape[0] == n
    model.count()
    shared_value = shared.evaluate(phi)
    assert model.count() == n + 2 + 9 * n
    per_input.evaluate(phi)
    assert model.count() == n + n + 9 * n
    constant = Deletion(model, x, labels, baseline_mode=0.3).evaluate(phi)
    assert shared_value == pytest.approx(constant, abs=1e-6)


def test_replaced_baselines_invalidate_the_cache(linear):
    model, x, labels, _ = linear
    phi = np.random.default_rng(2).normal(size=x.shape).astype("float32")
    metric = Insertion(model, x, labels)
    metric.evaluate(phi)
    metric._baselines = Insertion(model, x, labels, baseline_mode="blur").baselines_
    expected = Insertion(model, x, labels, baseline_mode="blur").evaluate(phi)
    assert metric.evaluate(phi) == pytest.approx(expected, abs=1e-6)


def test_mufidelity_caches_the_perturbed_scores(counting):
    model, x, labels = counting
    rng = np.random.default_rng(3)
    metric = MuFidelity(model, x, labels, grid_size=3, nb_samples=8, batch_size=6)
    model.count()
    first = metric.detailed_evaluate(rng.normal(size=x.shape).astype("float32"))
    assert model.count() == len(x) * (8 + 1)  # every subset, and the inputs themselves
    phi = rng.normal(size=x.shape).astype("float32")
    second = metric.detailed_evaluate(phi)
    assert model.count() == 0
    assert not np.allclose(first, second)
    fresh = MuFidelity(model, x, labels, grid_size=3, nb_samples=8, batch_size=64)
    np.testing.assert_allclose(fresh.detailed_evaluate(phi), second, atol=1e-9)
    # the cached scores are those of the textbook perturbation x * keep + (1 - keep) * baseline
    keep = metric.subset_masks_.numpy()
    images = x[:, None] * keep[None] + (1.0 - keep[None]) * 0.0
    expected = model(images.reshape(-1, *x.shape[1:])).numpy().reshape(len(x), 8, 2)
    np.testing.assert_allclose(
        metric.perturbed_scores_.numpy(), expected[np.arange(len(x)), :, labels], atol=1e-5
    )


def test_descending_order_is_xplique_order():
    from xplique_lens.metrics.fidelity import descending_order

    rng = np.random.default_rng(4)
    scores = np.round(rng.normal(size=(6, 300)), 1).astype("float32")  # many ties
    scores[0, :50] = 0.0
    scores[0, 50:100] = -0.0
    scores[1] = 3.0e38
    scores[2, ::2] = -3.0e38
    expected = np.argsort(scores, axis=1, kind="stable")[:, ::-1]
    np.testing.assert_array_equal(descending_order(scores), expected)


def test_distinct_targets_roundtrip():
    from xplique_lens.metrics.fidelity import distinct_targets

    soft = np.random.default_rng(10).uniform(size=(4, 3)).astype("float32")
    one_hot = np.eye(3, dtype="float32")[[2, 0, 2, 1]]
    zeros = np.zeros((2, 3), "float32")
    zeros[1, 1] = -0.0  # equal to the zero row as numbers, not as bits: kept apart
    targets = np.concatenate([one_hot, soft, soft[:2], zeros])
    first, inverse = distinct_targets(tf.constant(targets))
    assert len(first) == 3 + 4 + 2
    grouped = targets[first][inverse]
    np.testing.assert_array_equal(grouped.view(np.int32), targets.view(np.int32))


def test_compiled_scorers_are_shared_and_do_not_keep_models_alive(linear):
    import gc
    import weakref

    import keras

    from xplique_lens.metrics import fidelity

    _, x, labels, w = linear
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Flatten()])
    model.add(keras.layers.Dense(2, use_bias=False))
    model.layers[-1].set_weights([w])
    phi = np.random.default_rng(5).normal(size=x.shape).astype("float32")
    deletion = Deletion(model, x, labels)
    value = deletion.evaluate(phi)
    compiled = fidelity.compiled_pair_scores(
        model, deletion.operator, None, fidelity.causal_perturb, 64
    )
    assert compiled.experimental_get_tracing_count() == 1
    MuFidelity(model, x, labels, nb_samples=4).evaluate(phi)
    insertion = Insertion(model, x, labels)
    insertion.evaluate(phi)
    Deletion(model, x, labels, baseline_mode=0.5).evaluate(phi)
    assert compiled.experimental_get_tracing_count() == 1  # shared by all those metrics
    del compiled
    alive = weakref.ref(model)
    del model, deletion, insertion
    gc.collect()
    assert alive() is None
    assert value == pytest.approx(Deletion(linear[0], x, labels).evaluate(phi), abs=1e-6)


class _SlotModel:
    """A model that cannot be weakly referenced (no ``__weakref__`` slot)."""

    __slots__ = ("weights",)

    def __init__(self, weights):
        self.weights = tf.constant(weights)

    def __call__(self, inputs):
        return tf.reshape(inputs, (tf.shape(inputs)[0], -1)) @ self.weights


def test_models_without_weak_references_and_unhashable_operators_work(linear):
    model, x, labels, w = linear
    phi = np.random.default_rng(6).normal(size=x.shape).astype("float32")
    expected = Deletion(model, x, labels).evaluate(phi)
    assert Deletion(_SlotModel(w), x, labels).evaluate(phi) == pytest.approx(expected, abs=1e-6)

    class Operator:
        __hash__ = None

        def __call__(self, f, inputs, targets):
            return tf.reduce_sum(f(inputs) * targets, axis=-1)

    value = Deletion(model, x, labels, operator=Operator()).evaluate(phi)
    assert value == pytest.approx(expected, abs=1e-6)


def test_flip_levels_follow_the_ranks():
    from xplique_lens.metrics.fidelity import flip_levels

    scores = np.random.default_rng(7).normal(size=(3, 300)).astype("float32")
    ranks = feature_ranks(scores).numpy()
    for points in (np.array([0, 30, 150, 300]), np.arange(0, 300)):  # uint8, then int32
        for rows in (256, 2):  # one chunk of samples, then several
            levels = flip_levels(scores, points, rows=rows)
            assert levels.dtype == (np.uint8 if len(points) < 256 else np.int32)
            np.testing.assert_array_equal(levels, np.searchsorted(points, ranks, side="right"))


def test_one_step_per_feature_closed_form_on_256_features():
    """steps=-1 on 16x16 images: 257 curve points (int32 levels), every one checked."""
    rng = np.random.default_rng(8)
    model, weights = _linear_model(rng, 16)
    x = rng.uniform(size=(3, 16, 16, 1)).astype("float32")
    labels = np.array([1, 0, 1])
    contrib = _contributions(x, labels, weights)
    curves = Deletion(model, x, labels, steps=-1).curves(contrib.reshape(x.shape))
    ordered = -np.sort(-contrib, axis=1)
    expected = contrib.sum(1, keepdims=True) - np.concatenate(
        [np.zeros((3, 1)), np.cumsum(ordered, axis=1)], axis=1
    )
    np.testing.assert_allclose(curves, expected, atol=1e-4)


def test_tabular_inputs(linear):
    """(N, D) samples: every entry is a feature, for the curves and for MuFidelity."""
    _, x, labels, w = linear
    model = keras.Sequential([keras.Input((36,)), keras.layers.Dense(2, use_bias=False)])
    model.layers[-1].set_weights([w])
    flat = x.reshape(len(x), -1)
    contrib = _contributions(x, labels, w)
    curves = Deletion(model, flat, labels, steps=4).curves(contrib)
    ordered = -np.sort(-contrib, axis=1)
    expected = contrib.sum(1, keepdims=True) - np.stack(
        [ordered[:, :k].sum(1) for k in (0, 9, 18, 27, 36)], axis=1
    )
    np.testing.assert_allclose(curves, expected, atol=1e-4)
    metric = MuFidelity(model, flat, labels, nb_samples=16)
    np.testing.assert_allclose(metric.detailed_evaluate(contrib), 1.0, atol=1e-6)


def test_one_model_many_shapes_and_baselines(linear):
    """The compiled function shared by the metrics of a model retraces for new shapes; shared
    and per-input baselines never get mixed up, whatever the order."""
    model, x, labels, _ = linear
    phi = np.random.default_rng(9).normal(size=x.shape).astype("float32")
    for n, mode in ((5, 0.0), (5, "blur"), (3, 0.3), (3, "blur"), (5, 0.2), (4, "blur")):
        metric = Deletion(model, x[:n], labels[:n], batch_size=4, steps=3, baseline_mode=mode)
        expected = _naive_curves(
            model, x[:n], labels[:n], phi[:n], metric.baselines_.numpy(), metric.steps_, True
        )
        np.testing.assert_allclose(metric.curves(phi[:n]), expected, atol=1e-5)
