"""Baseline criteria (information removal, OOD-ness) and the comparison of explainers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.metrics.baseline_criteria import (
    BaselineCriteria,
    compare_baselines,
    information_removal,
    ood_score,
)


@pytest.fixture(scope="module")
def positive_linear():
    """logit_0 = sum(w x) with w > 0 on 5x5x1 images in (0, 1]: deleting pixels only lowers it."""
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((5, 5, 1)), keras.layers.Flatten()])
    model.add(keras.layers.Dense(2, use_bias=False))
    weights = np.stack([rng.uniform(0.1, 0.3, 25), -rng.uniform(0.1, 0.3, 25)], 1)
    model.layers[-1].set_weights([weights.astype("float32")])
    inputs = rng.uniform(0.2, 1.0, size=(3, 5, 5, 1)).astype("float32")
    return model, inputs, np.zeros(3, int)


def _blend(t):
    return lambda x: (1.0 - t) * tf.convert_to_tensor(x)


def test_identity_baseline_removes_nothing_and_is_in_distribution(positive_linear):
    model, x, y = positive_linear
    logits = model(x).numpy()[:, 0]
    expected = 11 * np.mean(1 / (1 + np.exp(-logits)))
    assert information_removal(model, x, y, lambda a: a, steps=10) == pytest.approx(expected, 1e-5)
    assert ood_score(model, x, y, lambda a: a, bank=x) == pytest.approx(0.0, abs=1e-3)


def test_information_removal_decreases_with_the_strength_of_the_baseline(positive_linear):
    model, x, y = positive_linear
    values = [information_removal(model, x, y, _blend(t), seed=1) for t in (0.0, 0.3, 0.6, 1.0)]
    assert all(a > b for a, b in zip(values, values[1:]))


def test_ood_increases_with_the_distance_to_the_bank(positive_linear):
    model, x, y = positive_linear
    criteria = BaselineCriteria(model, x[:1], y[:1], bank=x[:1], layer=0, steps=5)
    values = [criteria.ood_score(_blend(t)) for t in (0.0, 0.3, 0.6, 1.0)]
    assert values[0] == pytest.approx(0.0, abs=1e-3)
    assert all(a < b for a, b in zip(values, values[1:]))
    # closed form: the distance at a step is t * norm of the deleted pixels
    phi = np.arange(25, dtype="float32").reshape(1, 5, 5)[..., None]
    curve = criteria.ood_curve(_blend(0.5), explanations=phi)
    flat = x[0].ravel()[::-1]  # pixels by decreasing explanation
    flipped = np.linspace(0, 25, 6).astype(int)
    np.testing.assert_allclose(
        curve, [0.5 * np.linalg.norm(flat[:k]) for k in flipped], rtol=1e-3, atol=1e-3
    )


def test_knn_uses_the_k_nearest(positive_linear):
    model, x, y = positive_linear
    bank = np.concatenate([x[:1], x[:1] + 0.5], 0)
    one = BaselineCriteria(model, x[:1], y[:1], bank=bank, layer=0, k=1).knn_distance(x[:1])
    two = BaselineCriteria(model, x[:1], y[:1], bank=bank, layer=0, k=2).knn_distance(x[:1])
    assert float(one[0]) == pytest.approx(0.0, abs=1e-3)
    assert float(two[0]) == pytest.approx(0.5 * 0.5 * np.sqrt(25), rel=1e-3)
    with pytest.raises(ValueError, match="k=3"):
        BaselineCriteria(model, x, y, bank=bank, layer=0, k=3)
    with pytest.raises(ValueError, match="bank"):
        BaselineCriteria(model, x, y, bank=np.zeros((2, 4, 4, 1), "float32"), layer=0)


def _gradient_input(model):
    def explain(inputs, targets):
        inputs = tf.convert_to_tensor(inputs)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = tf.reduce_sum(model(inputs) * targets)
        return tape.gradient(score, inputs) * inputs

    return explain


def test_compare_baselines_table(positive_linear):
    model, x, y = positive_linear
    table = compare_baselines(
        model, x, y, {"gi": _gradient_input(model)}, ["zero", 0.5], steps=5, layer=0
    )
    assert table.baselines == ["zero", "constant 0.5"] and table.explainers == ["gi"]
    assert len(table.rows) == 2
    for row in table.rows:
        assert row["srg"] == pytest.approx(row["insertion"] - row["deletion"])
    assert "| zero | gi |" in table.to_markdown()
    from xplique_lens.plots import plot_baseline_tradeoff

    fig = plot_baseline_tradeoff(table)
    assert len(fig.axes) == 2 and len(fig.axes[0].texts) == 2
    with pytest.raises(ValueError, match="explainers"):
        compare_baselines(model, x, y, {}, ["zero"], layer=0)
    with pytest.raises(ValueError, match="metric"):
        table.ranking("auc")


@pytest.mark.slow
def test_the_ranking_of_explainers_changes_with_the_baseline(reference_model, small_data):
    """The paper's finding on the built-in model: Deletion ranks Saliency and Gradient x Input
    differently under the zero and the blur baselines."""
    from xplique_lens.attributions import Saliency

    explainers = {"saliency": Saliency(reference_model), "gi": _gradient_input(reference_model)}
    table = compare_baselines(
        reference_model,
        small_data.images,
        small_data.one_hot(),
        explainers,
        ["zero", "blur"],
        bank=small_data.images[::-1],
    )
    ranking = table.ranking("deletion")
    assert ranking["zero"] != ranking["blur"] and table.ranking_changes("deletion")
    crit = table.criteria()
    assert crit["zero"]["ood"] > crit["blur"]["ood"]  # a black image is far from the data
