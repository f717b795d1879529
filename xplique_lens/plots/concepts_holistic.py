"""Draw the holistic concept framework: strategic cluster graph, extractor comparison table."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .images import to_display_image

_COLORS = plt.get_cmap("tab10").colors


def plot_cluster_graph(
    graph: Any,
    images: Any = None,
    concept_names: dict[int, str] | None = None,
    nb_thumbnails: int = 3,
    ax: Any = None,
) -> plt.Figure:
    """Scatter of a :class:`~xplique_lens.concepts.ClusterGraph`, coloured by top concept.

    With ``images`` (indexed by ``graph.image_indices``), up to ``nb_thumbnails`` images of
    each main strategy are drawn as thumbnails next to their points. Returns the figure.
    """
    names = concept_names or {}
    fig = plt.figure(figsize=(6, 5)) if ax is None else ax.figure
    ax = fig.gca() if ax is None else ax
    xy = np.asarray(graph.coordinates)
    for concept in np.unique(graph.labels):
        points = graph.labels == concept
        main = int(concept) in graph.strategies
        ax.scatter(
            xy[points, 0],
            xy[points, 1],
            s=40 if main else 15,
            color=_COLORS[int(concept) % 10],
            alpha=0.9 if main else 0.4,
            label=f"{names.get(int(concept), f'concept {concept}')} "
            f"({graph.shares[int(concept)]:.0%})",
        )
    if images is not None and nb_thumbnails:
        from matplotlib.offsetbox import AnnotationBbox, OffsetImage

        images = np.asarray(images)
        for concept in graph.strategies:
            rows = np.flatnonzero(graph.labels == concept)[:nb_thumbnails]
            for row in rows:
                thumb = OffsetImage(to_display_image(images[graph.image_indices[row]]), zoom=0.35)
                box = AnnotationBbox(
                    thumb,
                    xy[row],
                    frameon=True,
                    bboxprops={"edgecolor": _COLORS[concept % 10], "linewidth": 2},
                )
                ax.add_artist(box)
    ax.set_title(f"strategic cluster graph ({graph.method})")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="best")
    return fig


_BETTER_LOW = {"reconstruction_error", "stability", "fid", "ood"}


def plot_extractor_comparison(table: dict[str, dict[str, float]], digits: int = 3) -> plt.Figure:
    """The extractor comparison table of :func:`~xplique_lens.concepts.compare_extractors`,
    best value of each column in bold. Returns the figure."""
    if not table:
        raise ValueError("`table` is empty.")
    names = list(table)
    columns = list(table[names[0]])
    values = np.array([[table[n][c] for c in columns] for n in names], dtype=np.float64)
    fig, ax = plt.subplots(figsize=(1.6 * (len(columns) + 1), 0.45 * (len(names) + 2)))
    ax.axis("off")
    labels = [f"{c} {'↓' if c in _BETTER_LOW else '↑'}" for c in columns]
    cells = [[f"{v:.{digits}f}" for v in row] for row in values]
    drawn = ax.table(cellText=cells, rowLabels=names, colLabels=labels, loc="center")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(8)
    for j, column in enumerate(columns):
        best = np.nanargmin(values[:, j]) if column in _BETTER_LOW else np.nanargmax(values[:, j])
        drawn[best + 1, j].get_text().set_fontweight("bold")
    return fig
