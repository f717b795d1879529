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
