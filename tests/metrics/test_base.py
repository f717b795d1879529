import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.attributions import Saliency
from xplique_lens.metrics import ExplainerMetric, ExplanationMetric


class MeanScore(ExplanationMetric):
    """Mean operator score of the inputs, ignoring the explanations: tests the plumbing."""

    def evaluate(self, explanations):
        return float(tf.reduce_mean(self.score_function(self.inputs, self.targets)))


class CallsExplainer(ExplainerMetric):
    def evaluate(self, explainer):
        return float(tf.reduce_mean(explainer(self.inputs, self.targets)))


def test_explanation_metric_activation_and_targets(reference_model, small_data):
    logits = reference_model(small_data.images).numpy()
    probabilities = tf.nn.softmax(logits).numpy()
    rows = np.arange(len(small_data))
    metric = MeanScore(reference_model, small_data.images, small_data.labels, activation="softmax")
    assert metric(None) == pytest.approx(probabilities[rows, small_data.labels].mean(), rel=1e-5)
    metric = MeanScore(reference_model, small_data.images, small_data.one_hot())
    assert metric.evaluate(None) == pytest.approx(logits[rows, small_data.labels].mean(), rel=1e-5)
    with pytest.raises(NotImplementedError):
        metric.detailed_evaluate(None)


def test_explainer_metric_runs_explainer(reference_model, small_data):
    metric = CallsExplainer(reference_model, small_data.images, small_data.labels)
    expected = float(
        tf.reduce_mean(Saliency(reference_model)(small_data.images, small_data.labels))
    )
    assert metric.evaluate(Saliency(reference_model)) == pytest.approx(expected, rel=1e-5)


def test_metric_bad_input(reference_model):
    with pytest.raises(ValueError, match="activation"):
        MeanScore(reference_model, np.zeros((2, 64, 64, 3), np.float32), activation="tanh")
    with pytest.raises(ValueError, match="batch_size"):
        MeanScore(reference_model, np.zeros((2, 64, 64, 3), np.float32), batch_size=-1)
