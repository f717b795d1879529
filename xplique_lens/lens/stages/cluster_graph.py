"""The cluster graph stage: the strategic cluster graph of the class's images.

References
----------
T. Fel et al. *A Holistic Approach to Unifying Automatic Concept Extraction and Concept
Importance Estimation*. NeurIPS 2023. arXiv:2306.07304
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import ClassContext


@dataclass(frozen=True)
class ClusterGraphOptions:
    """Settings of the cluster graph (fields of :class:`~xplique_lens.lens.LensOptions`)."""

    seed: int


def compute_cluster_graph(ctx: ClassContext[ClusterGraphOptions], upstream: dict) -> dict:
    """t-SNE coordinates and strategies of the images from their local concept importances
    (reads the ``concepts`` stage)."""
    from ...concepts.cluster_graph import strategic_cluster_graph

    graph = strategic_cluster_graph(
        upstream["concepts"]["local_importances"], method="tsne", seed=ctx.options.seed
    )
    return {
        "coordinates": graph.coordinates,
        "labels": graph.labels,
        "image_indices": graph.image_indices,
        "strategies": np.asarray(graph.strategies, dtype=np.int64),
        "shares": graph.shares,
    }
