"""Feature-visualization metrics: analytic cases and real images as ground truth."""

import numpy as np
import pytest

from xplique_lens.features import FID, Plausibility, Transferability, frechet_distance


def test_frechet_distance_analytic(rng):
    a = rng.normal(size=(4000, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(m, 4 I): |m|^2 + tr(I + 4I - 2 * 2I) = |m|^2 + 3
    b = 2.0 * rng.normal(size=(4000, 3)) + np.array([1.0, 2.0, 0.0])
    assert frechet_distance(a, b) == pytest.approx(5.0 + 3.0, rel=0.05)


def test_plausibility_prefers_the_right_class(reference_model, small_data):
    metric = Plausibility(reference_model, small_data.images, small_data.labels)
    images, labels = small_data.images[:12], small_data.labels[:12]
    right = metric.detailed_evaluate(images, labels)
    wrong = metric.detailed_evaluate(images, (labels + 1) % 6)
    assert right.shape == (12,) and np.all(right > wrong)
    assert metric.evaluate(images, labels) == pytest.approx(right.mean())
    # one-hot labels work; a mid-grey image is less plausible than real images
    assert metric(images, small_data.one_hot()[:12]) == pytest.approx(right.mean())
    grey = np.full((6, 64, 64, 3), 0.5, np.float32)
    assert metric.evaluate(grey, np.arange(6)) < right.mean()
    with pytest.raises(ValueError, match="labels"):
        metric.evaluate(images)


# 12 images of 64 features: the covariances are singular, which scipy's sqrtm reports
@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_fid_orders_sets(reference_model, small_data):
    metric = FID(reference_model, small_data.images[:12])
    same = metric.evaluate(small_data.images[:12])
    close = metric.evaluate(small_data.images[12:])
    noise = np.random.default_rng(0).uniform(size=(12, 64, 64, 3)).astype(np.float32)
    assert same == pytest.approx(0.0, abs=1e-3)
    assert close < metric.evaluate(noise)
    # visualizations of another size are resized to the model's input
    assert np.isfinite(metric.evaluate(np.resize(noise, (12, 96, 96, 3))))


def test_transferability(reference_model, reference_model_b, small_data):
    metric = Transferability([reference_model, reference_model_b])
    images, labels = small_data.images, small_data.labels
    assert metric.evaluate(images, labels) == pytest.approx(1.0)
    hits = metric.detailed_evaluate(images, (labels + 1) % 6)
    assert hits.shape == (2, len(labels)) and not hits.any()
    with pytest.raises(ValueError, match="labels"):
        metric.evaluate(images, labels[:3])
    with pytest.raises(TypeError, match="models"):
        Transferability([])


def test_frechet_distance_is_the_shared_kernel():
    from xplique_lens.commons import stats
    from xplique_lens.concepts import metrics as concept_metrics

    assert frechet_distance is stats.frechet_distance is concept_metrics.frechet_distance


def _pixel_feature_model(channels: int = 2):
    """1x1-pixel model whose penultimate features are the pixel values themselves."""
    import keras

    inputs = keras.Input((1, 1, channels))
    flat = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(flat))


def _pixels(rows):
    return np.asarray(rows, np.float32)[:, None, None, :]


def test_plausibility_reductions_are_analytic():
    model = _pixel_feature_model()
    real = _pixels([[1, 0], [1, 1], [0, 1]])
    vis = _pixels([[1, 0]])
    cosines = np.array([1.0, np.sqrt(0.5), 0.0])
    expected = {"mean": cosines.mean(), "median": np.sqrt(0.5), "max": 1.0}
    for reduction, value in expected.items():
        metric = Plausibility(model, real, np.zeros(3, int), reduction=reduction)
        assert metric.evaluate(vis, [0]) == pytest.approx(value, abs=1e-6)
        # without labels: pooled over all real images, same values here
        assert Plausibility(model, real, reduction=reduction)(vis) == pytest.approx(value, abs=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        Plausibility(model, real, reduction="sum")
    with pytest.raises(TypeError, match="center"):
        Plausibility(model, real, center="yes")


def test_plausibility_center_removes_the_shared_positive_offset():
    model = _pixel_feature_model()
    real = _pixels([[1, 0], [0, 1]])
    labels = np.array([0, 1])
    between = _pixels([[1, 1]])  # as close to both classes: the mean real feature
    raw = Plausibility(model, real, labels)
    centred = Plausibility(model, real, labels, center=True)
    assert raw(between, [0]) == pytest.approx(np.sqrt(0.5), abs=1e-6)
    assert centred(between, [0]) == pytest.approx(0.0, abs=1e-6)
    # centred: the right class +1, the wrong one -1 (raw: 1 and 0)
    assert centred.detailed_evaluate(real, labels) == pytest.approx([1.0, 1.0], abs=1e-6)
    assert centred.detailed_evaluate(real, 1 - labels) == pytest.approx([-1.0, -1.0], abs=1e-6)


def test_plausibility_center_spreads_real_features(reference_model, small_data):
    """On post-ReLU features the raw cosine is high for anything; centring widens the gap."""
    images, labels = small_data.images, small_data.labels
    raw = Plausibility(reference_model, images, labels)
    centred = Plausibility(reference_model, images, labels, center=True)
    noise = np.random.default_rng(0).uniform(size=(6, 64, 64, 3)).astype(np.float32)
    assert raw(noise, np.arange(6)) > 0.5  # the saturation that centring removes
    for metric in (raw, centred):
        assert metric(images, labels) > metric(images, (labels + 1) % 6)
        assert metric(images, labels) > metric(noise, np.arange(6))
    gap_raw = raw(images, labels) - raw(images, (labels + 1) % 6)
    gap_centred = centred(images, labels) - centred(images, (labels + 1) % 6)
    assert gap_centred > gap_raw
    assert centred(noise, np.arange(6)) < 0.5
