"""MeGe / ReCo: brute-force references, Xplique cross-check, folds, training and errors."""

import warnings

import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import rankdata

from tests.metrics._mege_reference import (
    brute_force_reco,
    brute_force_sets,
    lookup_model,
    spearman_distance,
    tiny_cnn,
    xplique_sampled_reco,
)
from xplique_lens.attributions import Saliency
from xplique_lens.metrics import MeGe
from xplique_lens.metrics.stability import (
    average_ranks,
    make_folds,
    pairwise_spearman_distances,
    reco_score,
    spearman,
)
from xplique_lens.metrics.stability.spearman import flatten_explanations

K, N, C = 4, 42, 3  # N not a multiple of K on purpose


# --- kernels ---------------------------------------------------------------------------------


@pytest.fixture(params=["numpy", "tensorflow"])
def backend(request, monkeypatch):
    """Run a test with the NumPy (CPU) kernel, then with the TensorFlow (GPU) one forced."""
    monkeypatch.setattr(spearman, "use_numpy_ranks", lambda: request.param == "numpy")
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.float16])
def test_average_ranks_match_scipy_with_ties(rng, backend, dtype):
    values = rng.integers(-3, 4, size=(3, 5, 40)).astype(dtype)
    values[0, 0] = 2  # one constant row
    if dtype != np.int32:
        values[1, 1, :10] = -0.0  # -0.0 ties with 0.0
    ranks = average_ranks(tf.constant(values))
    assert ranks.dtype == tf.float64
    np.testing.assert_array_equal(ranks.numpy(), rankdata(values, axis=-1))


def test_average_ranks_inside_a_tf_function(rng, backend):
    values = rng.normal(size=(4, 9)).astype(np.float32)
    values[:, 3] = values[:, 5]
    ranks = tf.function(average_ranks)(tf.constant(values))
    np.testing.assert_array_equal(ranks.numpy(), rankdata(values, axis=-1))


def test_ranks_over_many_blocks_and_threads(rng, monkeypatch):
    monkeypatch.setattr(spearman, "_BLOCK_ELEMENTS", 64)  # a few rows per block, last partial
    values = np.round(rng.normal(size=(4, 21, 30)), 1).astype(np.float32)  # ties
    np.testing.assert_array_equal(average_ranks(values).numpy(), rankdata(values, axis=-1))
    distances = pairwise_spearman_distances(values).numpy()
    monkeypatch.setattr(spearman, "_BLOCK_ELEMENTS", 2**18)
    np.testing.assert_allclose(distances, pairwise_spearman_distances(values), atol=1e-15)


def test_pairwise_spearman_distances_match_scipy(rng, backend):
    explanations = rng.integers(0, 5, size=(3, 6, 30)).astype(np.float32)  # many ties
    explanations[:, 5] = rng.normal(size=(3, 30))  # no tie at all
    explanations[1, 2] = 7.0  # a constant explanation: correlation undefined
    explanations[2, 4] = -explanations[0, 4]  # rho = -1: distance 0
    distances = pairwise_spearman_distances(tf.constant(explanations)).numpy()
    assert distances.shape == (3, 3, 6)
    for i in range(3):
        for j in range(3):
            for n in range(6):
                expected = spearman_distance(explanations[i, n], explanations[j, n])
                if np.isnan(expected):
                    assert np.isnan(distances[i, j, n])
                else:
                    assert distances[i, j, n] == pytest.approx(expected, abs=1e-7)
    assert distances[0, 2, 4] == pytest.approx(0.0, abs=1e-7)


def test_flatten_explanations_averages_channels_and_zeroes_nan():
    explanations = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    explanations[1, 0, 1, 0] = np.nan
    flat = flatten_explanations(tf.constant(explanations), sample_rank=3).numpy()
    expected = np.nan_to_num(explanations.mean(-1)).reshape(2, 6)
    np.testing.assert_array_equal(flat, expected)
    one_channel = flatten_explanations(tf.constant(explanations[..., :1]), 3).numpy()
    np.testing.assert_array_equal(one_channel, np.nan_to_num(explanations[..., 0]).reshape(2, 6))


def test_reco_analytic_cases():
    assert reco_score([0.1, 0.2], [0.5, 0.9]) == (1.0, pytest.approx(0.35))
    # identical sets cannot be separated
    assert reco_score([0.3, 0.6], [0.3, 0.6])[0] == 0.0
    # ties across the sets fall on the same side of any threshold: 0.5, not Xplique's 1.0
    assert reco_score([0.1, 0.5], [0.5, 0.9])[0] == pytest.approx(0.5)
    assert xplique_sampled_reco(np.array([0.1, 0.5]), np.array([0.5, 0.9])) == pytest.approx(1.0)
    assert np.isnan(reco_score([], [0.5])[0]) and np.isnan(reco_score([0.5], [])[0])


def test_reco_is_exact_and_beats_sampled_thresholds(rng):
    strictly_better = False
    for _ in range(5):
        s_eq = rng.beta(2, 5, size=300)
        s_ne = rng.beta(3, 4, size=120)
        reco, gamma = reco_score(s_eq, s_ne)
        assert reco == pytest.approx(brute_force_reco(s_eq, s_ne), abs=1e-12)
        assert np.mean(s_eq < gamma) + np.mean(s_ne > gamma) - 1 == pytest.approx(reco)
        assert reco >= xplique_sampled_reco(s_eq, s_ne) - 1e-12
        strictly_better |= reco > xplique_sampled_reco(s_eq, s_ne) + 1e-9
    assert strictly_better  # the ~20 sampled thresholds miss the maximum on some draw


# --- MeGe against the brute force ------------------------------------------------------------


def _planted_problem(rng):
    """Inputs that encode their index, K lookup models with planted (partly wrong) predictions."""
    labels = np.arange(N) % C
    predictions = np.where(rng.random((K, N)) < 0.75, labels, (labels + 1) % C)
    predictions[:, :3] = (labels[:3] + 1) % C  # samples every model gets wrong (both-wrong pairs)
    predictions[:, 3:6] = (labels[3:6] + np.arange(K)[:, None]) % C  # wrong in different ways
    predictions[:, 10] = labels[10]  # always right (its explanations are made constant below)
    inputs = np.repeat(np.arange(N, dtype=np.float32)[:, None], 2, axis=1)
    models = [lookup_model(p, C) for p in predictions]
    return inputs, labels, predictions, models


@pytest.mark.parametrize("shuffle", [True, False])
def test_mege_and_reco_equal_brute_force(rng, shuffle, backend):
    inputs, labels, predictions, models = _planted_problem(rng)
    explanations = rng.integers(0, 4, size=(K, N, 5, 5, 2)).astype(np.float32)  # ties
    explanations[2, 10] = 1.0  # constant: dropped
    metric = MeGe(
        None,
        inputs,
        labels,
        batch_size=16,
        k_splits=K,
        models=models,
        shuffle=shuffle,
        seed=3,
        verbose=False,
    )
    np.testing.assert_array_equal(metric.predictions_, predictions)
    result = metric.evaluate_explanations(explanations)
    s_eq, s_ne, undefined = brute_force_sets(explanations, predictions, labels, metric.fold_ids_)
    assert undefined > 0 and len(s_ne) > 0
    np.testing.assert_allclose(np.sort(result.s_eq), np.sort(s_eq), atol=1e-9)
    np.testing.assert_allclose(np.sort(result.s_ne), np.sort(s_ne), atol=1e-9)
    assert result.mege == pytest.approx(1 / (1 + s_eq.mean()), abs=1e-12)
    assert result.reco == pytest.approx(brute_force_reco(s_eq, s_ne), abs=1e-12)
    assert result.nb_undefined == undefined
    # each sample gives k - 1 pairs, minus the both-wrong ones
    assert len(s_eq) + len(s_ne) + result.nb_undefined < N * (K - 1)


def test_batch_size_does_not_change_the_result(rng):
    inputs, labels, _, models = _planted_problem(rng)
    explanations = rng.normal(size=(K, N, 8, 8, 1)).astype(np.float32)
    results = [
        MeGe(
            None, inputs, labels, batch_size=b, models=models, verbose=False
        ).evaluate_explanations(explanations)
        for b in (5, None)
    ]
    assert results[0].mege == pytest.approx(results[1].mege, abs=1e-12)
    assert results[0].reco == results[1].reco


def test_empty_disagreement_set_gives_nan_with_warning(rng):
    labels = np.arange(12) % C
    inputs = np.repeat(np.arange(12, dtype=np.float32)[:, None], 2, axis=1)
    models = [lookup_model(labels, C) for _ in range(K)]  # always right
    metric = MeGe(None, inputs, labels, models=models, verbose=False)
    explanations = rng.normal(size=(K, 12, 4, 4))
    with pytest.warns(RuntimeWarning, match="S!= is empty"):
        result = metric.evaluate_explanations(explanations)
    predictions = np.tile(labels, (K, 1))
    s_eq, s_ne, _ = brute_force_sets(explanations, predictions, labels, metric.fold_ids_)
    assert np.isnan(result.reco) and len(s_ne) == 0 and len(s_eq) > 0
    assert result.mege == pytest.approx(1 / (1 + s_eq.mean()), abs=1e-9)


# --- Xplique cross-check ---------------------------------------------------------------------


def test_equal_to_xplique_on_the_same_models(rng):
    xplique_metrics = pytest.importorskip("xplique.metrics")
    xplique_attributions = pytest.importorskip("xplique.attributions")
    models = [tiny_cnn(seed) for seed in range(K)]
    inputs = rng.random((48, 16, 16, 3)).astype(np.float32)
    votes = np.stack([np.argmax(m(inputs), -1) for m in models])
    labels = votes[0]  # model 0 always right, the others sometimes
    targets = np.eye(C, dtype=np.float32)[labels]
    models_iter = iter(models)
    reference = xplique_metrics.MeGe(lambda *_: next(models_iter), inputs, targets, k_splits=K)
    ours = MeGe(None, inputs, targets, k_splits=K, shuffle=False, models=models, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mege_ref, reco_ref = reference.evaluate(xplique_attributions.Saliency)
    for explainer in (xplique_attributions.Saliency, Saliency):
        result = ours.detailed_evaluate(explainer)
        assert result.mege == pytest.approx(mege_ref, rel=1e-6)
        assert result.reco >= reco_ref - 1e-9
        assert result.reco == pytest.approx(brute_force_reco(result.s_eq, result.s_ne), abs=1e-12)
    explanations = np.stack([Saliency(m)(inputs, targets).numpy() for m in models])
    s_eq, s_ne = reference._pairwise_distances(votes, explanations)
    np.testing.assert_allclose(np.sort(result.s_eq), np.sort(s_eq), atol=1e-6)
    np.testing.assert_allclose(np.sort(result.s_ne), np.sort(s_ne), atol=1e-6)
    assert len(s_ne) > 0


def test_evaluations_trace_one_function_per_model(rng):
    models = [tiny_cnn(seed) for seed in range(K)]
    inputs = rng.random((N, 16, 16, 3)).astype(np.float32)
    metric = MeGe(None, inputs, np.arange(N) % C, 16, K, models=models, verbose=False)
    first = metric.evaluate(Saliency)  # batches of 16, 16 and a last one of 10
    assert metric.evaluate(Saliency) == first  # new explainers, same compiled functions
    for model in models:
        assert Saliency(model).gradient_function.experimental_get_tracing_count() == 1


# --- folds -----------------------------------------------------------------------------------


def test_folds_stratified_balanced_and_reproducible(rng):
    labels = rng.integers(0, 5, size=103)
    folds = make_folds(labels, 4, seed=7)
    sizes = np.bincount(folds, minlength=4)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 103
    for c in range(5):
        per_fold = np.bincount(folds[labels == c], minlength=4)
        assert per_fold.max() - per_fold.min() <= 1
    np.testing.assert_array_equal(folds, make_folds(labels, 4, seed=7))
    assert not np.array_equal(folds, make_folds(labels, 4, seed=8))
    assert not np.array_equal(folds, np.sort(folds))  # shuffled


def test_unshuffled_folds_are_xplique_contiguous_splits():
    np.testing.assert_array_equal(
        make_folds(np.zeros(8), 4, shuffle=False), [0, 0, 1, 1, 2, 2, 3, 3]
    )
    np.testing.assert_array_equal(make_folds(np.zeros(7), 3, shuffle=False), [0, 0, 0, 1, 1, 2, 2])


# --- training --------------------------------------------------------------------------------


def test_learning_algorithm_gets_each_fold_and_models_are_reused(rng):
    inputs = rng.random((30, 16, 16, 3)).astype(np.float32)
    labels = np.arange(30) % C
    calls = []

    def learning_algorithm(x_train, y_train, x_test, y_test):
        calls.append((x_train, y_train, x_test, y_test))
        return tiny_cnn(len(calls))

    metric = MeGe(learning_algorithm, inputs, labels, k_splits=3, seed=1, verbose=False)
    assert len(calls) == 3
    for i, (x_train, y_train, x_test, y_test) in enumerate(calls):
        test = metric.fold_ids_ == i
        np.testing.assert_array_equal(x_test, inputs[test])
        np.testing.assert_array_equal(y_test, labels[test])
        np.testing.assert_array_equal(x_train, inputs[~test])
        np.testing.assert_array_equal(y_train, labels[~test])
        assert set(np.bincount(y_test, minlength=C).tolist()) <= {3, 4}  # 10 per class, 3 folds
    first = metric.evaluate(Saliency)
    assert metric.evaluate(Saliency, {"batch_size": 7}) == pytest.approx(first)
    assert len(calls) == 3  # no retraining


def test_strategy_scope_wraps_training(rng):
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    seen = []

    def learning_algorithm(*_):
        seen.append(tf.distribute.get_strategy() is strategy)
        return tiny_cnn(0)

    MeGe(
        learning_algorithm,
        rng.random((8, 16, 16, 3)).astype(np.float32),
        np.arange(8) % 2,
        k_splits=2,
        strategy=strategy,
        verbose=False,
    )
    assert seen == [True, True]


def test_dataset_of_pairs(rng):
    inputs, labels, _, models = _planted_problem(rng)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(10)
    explanations = rng.normal(size=(K, N, 6))
    from_arrays = MeGe(None, inputs, labels, models=models, verbose=False)
    from_dataset = MeGe(None, dataset, models=models, verbose=False)
    assert (
        from_dataset.evaluate_explanations(explanations).mege
        == from_arrays.evaluate_explanations(explanations).mege
    )


# --- errors ----------------------------------------------------------------------------------


def test_clear_errors(rng):
    inputs = rng.random((6, 16, 16, 3)).astype(np.float32)
    labels = np.arange(6) % 2
    with pytest.raises(ValueError, match="k_splits"):
        MeGe(lambda *_: tiny_cnn(0), inputs, labels, k_splits=1)
    with pytest.raises(ValueError, match="at least `k_splits` samples"):
        MeGe(lambda *_: tiny_cnn(0), inputs, labels, k_splits=8)
    with pytest.raises(TypeError, match="fold 0.*returned ndarray"):
        MeGe(lambda *_: np.zeros(3), inputs, labels, k_splits=2, verbose=False)

    def broken(x_train, *_):
        if len(x_train) < 4:
            raise RuntimeError("diverged")
        return tiny_cnn(0)

    with pytest.raises(RuntimeError, match="fold 0 of 2.*diverged"):
        MeGe(broken, inputs, labels, k_splits=2, verbose=False)
    with pytest.raises(ValueError, match="`targets` is required"):
        MeGe(lambda *_: tiny_cnn(0), inputs, None, k_splits=2)
    with pytest.raises(TypeError, match="learning_algorithm"):
        MeGe("adam", inputs, labels, k_splits=2)
    with pytest.raises(ValueError, match="one model per fold"):
        MeGe(None, inputs, labels, k_splits=2, models=[tiny_cnn(0)])
    metric = MeGe(
        None, inputs, labels, k_splits=2, models=[tiny_cnn(0), tiny_cnn(1)], verbose=False
    )
    with pytest.raises(ValueError, match="k_splits, N"):
        metric.evaluate_explanations(np.zeros((3, 6, 4, 4)))
    with pytest.raises(TypeError, match="explainer_params"):
        metric.evaluate(Saliency, [1])


@pytest.mark.slow
def test_end_to_end_training_on_the_synthetic_dataset():
    import keras

    from xplique_lens.datasets import make_synthetic_dataset

    data = make_synthetic_dataset(n_per_class=8, image_size=32, seed=5)

    def learning_algorithm(x_train, y_train, x_test, y_test):
        model = tiny_cnn(len(x_train), nb_classes=6, size=32)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-2),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        )
        model.fit(x_train, y_train, epochs=2, batch_size=16, verbose=0)
        return model

    metric = MeGe(learning_algorithm, data.images, data.one_hot(), k_splits=3, verbose=False)
    result = metric.detailed_evaluate(Saliency)
    explanations = np.stack([Saliency(m)(data.images, data.one_hot()) for m in metric.models])
    again = metric.evaluate_explanations(explanations)
    assert result.mege == pytest.approx(again.mege, abs=1e-9) and result.reco == again.reco
    predictions = np.stack(
        [np.argmax(m.predict(data.images, verbose=0), -1) for m in metric.models]
    )
    s_eq, s_ne, _ = brute_force_sets(explanations, predictions, data.labels, metric.fold_ids_)
    assert len(s_eq) > 0
    np.testing.assert_allclose(np.sort(result.s_eq), np.sort(s_eq), atol=1e-6)
    assert result.mege == pytest.approx(1 / (1 + s_eq.mean()), abs=1e-6)


def test_plot_of_the_distance_distributions():
    from xplique_lens.metrics import MeGeResult
    from xplique_lens.plots import plot_mege_distances

    s_eq, s_ne = np.array([0.1, 0.2, 0.25]), np.array([0.6, 0.7])
    reco, gamma = reco_score(s_eq, s_ne)
    figure = plot_mege_distances(MeGeResult(0.8, reco, gamma, s_eq, s_ne))
    axes = figure.axes[0]
    assert axes.lines[0].get_xdata()[0] == pytest.approx(gamma) and 0.25 < gamma < 0.6
    assert len(axes.patches) == 2 * 30 and "ReCo=1.000" in axes.get_title()
