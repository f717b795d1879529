"""GradCAM, GradCAMPP, GuidedBackprop, DeconvNet, FEM, Lime, KernelShap, HsicAttributionMethod
(and Sobol's ``nb_channels``): parity with Xplique 2.0.2, the planted parts, seeds, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import (
    FEM,
    DeconvNet,
    GradCAM,
    GradCAMPP,
    GridSegmentation,
    GuidedBackprop,
    HsicAttributionMethod,
    KernelShap,
    Lime,
    SlicSegmentation,
    SobolAttributionMethod,
)
from xplique_lens.attributions.hsic import hsic_indices
from xplique_lens.attributions.lime import exponential_similarity, shapley_samples

from ..numerics import assert_close
from .conftest import positive_share

WHITE_BOX = {
    "GradCAM": GradCAM,
    "GradCAMPP": GradCAMPP,
    "GuidedBackprop": GuidedBackprop,
    "DeconvNet": DeconvNet,
    "FEM": FEM,
}


@pytest.fixture(scope="module")
def xq():
    return pytest.importorskip("xplique.attributions")


@pytest.fixture(scope="module")
def six(planted):
    """One image per class of the planted set, one-hot targets, part masks."""
    images, labels, masks = planted
    index = np.arange(0, len(images), 2)
    return images[index], np.eye(6, dtype=np.float32)[labels[index]], masks[index]


def fixed_patterns(num_features, nb_samples):
    """Deterministic patterns, same contract for Xplique and us: identical perturbations."""
    count = int(tf.reshape(num_features, (-1,))[0])
    return tf.cast(tf.random.stateless_uniform((nb_samples, count), [7, 7]) < 0.5, tf.int32)


# ------------------------------------------------------------------ white box: Xplique, parts
@pytest.mark.parametrize(
    "name, factor",
    [("GradCAM", 3), ("GradCAMPP", 3), ("GuidedBackprop", 3), ("DeconvNet", 2), ("FEM", 5)],
)
def test_white_box_match_xplique_and_find_parts(reference_model, six, xq, name, factor):
    images, targets, masks = six
    weights = [w.numpy().copy() for w in reference_model.weights]
    ours = WHITE_BOX[name](reference_model)(images, targets)
    theirs = getattr(xq, name)(reference_model)(images, targets)
    assert ours.shape == (6, 64, 64, 1) and ours.dtype == tf.float32
    assert_close(ours, theirs, rel=1e-4)
    share, area = positive_share(ours, masks), float(masks.mean())
    assert share >= positive_share(theirs, masks) - 1e-6
    assert share > factor * area, (share, area)
    # the user's model is untouched (GuidedBackprop / DeconvNet explain a view of it)
    assert all(
        layer.activation is keras.activations.relu
        for layer in reference_model.layers
        if layer.name.startswith("conv") or layer.name == "features"
    )
    assert all(np.array_equal(w, v.numpy()) for w, v in zip(weights, reference_model.weights))


def _nested_relu_model():
    keras.utils.set_random_seed(3)
    inputs = keras.Input((4,))
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(6, name="hidden"), keras.layers.ReLU(name="relu")],
        name="inner",
    )
    hidden = keras.layers.Dense(5, activation="relu", name="dense_relu")(inner(inputs))
    outputs = keras.layers.Dense(2, name="out")(hidden)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("cls", [GuidedBackprop, DeconvNet])
def test_modified_relu_gradients_exact_and_model_untouched(cls):
    model = _nested_relu_model()
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    before = model(x).numpy()
    w1, b1 = model.get_layer("inner").get_layer("hidden").get_weights()
    w2, b2 = model.get_layer("dense_relu").get_weights()
    w3 = model.get_layer("out").get_weights()[0]
    explainer = cls(model, batch_size=2)
    maps = explainer(x, np.zeros(5, int)).numpy()
    # backward by hand: g3 = w3[:, 0]; at each ReLU, positive part (gated by pre > 0 if guided)
    pre1 = x @ w1 + b1
    pre2 = np.maximum(pre1, 0) @ w2 + b2
    gate = cls is GuidedBackprop
    g2 = np.maximum(np.broadcast_to(w3[:, 0], pre2.shape), 0) * ((pre2 > 0) if gate else 1)
    g1 = np.maximum(g2 @ w2.T, 0) * ((pre1 > 0) if gate else 1)
    assert_close(maps, g1 @ w1.T, rel=1e-5)
    # the view computes the same forward; the user's model, layers and weights are untouched
    assert_close(explainer.model(x), before, rel=1e-6)
    np.testing.assert_array_equal(model(x).numpy(), before)
    assert model.get_layer("dense_relu").activation is keras.activations.relu
    assert type(model.get_layer("inner").get_layer("relu")) is keras.layers.ReLU
    assert explainer.model.get_layer("out") is model.get_layer("out")  # shared, not copied
    xt = tf.constant(x)
    with tf.GradientTape() as tape:  # the original keeps its plain ReLU gradients
        tape.watch(xt)
        score = tf.reduce_sum(model(xt)[:, 0])
    plain = ((w3[:, 0] * (pre2 > 0)) @ w2.T * (pre1 > 0)) @ w1.T
    assert_close(tape.gradient(score, xt), plain, rel=1e-5)


def test_gradcam_nested_base_default_and_path():
    keras.utils.set_random_seed(1)
    base = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1"),
            keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="c2"),
        ],
        name="base",
    )
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            base,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    x = np.random.default_rng(1).random((3, 16, 16, 3)).astype(np.float32)
    y = np.array([0, 1, 2])
    default = GradCAM(model)
    assert default.conv_layer is base  # the transfer-learning pattern: the base's feature maps
    assert_close(default(x, y), GradCAM(model, conv_layer="base/c2")(x, y), rel=1e-5)
    inner = GradCAMPP(model, conv_layer="c1")(x, y)  # a nested layer: the model is split there
    assert inner.shape == (3, 16, 16, 1) and float(tf.reduce_max(inner)) > 0


# ------------------------------------------------------------------ HSIC and Sobol channels
def test_hsic_matches_xplique_and_finds_parts(reference_model, six, xq):
    images, targets, masks = six
    kwargs = {"grid_size": 8, "nb_design": 128}
    ours = HsicAttributionMethod(reference_model, batch_size=512, **kwargs)(images, targets)
    theirs = xq.HsicAttributionMethod(reference_model, **kwargs)(images[:1], targets[:1])
    assert ours.shape == (6, 64, 64, 1)
    assert_close(ours[:1], theirs, rel=1e-4)
    share, area = positive_share(ours, masks), float(masks.mean())
    assert share > 2.5 * area, (share, area)


def _hsic_reference(points, scores, kernel):
    """Xplique's estimator in numpy: trace(H K_i H H L H) / n per column."""
    n = len(scores)
    width = np.median(scores)
    gram_y = np.exp(-((scores[:, None] - scores[None]) ** 2) / (2 * width**2))
    centre = np.eye(n) - 1.0 / n
    out = []
    for x in points.T:
        diff = x[:, None] - x[None]
        if kernel == "binary":
            gram = 0.5 - diff**2
        elif kernel == "rbf":
            gram = np.exp(-(diff**2) / 0.5)
        else:
            gram = (diff**2 - np.abs(diff) + 1 / 6) / 2 + np.outer(np.abs(x) - 0.5, np.abs(x) - 0.5)
        out.append(np.sum((centre @ (1 + gram) @ centre) * (centre @ gram_y @ centre)) / n)
    return np.array(out)


@pytest.mark.parametrize("kernel", ["binary", "rbf", "sobolev"])
def test_hsic_estimators_match_formula(kernel):
    rng = np.random.default_rng(4)
    points = rng.random((24, 5))
    points = np.round(points) if kernel == "binary" else points
    scores = rng.normal(1.0, 1.0, size=(2, 24))
    indices = hsic_indices(points, scores, kernel, dim_batch_size=2).numpy()
    for row, score in zip(indices, scores):
        assert_close(row, _hsic_reference(points, score, kernel), rel=1e-4)


def test_sobol_nb_channels_separates_channels():
    # a score that reads channel 0 only: the masks of channels 1 and 2 have no effect
    w = tf.random.stateless_normal((8 * 8, 1), [1, 2])
    x = np.random.default_rng(5).random((2, 8, 8, 3)).astype(np.float32)

    def model(v):
        return tf.matmul(tf.reshape(tf.square(v[..., 0]), (-1, 64)), w)

    explainer = SobolAttributionMethod(model, grid_size=2, nb_design=16, nb_channels=3)
    maps = explainer(x, np.zeros(2, int)).numpy()
    assert maps.shape == (2, 8, 8, 3)
    assert np.abs(maps[..., 1:]).max() < 1e-6 < np.abs(maps[..., 0]).min()


# ------------------------------------------------------------------ Lime and KernelShap
@pytest.mark.parametrize("fit", ["ridge_exp_kernel", "least_squares", "lasso"])
def test_lime_matches_xplique_on_the_same_patterns(tiny_functional_model, xq, fit):
    from sklearn.linear_model import Lasso, LinearRegression

    images = np.random.default_rng(6).random((2, 16, 16, 3)).astype(np.float32)
    targets = np.eye(3, dtype=np.float32)[[0, 2]]
    kwargs = {"map_to_interpret_space": GridSegmentation(4), "pertub_func": fixed_patterns}
    kwargs["nb_samples"] = 48
    if fit == "least_squares":  # closed form, custom similarity kernel (Xplique's contract)
        kwargs["interpretable_model"] = LinearRegression()
        kwargs["similarity_kernel"] = lambda x, z, p: tf.ones(tf.shape(z)[0])
    elif fit == "lasso":  # any other model: fitted per input with scikit-learn, as Xplique
        kwargs["interpretable_model"] = Lasso(alpha=1e-4)
    ours = Lime(tiny_functional_model, batch_size=40, **kwargs)(images, targets)
    theirs = xq.Lime(tiny_functional_model, **kwargs)(images, targets)
    assert ours.shape == (2, 16, 16, 1)
    assert_close(ours, theirs, rel=1e-4)


def test_kernel_shap_close_to_xplique(reference_model, six, xq):
    images, targets, _ = six
    grid = GridSegmentation(4)
    ours = KernelShap(reference_model, map_to_interpret_space=grid, nb_samples=256)
    theirs = xq.KernelShap(reference_model, map_to_interpret_space=grid, nb_samples=256)
    _, first = np.unique(grid(images[0]).numpy().ravel(), return_index=True)  # a pixel per cell
    a = ours(images[:2], targets[:2]).numpy().reshape(2, -1)[:, first]
    b = theirs(images[:2], targets[:2]).numpy().reshape(2, -1)[:, first]
    for row_a, row_b in zip(a, b):  # independent draws of the patterns: close, not equal
        assert np.corrcoef(row_a, row_b)[0, 1] > 0.98


@pytest.mark.parametrize(
    "make, factor",
    [
        (lambda m: Lime(m, nb_samples=120), 5),
        (lambda m: KernelShap(m, nb_samples=160, batch_size=480), 5),
    ],
    ids=["lime", "kernel_shap"],
)
def test_lime_family_finds_parts(reference_model, six, make, factor):
    images, targets, masks = six
    maps = make(reference_model)(images, targets)
    share, area = positive_share(maps, masks), float(masks.mean())
    assert share > factor * area, (share, area)


@pytest.mark.parametrize("cls", [Lime, KernelShap])
def test_lime_family_exact_on_linear_scores(cls):
    w = tf.constant([[1.0], [-2.0], [3.0], [0.5], [0.0]])
    x = np.random.default_rng(2).random((3, 5)).astype(np.float32)
    kwargs = {"nb_samples": 64}
    if cls is Lime:  # ridge with a tiny penalty: least squares on exactly linear scores
        from sklearn.linear_model import Ridge

        kwargs["interpretable_model"] = Ridge(alpha=1e-6)
    maps = cls(lambda v: tf.matmul(v, w), **kwargs)(x, np.zeros(3, int))
    assert maps.shape == (3, 5)
    assert_close(maps, x * w.numpy()[:, 0], rel=1e-4)  # switched off -> 0: coefficient x_i w_i


@pytest.mark.parametrize("cls", [Lime, KernelShap])
def test_lime_family_seed_and_batch_independence(cls):
    w = tf.random.stateless_normal((12 * 12 * 3, 2), [3, 4])

    def model(v):
        return tf.matmul(tf.reshape(tf.square(v), (-1, 12 * 12 * 3)), w)

    x = np.random.default_rng(3).random((4, 12, 12, 3)).astype(np.float32)
    y = np.array([0, 1, 1, 0])
    explainer = cls(model, nb_samples=40, batch_size=64, seed=5)
    maps = explainer(x, y).numpy()
    np.testing.assert_array_equal(maps, explainer(x, y).numpy())
    assert not np.allclose(maps, cls(model, nb_samples=40, batch_size=64, seed=6)(x, y))
    # an input's patterns do not depend on the other inputs (nor on their numbers of features)
    assert_close(explainer(x[2:3], y[2:3]), maps[2:3], rel=1e-4)


def test_shapley_patterns_distribution():
    samples, width = 20000, 7
    keys = tf.random.stateless_normal((samples, width), [0, 1])
    levels = tf.random.stateless_uniform((samples,), [0, 2])
    counts = tf.constant([5] * samples)
    z = shapley_samples(keys, levels, counts, tf.range(samples)).numpy()
    assert not z[:, 5:].any()  # features beyond the input's own are off
    sizes = z.sum(1).astype(int)
    k = np.arange(1, 5)
    expected = 4.0 / (k * (5 - k))
    observed = np.bincount(sizes, minlength=6)[1:5] / samples
    np.testing.assert_allclose(observed, expected / expected.sum(), atol=0.015)
    assert sizes.min() >= 1 and sizes.max() <= 4
    np.testing.assert_allclose(z[:, :5].mean(0), sizes.mean() / 5, atol=0.02)  # uniform subsets


def test_similarity_kernels():
    x = tf.constant([[1.0, 0.0], [1.0, 1.0]])
    p = tf.constant([[2.0, 0.0], [0.0, 1.0]])
    assert_close(exponential_similarity(x, p, "cosine", 1.0), [1.0, np.exp(-((1 - 0.5**0.5) ** 2))])
    assert_close(exponential_similarity(x, p, "euclidean", 2.0), np.exp(-np.array([1.0, 1.0]) / 4))


def test_slic_segmentation():
    image = np.zeros((1, 24, 24, 3), np.float32)
    image[:, :, 10:] = [0.9, 0.2, 0.1]  # two flat colours, the edge off the grid lines
    labels = SlicSegmentation(grid_size=4).batch(image).numpy()[0]
    ids = np.unique(labels)
    np.testing.assert_array_equal(ids, np.arange(len(ids)))  # compact ids
    assert 2 <= len(ids) <= 16
    for i in ids:  # every superpixel lies on one side of the colour edge
        assert len(np.unique(image[0][labels == i], axis=0)) == 1
    np.testing.assert_array_equal(SlicSegmentation(4).batch(image * 255.0)[0], labels)
    np.testing.assert_array_equal(SlicSegmentation(4)(image[0]), labels)  # Xplique's contract
    assert GridSegmentation(3)(image[0]).numpy().max() == 8


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda m: GradCAM(m, conv_layer="nope"), ValueError, "nope"),
        (lambda m: GradCAM(m, conv_layer="logits"), ValueError, "4-D"),
        (lambda m: FEM(lambda x: x), TypeError, "model"),
        (lambda m: GuidedBackprop(lambda x: x), TypeError, "model"),
        (lambda m: Lime(m, kernel_width=0.0), ValueError, "kernel_width"),
        (lambda m: Lime(m, distance_mode="manhattan"), ValueError, "distance_mode"),
        (lambda m: Lime(m, interpretable_model=object()), TypeError, "interpretable_model"),
        (lambda m: Lime(m, nb_samples=0), ValueError, "nb_samples"),
        (lambda m: Lime(m, prob=2.0), ValueError, "prob"),
        (lambda m: HsicAttributionMethod(m, estimator="gaussian"), ValueError, "estimator"),
        (lambda m: HsicAttributionMethod(m, nb_design=1), ValueError, "nb_design"),
        (lambda m: SlicSegmentation(compactness=-1.0), ValueError, "compactness"),
    ],
)
def test_bad_settings(reference_model, make, error, match):
    with pytest.raises(error, match=match):
        make(reference_model)


def test_bad_inputs(tiny_functional_model):
    x = np.random.default_rng(0).random((2, 16, 16, 3)).astype(np.float32)
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="nb_channels"):
        SobolAttributionMethod(tiny_functional_model, nb_design=4, nb_channels=2)(x, y)
    with pytest.raises(ValueError, match="ref_value"):
        Lime(tiny_functional_model, ref_value=np.zeros(2))(x, y)
    with pytest.raises(ValueError, match="at least 2 features"):
        KernelShap(tiny_functional_model, map_to_interpret_space=GridSegmentation(1))(x, y)
    with pytest.raises(ValueError, match="inputs"):
        GradCAM(tiny_functional_model)(x[..., 0], y)
    with pytest.raises(TypeError, match="inputs"):
        FEM(tiny_functional_model)(x.astype(np.uint8))
