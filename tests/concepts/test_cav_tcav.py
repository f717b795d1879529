"""Cav and Tcav: equal to Xplique 2.0.2 (same seed, same CAV), a planted concept direction
recovered, closed-form directional derivatives, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.concepts import Cav, Tcav


@pytest.fixture(scope="module")
def cnn():
    """Untrained CNN on 12x12x3 images, 3 classes."""
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
            keras.layers.Conv2D(4, 3, activation="tanh", name="c2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="logits"),
        ]
    )


@pytest.fixture(scope="module")
def images():
    """12 "concept" images (brighter red) and 12 others."""
    rng = np.random.default_rng(0)
    x = rng.random((24, 12, 12, 3)).astype("float32")
    x[:12, ..., 0] += 0.8
    return x[:12], x[12:]


@pytest.fixture(scope="module")
def linear():
    """Activations = inputs (identity ``embed`` layer on 6 features), then linear logits;
    the logits' weights ``W``."""
    rng = np.random.default_rng(2)
    weights = rng.normal(size=(6, 3)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(6, use_bias=False, name="embed"),
            keras.layers.Dense(3, name="logits"),
        ]
    )
    model.get_layer("embed").set_weights([np.eye(6, dtype="float32")])
    model.get_layer("logits").set_weights([weights, np.zeros(3, "float32")])
    return model, weights


def test_cav_equal_to_xplique_after_the_same_numpy_seed(cnn, images):
    xc = pytest.importorskip("xplique.concepts")
    positive, negative = images
    sgd = xc.Cav(cnn, "c2")
    svc = xc.Cav(cnn, "c2", classifier="SVC")
    svc.bottleneck_model = sgd.bottleneck_model  # one Keras predict function for both
    for classifier, reference in (("SGD", sgd), ("SVC", svc)):
        np.random.seed(7)  # noqa: NPY002 (Xplique draws from the global generator)
        theirs = reference(positive, negative).numpy()
        ours = Cav(cnn, "c2", classifier=classifier, seed=7)(positive, negative).numpy()
        assert ours.shape == theirs.shape == (8, 8, 4)
        scale = np.abs(theirs).max()
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4 * scale)


def test_cav_recovers_a_planted_direction(linear):
    model, _ = linear
    rng = np.random.default_rng(3)
    direction = rng.normal(size=6).astype("float32")
    direction /= np.linalg.norm(direction)
    negative = rng.normal(size=(200, 6)).astype("float32")
    positive = rng.normal(size=(200, 6)).astype("float32") + 3.0 * direction
    cav_object = Cav(model, "embed", seed=0)
    cav = cav_object.fit(positive, negative).numpy()
    assert np.abs(cav).sum() == pytest.approx(1.0, rel=1e-5)  # L1-normalised, as Xplique
    assert cav @ direction / np.linalg.norm(cav) > 0.98
    assert cav_object.val_accuracy_ > 0.9 and cav_object.cav_ is not None
    # same seed, same CAV (each fit starts from the seed); datasets work as arrays do
    again = Cav(model, 0, seed=0)(tf.data.Dataset.from_tensor_slices(positive), negative)
    np.testing.assert_array_equal(again.numpy(), cav)
    np.testing.assert_array_equal(cav_object.fit(positive, negative).numpy(), cav)
    other = Cav(model, "embed", seed=1).fit(positive, negative).numpy()
    assert not np.array_equal(other, cav) and other @ direction / np.linalg.norm(other) > 0.98
    from sklearn.linear_model import LogisticRegression  # any linear classifier

    logistic = Cav(model, "embed", classifier=LogisticRegression()).fit(positive, negative)
    assert logistic.numpy() @ direction / np.linalg.norm(logistic) > 0.98


def test_tcav_equal_to_xplique_given_the_same_cav(cnn, images):
    xc = pytest.importorskip("xplique.concepts")
    x = np.concatenate(images)
    theirs = xc.Tcav(cnn, "c1", batch_size=None)
    ours = Tcav(cnn, "c1", batch_size=10)
    # a CAV whose derivative changes sign across the inputs (median 0): dd is linear in the cav
    a, b = np.random.default_rng(4).normal(size=(2, 10, 10, 4)).astype("float32")
    dd_a, dd_b = (ours.directional_derivative(x, 0, v).numpy() for v in (a, b))
    cav = a - np.median(dd_a) / np.median(dd_b) * b
    for label in (0, 2):
        dd_theirs = theirs.directional_derivative(tf.constant(x), label, cav).numpy()
        dd_ours = ours.directional_derivative(x, label, cav).numpy()
        scale = np.abs(dd_theirs).max()
        np.testing.assert_allclose(dd_ours, dd_theirs, rtol=1e-4, atol=1e-5 * scale)
        assert ours.score(x, label, cav) == theirs.score(x, label, cav)
        assert ours(x, label, cav.ravel()) == ours.score(x, label, cav)
    assert 0.0 < ours.score(x, 0, cav) < 1.0  # a non-trivial score


def test_tcav_closed_forms(linear):
    model, weights = linear
    x = np.random.default_rng(5).normal(size=(7, 6)).astype("float32")
    cav = np.random.default_rng(6).normal(size=6).astype("float32")
    tcav = Tcav(model, "embed", batch_size=3)
    for label in range(3):  # h(a) = a W + b: the derivative along cav is W[:, label] . cav
        dd = tcav.directional_derivative(x, label, cav).numpy()
        np.testing.assert_allclose(dd, np.full(7, weights[:, label] @ cav), rtol=1e-5)
        assert tcav.score(x, label, cav) == float(weights[:, label] @ cav > 0)
    # at the output layer, the derivative of logit `label` along cav is cav[label]
    last = Tcav(model, "logits")
    assert last.score(x, 1, [0.0, 0.5, -1.0]) == 1.0
    assert last.score(x, 2, [0.0, 0.5, -1.0]) == 0.0
    np.testing.assert_allclose(last.directional_derivative(x, 2, [0.0, 0.5, -1.0]), -1.0)


def test_cav_tcav_errors(cnn, linear):
    model, _ = linear
    with pytest.raises(ValueError, match="test_fraction"):
        Cav(model, "embed", test_fraction=1.0)
    with pytest.raises(ValueError, match="classifier"):
        Cav(model, "embed", classifier="MLP")
    with pytest.raises(TypeError, match="classifier"):
        Cav(model, "embed", classifier=object())
    with pytest.raises(ValueError, match="does not exist"):
        Cav(model, "nope")
    with pytest.raises(TypeError, match="seed"):
        Cav(model, "embed", seed="a")
    with pytest.raises(ValueError, match="one kind only"):
        Cav(model, "embed", test_fraction=0.5).fit(np.ones((1, 6)), np.zeros((1, 6)))

    class NotLinear:
        def fit(self, x, y):
            return self

        def score(self, x, y):
            return 1.0

    with pytest.raises(ValueError, match="coef_"):
        Cav(model, "embed", classifier=NotLinear()).fit(np.ones((5, 6)), np.zeros((5, 6)))
    with pytest.raises(ValueError, match="rank"):
        Cav(model, "embed").fit(np.ones((4, 6, 1)), np.zeros((4, 6)))
    tcav = Tcav(cnn, "c2")
    x = np.zeros((2, 12, 12, 3), "float32")
    with pytest.raises(ValueError, match="label"):
        tcav.score(x, 3, np.ones((8, 8, 4)))
    with pytest.raises(TypeError, match="label"):
        tcav.score(x, 1.5, np.ones((8, 8, 4)))
    with pytest.raises(ValueError, match="cav"):
        tcav.score(x, 1, np.ones((4,)))
    with pytest.raises(ValueError, match="NaN"):
        tcav.score(x, 1, np.full((8, 8, 4), np.nan))
    with pytest.raises(TypeError, match="keras.Model"):
        Tcav(lambda inputs: inputs, 0)
