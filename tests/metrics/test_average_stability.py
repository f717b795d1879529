"""AverageStability: analytic cases, symmetric seeded noise, Xplique cross-check, errors."""

import numpy as np
import pytest
import tensorflow as tf

from tests.metrics._mege_reference import tiny_cnn
from xplique_lens.attributions import Saliency
from xplique_lens.metrics import AverageStability


def identity_explainer(inputs, targets):
    return tf.convert_to_tensor(inputs)


@pytest.fixture(scope="module")
def model():
    return tiny_cnn(0)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).random((10, 16, 16, 3)).astype(np.float32)


def test_noise_is_symmetric_seeded_and_bounded(model, images):
    metric = AverageStability(model, images, radius=0.2, nb_samples=50, seed=4)
    noise = metric.noisy_masks.numpy()
    assert noise.shape == (50, 16, 16, 3)
    assert noise.min() >= -0.2 and noise.max() <= 0.2
    assert noise.min() < -0.19 and noise.max() > 0.19  # both sides, not Xplique's [0, r)
    assert abs(noise.mean()) < 0.01
    same = AverageStability(model, images, radius=0.2, nb_samples=50, seed=4).noisy_masks
    other = AverageStability(model, images, radius=0.2, nb_samples=50, seed=5).noisy_masks
    np.testing.assert_array_equal(noise, same.numpy())
    assert not np.array_equal(noise, other.numpy())


@pytest.mark.parametrize("distance, norm", [("l2", 2), ("l1", 1)])
def test_identity_explainer_gives_the_noise_norm(model, images, distance, norm):
    """phi(x) = x, so ||phi(x + u) - phi(x)|| = ||u||, the same for every input."""
    metric = AverageStability(model, images, batch_size=7, nb_samples=6, distance=distance)
    noise = metric.noisy_masks.numpy().reshape(6, -1)
    expected = np.mean(np.linalg.norm(noise, ord=norm, axis=1))
    per_sample = metric.detailed_evaluate(identity_explainer)
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)
    assert metric.evaluate(identity_explainer) == pytest.approx(expected, rel=1e-5)
    # a linear explainer doubles it; a constant one is perfectly stable
    assert metric.evaluate(lambda x, y: 2 * x) == pytest.approx(2 * expected, rel=1e-5)
    assert metric.evaluate(lambda x, y: tf.ones_like(x)) == 0.0


def test_batch_size_and_custom_distance(model, images):
    scores = [
        AverageStability(model, images, batch_size=b, nb_samples=4).evaluate(Saliency(model))
        for b in (3, None)
    ]
    assert scores[0] == pytest.approx(scores[1], rel=1e-5)
    custom = AverageStability(
        model,
        images,
        nb_samples=4,
        distance=lambda a, b: tf.sqrt(tf.reduce_sum((a - b) ** 2)),
    ).evaluate(Saliency(model))
    assert custom == pytest.approx(scores[0], rel=1e-5)


def test_equal_to_xplique_with_the_same_noise(model, images):
    xplique_metrics = pytest.importorskip("xplique.metrics")
    ours = AverageStability(model, images, nb_samples=5, radius=0.05)  # predicted classes
    targets = ours.targets.numpy()
    reference = xplique_metrics.AverageStability(model, images, targets, nb_samples=5, radius=0.05)
    reference.noisy_masks = ours.noisy_masks
    explainer = Saliency(model)
    assert ours.evaluate(explainer) == pytest.approx(reference.evaluate(explainer), rel=1e-5)


def test_clear_errors(model, images):
    with pytest.raises(ValueError, match="distance"):
        AverageStability(model, images, distance="cosine")
    with pytest.raises(TypeError, match="distance"):
        AverageStability(model, images, distance=3)
    with pytest.raises(ValueError, match="radius"):
        AverageStability(model, images, radius=-0.1)
    with pytest.raises(ValueError, match="nb_samples"):
        AverageStability(model, images, nb_samples=0)
    metric = AverageStability(model, images, nb_samples=2)
    with pytest.raises(ValueError, match="base_explanations"):
        metric.evaluate(identity_explainer, base_explanations=np.zeros((3, 16, 16, 3)))
    with pytest.raises(TypeError, match="explainer"):
        metric.evaluate("saliency")
