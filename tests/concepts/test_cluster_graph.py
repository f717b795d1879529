"""Strategic cluster graph (planted strategies), concept similarity and class alignment."""

import numpy as np
import pytest
import tensorflow as tf

from xplique_lens.commons import split_model
from xplique_lens.concepts import (
    concept_class_alignment,
    concept_similarity,
    strategic_cluster_graph,
)


@pytest.fixture(scope="module")
def planted():
    """30 images in three strategies: concept 0 (15 images), 3 (10) and 5 (5) dominate."""
    rng = np.random.default_rng(0)
    local = rng.random((30, 6)).astype(np.float32) * 0.2
    groups = np.repeat([0, 3, 5], [15, 10, 5])
    local[np.arange(30), groups] += 2.0
    return local, groups


def test_planted_strategies_are_recovered(planted):
    local, groups = planted
    graph = strategic_cluster_graph(local, image_indices=np.arange(100, 130), method="tsne")
    assert graph.method == "tsne" and graph.coordinates.shape == (30, 2)
    np.testing.assert_array_equal(graph.labels, groups)
    assert graph.strategies == [0, 3, 5]
    np.testing.assert_allclose(graph.shares[[0, 3, 5]], [0.5, 1 / 3, 1 / 6], rtol=1e-6)
    np.testing.assert_array_equal(graph.strategy_images(5), np.arange(125, 130))
    # points of a strategy are closer to each other than to other strategies
    xy = graph.coordinates
    distances = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    same = groups[:, None] == groups[None]
    assert distances[same & ~np.eye(30, dtype=bool)].mean() < 0.5 * distances[~same].mean()
    assert strategic_cluster_graph(local, min_share=0.2, method="tsne").strategies == [0, 3]
    again = strategic_cluster_graph(local, image_indices=np.arange(100, 130), method="tsne")
    np.testing.assert_array_equal(graph.coordinates, again.coordinates)


def test_concept_similarity():
    bank = np.array([[1.0, 0, 0], [0, 2.0, 0], [1.0, 1.0, 0]])
    similarity = concept_similarity(bank)
    np.testing.assert_allclose(np.diag(similarity), 1.0, rtol=1e-6)
    np.testing.assert_allclose(similarity, similarity.T)
    assert similarity[0, 1] == pytest.approx(0.0)
    assert similarity[0, 2] == pytest.approx(np.sqrt(0.5), rel=1e-6)


def test_alignment_with_the_dense_classifier(reference_model):
    _, h = split_model(reference_model, "features")
    kernel = reference_model.get_layer("logits").kernel.numpy()  # (64, 6)
    bank = np.abs(np.random.default_rng(0).normal(size=(4, 64)))
    alignment = concept_class_alignment(bank, h)
    assert alignment.shape == (4, 6)
    # the class weight vector itself is perfectly aligned with its class
    own = concept_class_alignment(kernel.T, h)
    np.testing.assert_allclose(np.diag(own), 1.0, rtol=1e-5)
    np.testing.assert_allclose(concept_class_alignment(bank, class_weights=kernel.T), alignment)


def test_bad_inputs_get_clear_errors(planted, reference_model):
    local, _ = planted
    with pytest.raises(ValueError, match="method"):
        strategic_cluster_graph(local, method="pca")
    with pytest.raises(ValueError, match="min_share"):
        strategic_cluster_graph(local, min_share=2.0)
    with pytest.raises(ValueError, match="image_indices"):
        strategic_cluster_graph(local, image_indices=np.arange(3))
    with pytest.raises(ValueError, match="local_importances"):
        strategic_cluster_graph(local[0])
    with pytest.raises(TypeError, match="class_weights"):
        concept_class_alignment(np.ones((2, 64)), lambda a: tf.reduce_mean(a, -1))
    _, h = split_model(reference_model, "features")
    with pytest.raises(ValueError, match=r"\(C, 5\)"):
        concept_class_alignment(np.ones((2, 5)), h)
    with pytest.raises(ValueError, match="Pass"):
        concept_class_alignment(np.ones((2, 5)))


def test_plots_return_figures(planted):
    import matplotlib.pyplot as plt

    from xplique_lens.plots import plot_cluster_graph, plot_extractor_comparison

    local, _ = planted
    graph = strategic_cluster_graph(local, method="tsne")
    images = np.random.default_rng(0).random((30, 8, 8, 3)).astype(np.float32)
    fig = plot_cluster_graph(graph, images=images)
    assert len(fig.axes[0].collections) == 3  # one scatter per top concept
    plt.close(fig)
    table = {
        "PCA": {"reconstruction_error": 0.1, "sparsity_l0": 0.0},
        "KMeans": {"reconstruction_error": 0.3, "sparsity_l0": 0.8},
    }
    fig = plot_extractor_comparison(table)
    plt.close(fig)
    with pytest.raises(ValueError, match="empty"):
        plot_extractor_comparison({})
