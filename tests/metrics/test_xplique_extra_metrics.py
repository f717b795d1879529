"""Average Drop / Increase / Gain, Complexity / Sparseness, Random Logit and Model Randomization:
equal to Xplique 2.0.2 on the same inputs, closed forms, the user's model left untouched, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import Saliency
from xplique_lens.metrics import (
    AverageDropMetric,
    AverageGainMetric,
    AverageIncreaseMetric,
    Complexity,
    ModelRandomizationMetric,
    ProgressiveLayerRandomization,
    RandomLogitMetric,
    Sparseness,
)

AVERAGE_X = ("AverageDropMetric", "AverageIncreaseMetric", "AverageGainMetric")
OURS = {
    "AverageDropMetric": AverageDropMetric,
    "AverageIncreaseMetric": AverageIncreaseMetric,
    "AverageGainMetric": AverageGainMetric,
}


@pytest.fixture(scope="module")
def model():
    """Untrained CNN on 12x12x3 images, 3 classes; 4 layers with weights (c1, c2, d1, logits)."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
            keras.layers.Conv2D(4, 3, activation="relu", name="c2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(6, activation="relu", name="d1"),
            keras.layers.Dense(3, name="logits"),
        ]
    )


@pytest.fixture(scope="module")
def data(model):
    """8 images, one-hot targets, and tie-free explanations (saliency + noise)."""
    rng = np.random.default_rng(0)
    x = rng.random((8, 12, 12, 3)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 8)]
    noise = rng.random((8, 12, 12, 1)).astype("float32")
    explanations = Saliency(model)(x, y).numpy() + 0.1 * noise
    return x, y, explanations


def _close(a: float, b: float) -> None:
    assert a == pytest.approx(b, rel=1e-5, abs=1e-6 * max(1.0, abs(b)))


# --------------------------------------------------------------------------- Average X


def test_average_x_equal_to_xplique(model, data):
    xm = pytest.importorskip("xplique.metrics")
    x, y, explanations = data
    for name, activation in zip(AVERAGE_X, (None, "softmax", None), strict=True):
        ours = OURS[name](model, x, y, batch_size=4, activation=activation)
        theirs = getattr(xm, name)(model, x, y, batch_size=None, activation=activation)
        _close(ours(explanations), theirs(explanations))
    # (N, H, W) explanations, logits
    ours = AverageDropMetric(model, x, y)
    theirs = xm.AverageDropMetric(model, x, y, batch_size=None)
    _close(ours.evaluate(explanations[..., 0]), theirs.evaluate(explanations[..., 0]))


def _linear(side: int = 4) -> tuple[keras.Model, np.ndarray]:
    rng = np.random.default_rng(5)
    weights = rng.normal(size=(side * side, 2)).astype("float32")
    model = keras.Sequential([keras.Input((side, side, 1)), keras.layers.Flatten()])
    model.add(keras.layers.Dense(2, use_bias=False))
    model.layers[-1].set_weights([weights])
    return model, weights


def test_average_x_closed_form_on_a_linear_model():
    model, w = _linear()
    rng = np.random.default_rng(1)
    x = rng.random((5, 4, 4, 1)).astype("float32")
    labels = np.array([0, 1, 1, 0, 1])
    phi = rng.normal(size=(5, 4, 4, 2)).astype("float32")
    mask = np.abs(phi).mean(-1).reshape(5, -1)
    mask = (mask - mask.min(1, keepdims=True)) / (
        mask.max(1, keepdims=True) - mask.min(1, keepdims=True) + 1e-8
    )
    wy = w[:, labels].T
    base = (x.reshape(5, -1) * wy).sum(1)
    after = (x.reshape(5, -1) * mask * wy).sum(1)
    drop = AverageDropMetric(model, x, labels, batch_size=2)
    np.testing.assert_allclose(
        drop.detailed_evaluate(phi), np.maximum(base - after, 0) / (base + 1e-8), rtol=1e-4
    )
    np.testing.assert_allclose(drop.base_scores_, base, rtol=1e-5)
    increase = AverageIncreaseMetric(model, x, labels).evaluate(phi)
    assert increase == pytest.approx(np.mean(after > base))
    gain = AverageGainMetric(model, x, labels).detailed_evaluate(phi)
    np.testing.assert_allclose(gain, np.maximum(after - base, 0) / (1 - base + 1e-8), rtol=1e-4)


def test_explanation_that_keeps_everything(model):
    """One pixel is 0 in every input and in the explanation, every other explanation value 1: the
    mask is 1 wherever the input is not 0, the masked inputs are the inputs: no drop, no gain."""
    x = np.random.default_rng(2).random((4, 12, 12, 3)).astype("float32") + 0.1
    x[:, 5, 7, :] = 0.0
    keep = np.ones((4, 12, 12), "float32")
    keep[:, 5, 7] = 0.0
    for metric in (AverageDropMetric, AverageIncreaseMetric, AverageGainMetric):
        scores = metric(model, x, activation="softmax").detailed_evaluate(keep)
        np.testing.assert_array_equal(scores, np.zeros(4, "float32"))
    # a constant explanation keeps nothing (min-max of a constant is 0): the inputs go to 0
    drop = AverageDropMetric(model, x, activation="softmax")
    zeros = drop._score(drop.inputs * 0.0, drop.targets, drop.inputs, False)
    expected = np.maximum(drop.base_scores_ - zeros, 0) / (drop.base_scores_ + 1e-8)
    np.testing.assert_allclose(drop.detailed_evaluate(np.ones((4, 12, 12))), expected, rtol=1e-5)


def test_base_scores_cached_and_xplique_batch_form(model, data):
    x, y, explanations = data
    metric = AverageDropMetric(model, x, y, batch_size=3)
    per_sample = metric.detailed_evaluate(explanations)
    base = metric.base_scores_
    assert metric.detailed_evaluate(explanations[::-1]) is not None
    assert metric.base_scores_ is base  # computed once, reused
    np.testing.assert_allclose(
        metric.detailed_evaluate(x[:4], y[:4], explanations[:4]), per_sample[:4], rtol=1e-5
    )
    np.testing.assert_allclose(
        metric.detailed_evaluate(x[:4], np.argmax(y[:4], 1), explanations[:4]),
        per_sample[:4],
        rtol=1e-5,
    )


def test_average_x_errors(model, data):
    x, y, explanations = data
    metric = AverageGainMetric(model, x, y)
    with pytest.raises(ValueError, match="one explanation per input"):
        metric.evaluate(explanations[:3])
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        metric.evaluate(explanations[:, :5])
    bad = explanations.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metric.evaluate(bad)
    with pytest.raises(TypeError, match="explanations"):
        metric.evaluate(explanations.astype(np.int32))
    with pytest.raises(TypeError, match="detailed_evaluate"):
        metric.detailed_evaluate(x, y)
    with pytest.raises(ValueError, match="targets"):
        metric.detailed_evaluate(x, y[:2], explanations)
    with pytest.raises(ValueError, match="activation"):
        AverageDropMetric(model, x, y, activation="tanh")
    with pytest.raises(ValueError, match="batch_size"):
        AverageDropMetric(model, x, y, batch_size=0)


# --------------------------------------------------------------------------- complexity


def test_complexity_and_sparseness_equal_to_xplique(data):
    xm = pytest.importorskip("xplique.metrics")
    _, _, explanations = data
    rgb = np.random.default_rng(3).normal(size=(8, 12, 12, 3)).astype("float32")
    # ranks 3, then 4: a compiled kernel relaxed over ranks must not lose the channel mean
    for name, ours in (("Complexity", Complexity), ("Sparseness", Sparseness)):
        for phi in (rgb[..., 0], explanations, rgb):
            np.testing.assert_allclose(
                ours(batch_size=3).detailed_evaluate(phi),
                getattr(xm, name)().detailed_evaluate(phi),
                rtol=1e-5,
                atol=1e-6,
            )
        _close(ours(batch_size=None)(rgb), getattr(xm, name)()(rgb))


def test_complexity_and_sparseness_closed_forms():
    n = 36
    one_hot = np.zeros((2, 6, 6, 1), "float32")
    one_hot[0, 2, 3], one_hot[1, 0, 0] = 5.0, -2.0  # the sign does not matter
    uniform = np.full((2, 6, 6, 1), 0.3, "float32")
    np.testing.assert_allclose(Complexity().detailed_evaluate(one_hot), 0.0, atol=1e-6)
    np.testing.assert_allclose(Complexity().detailed_evaluate(uniform), np.log(n), rtol=1e-5)
    np.testing.assert_allclose(Sparseness().detailed_evaluate(uniform), 0.0, atol=1e-5)
    np.testing.assert_allclose(Sparseness().detailed_evaluate(one_hot), 1 - 1 / n, rtol=1e-5)
    half = np.concatenate([np.ones((1, 18)), np.zeros((1, 18))], axis=1).astype("float32")
    assert Complexity().evaluate(half) == pytest.approx(np.log(18), rel=1e-5)
    assert Sparseness()(half) == pytest.approx(0.5, rel=1e-4)  # (n/2 ones): 1/2


def test_complexity_errors():
    with pytest.raises(ValueError, match="batch_size"):
        Complexity(batch_size=0)
    with pytest.raises(ValueError, match="explanations"):
        Sparseness().evaluate(np.ones(5, "float32"))
    with pytest.raises(ValueError, match="NaN"):
        Complexity().evaluate(np.full((2, 3), np.inf, "float32"))
    with pytest.raises(TypeError, match="explanations"):
        Complexity().evaluate(np.array([["a", "b"]]))


# --------------------------------------------------------------------------- random logit


def test_random_logit_equal_to_xplique_with_the_same_classes(model, data):
    xm = pytest.importorskip("xplique.metrics")
    xa = pytest.importorskip("xplique.attributions")
    x, y, _ = data
    ours = RandomLogitMetric(model, x, y, batch_size=None)
    theirs = xm.RandomLogitMetric(model, x, y, batch_size=None)
    theirs._get_perturbed_context = lambda inputs, targets, explainer: (
        inputs,
        ours.off_targets_,
        explainer,
    )
    explainer = xa.Saliency(model)
    reference = theirs(explainer)
    _close(ours(explainer), reference)
    _close(ours.evaluate(Saliency(model)), reference)


def test_random_logit_off_classes_and_class_independent_explainer(model, data):
    x, y, _ = data
    labels = np.tile(np.arange(3), 20)[:60]
    images = np.repeat(x, 8, axis=0)[:60]
    metric = RandomLogitMetric(model, images, labels, seed=1)
    off = np.argmax(metric.off_targets_, 1)
    assert np.all(off != labels) and set(off) == {0, 1, 2}
    for true in range(3):  # both other classes drawn for each class
        assert len(set(off[labels == true])) == 2
    same = RandomLogitMetric(model, images, labels, seed=1).off_targets_
    other = RandomLogitMetric(model, images, labels, seed=2).off_targets_
    np.testing.assert_array_equal(metric.off_targets_, same)
    assert not np.array_equal(metric.off_targets_, other)
    # an explanation that ignores the class is identical for both classes: SSIM 1
    small = RandomLogitMetric(model, x, y)
    assert small.evaluate(lambda inputs, targets: inputs) == pytest.approx(1.0)
    assert small.evaluate(lambda inputs, targets: tf.ones_like(inputs)) == 1.0
    # an explanation that inverts the image for class 0 only: SSIM 1 unless class 0 is involved
    per_sample = small.detailed_evaluate(
        lambda inputs, targets: tf.where(targets[:, :1, None, None] > 0, inputs, 1.0 - inputs)
    )
    involved = (np.argmax(y, 1) == 0) | (np.argmax(small.off_targets_, 1) == 0)
    assert 0 < involved.sum() < len(y)
    np.testing.assert_allclose(per_sample[~involved], 1.0, rtol=1e-6)
    assert np.all(per_sample[involved] < 0.0)


def test_random_logit_errors(model, data):
    x, y, _ = data
    one_output = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Flatten()])
    one_output.add(keras.layers.Dense(1))
    with pytest.raises(ValueError, match="at least 2 outputs"):
        RandomLogitMetric(one_output, x, None)
    with pytest.raises(TypeError, match="seed"):
        RandomLogitMetric(model, x, y, seed=1.5)
    metric = RandomLogitMetric(model, x, y)
    with pytest.raises(ValueError, match="image"):
        metric.evaluate(lambda inputs, targets: tf.reshape(inputs, (len(inputs), -1)))
    with pytest.raises(ValueError, match="one explanation per input"):
        metric.evaluate(lambda inputs, targets: inputs[:1])
    with pytest.raises(TypeError, match="explainer"):
        metric.evaluate("saliency")


# --------------------------------------------------------------------------- model randomization


def test_model_randomization_equal_to_xplique_and_model_untouched(model, data):
    xm = pytest.importorskip("xplique.metrics")
    xa = pytest.importorskip("xplique.attributions")
    x, y, _ = data
    saved = [w.copy() for w in model.get_weights()]
    strategy = ProgressiveLayerRandomization(0.5, seed=3)
    ours = ModelRandomizationMetric(model, x, y, strategy, batch_size=None)
    theirs = xm.ModelRandomizationMetric(model, x, y, strategy, batch_size=None)
    their_explainer, our_explainer = xa.Saliency(model), Saliency(model)
    score = ours(their_explainer)
    _close(score, theirs(their_explainer))
    assert ours.evaluate(our_explainer) == pytest.approx(score, abs=1e-3)
    assert score < 0.99  # the explanations did change
    # the user's model and explainers are untouched; the randomized copy differs on top only
    for before, after in zip(saved, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert our_explainer.model is model and their_explainer.model is model
    copy = ours.randomized_model(model)
    assert copy is not model and ours.randomized_model(model) is copy
    for layer in model.layers:
        kept = layer.name in ("c1", "c2")  # 0.5 of 4 weight layers, from the output
        for a, b in zip(layer.get_weights(), copy.get_layer(layer.name).get_weights()):
            assert np.array_equal(a, b) == kept


def test_explainer_rebuilt_on_another_model(model):
    from types import SimpleNamespace

    from xplique_lens.attributions import Occlusion, SmoothGrad
    from xplique_lens.metrics.randomization import explainer_with_model

    other = keras.models.clone_model(model)
    smooth = SmoothGrad(model, batch_size=5, nb_samples=7, noise=0.3, seed=3, reducer="max")
    rebuilt = explainer_with_model(smooth, other)
    assert type(rebuilt) is SmoothGrad and rebuilt.model is other and smooth.model is model
    for name in ("batch_size", "nb_samples", "noise", "seed", "reducer", "operator"):
        assert getattr(rebuilt, name) == getattr(smooth, name)
    occlusion = explainer_with_model(Occlusion(model, patch_size=4, patch_stride=2), other)
    assert occlusion.patch_size == (4, 4) and occlusion.patch_stride == (2, 2)
    foreign = SimpleNamespace(model=model, steps=9)  # e.g. Xplique's: reads .model when called
    swapped = explainer_with_model(foreign, other)
    assert swapped.model is other and swapped.steps == 9 and foreign.model is model


def test_progressive_layer_randomization(model):
    names = lambda s, **kw: [  # noqa: E731
        layer.name for layer in ProgressiveLayerRandomization(s, **kw).layers_to_randomize(model)
    ]
    assert names(0.25) == ["logits"]
    assert names(1.0) == ["logits", "d1", "c2", "c1"]
    assert names("c2") == ["logits", "d1"]
    assert names(1, reverse=False) == ["c1"]
    assert names(10) == ["logits", "d1", "c2", "c1"]
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    out = ProgressiveLayerRandomization(0.5, seed=4).randomize(clone)
    assert out is clone
    w = clone.get_layer("logits").get_weights()[0]
    assert w.min() >= 0.0 and w.max() < 1.0 and not np.array_equal(w, model.layers[-1].kernel)
    again = keras.models.clone_model(model)
    ProgressiveLayerRandomization(0.5, seed=4).randomize(again)
    np.testing.assert_array_equal(again.get_layer("logits").get_weights()[0], w)
    with pytest.warns(UserWarning, match="randomizes no layer"):
        ProgressiveLayerRandomization(0.0).randomize(again)


def test_model_randomization_errors(model, data):
    x, y, _ = data
    with pytest.raises(TypeError, match="stop_layer"):
        ProgressiveLayerRandomization([1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ProgressiveLayerRandomization(1.5)
    with pytest.raises(ValueError, match=">= 0"):
        ProgressiveLayerRandomization(-1)
    with pytest.raises(ValueError, match="does not exist"):
        ProgressiveLayerRandomization("nope").layers_to_randomize(model)
    with pytest.raises(ValueError, match="top-level layer with weights"):
        ProgressiveLayerRandomization("gap").layers_to_randomize(model)
    with pytest.raises(TypeError, match="randomization_strategy"):
        ModelRandomizationMetric(model, x, y, randomization_strategy="all")
    metric = ModelRandomizationMetric(model, x, y)
    with pytest.raises(TypeError, match="`model` attribute"):
        metric.evaluate(lambda inputs, targets: inputs)
