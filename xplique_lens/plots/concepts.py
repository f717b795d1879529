"""Draw CRAFT results: concept crops, importance bars, concept attribution map overlays."""

from __future__ import annotations

from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from .images import to_display_image

_COLORS = plt.get_cmap("tab10").colors


def plot_concept_importances(
    importances: Any, nb_most_important_concepts: int | None = None, ax: Any = None
) -> plt.Figure:
    """Horizontal bars of the concept importances, most important first; returns the figure."""
    importances = np.asarray(importances, dtype=np.float32).ravel()
    order = np.argsort(importances)[::-1][:nb_most_important_concepts]
    fig = plt.figure(figsize=(4, 0.35 * len(order) + 1)) if ax is None else ax.figure
    ax = fig.gca() if ax is None else ax
    ax.barh(
        range(len(order))[::-1],
        importances[order],
        color=[_COLORS[i % 10] for i in range(len(order))],
    )
    ax.set_yticks(range(len(order))[::-1], [f"concept {c}" for c in order])
    ax.set_xlabel("total Sobol index")
    return fig


def plot_concept_crops(
    craft: Any, concept_ids: Any = None, nb_crops: int = 8, img_size: float = 1.2
) -> plt.Figure:
    """One row per concept with its ``nb_crops`` top crops (``craft.top_crops``)."""
    if concept_ids is None:
        concept_ids = getattr(craft, "importances_", None)
        concept_ids = (
            range(craft.number_of_concepts)
            if concept_ids is None
            else np.argsort(craft.importances_)[::-1]
        )
    concept_ids = list(concept_ids)
    fig, axes = plt.subplots(
        len(concept_ids),
        nb_crops,
        figsize=(nb_crops * img_size, len(concept_ids) * img_size),
        squeeze=False,
    )
    for row, concept in enumerate(concept_ids):
        crops, _ = craft.top_crops(int(concept), nb_crops)
        for col in range(nb_crops):
            ax = axes[row, col]
            ax.axis("off")
            if col < len(crops):
                ax.imshow(to_display_image(crops[col]))
        axes[row, 0].set_title(
            f"concept {concept}", fontsize=8, loc="left", color=_COLORS[row % 10]
        )
    return fig


def plot_concept_attribution_maps(
    images: Any,
    maps: Any,
    concept_ids: Any,
    percentile: float = 90.0,
    alpha: float = 0.6,
    cols: int = 4,
    img_size: float = 2.5,
) -> plt.Figure:
    """Overlay, on each image, where each of ``concept_ids`` is (its map above ``percentile``).

    ``maps`` is ``(N, H, W, r)`` from ``Craft.concept_attribution_maps``; one colour per
    concept, with a legend.
    """
    images, maps = np.asarray(images), np.asarray(maps, dtype=np.float32)
    if maps.ndim != 4 or len(maps) != len(images):
        raise ValueError(f"`maps` must be (N, H, W, r) with N={len(images)}, got {maps.shape}.")
    concept_ids = [int(c) for c in concept_ids]
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * img_size, rows * img_size), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, image in enumerate(images):
        ax = axes.ravel()[i]
        ax.imshow(to_display_image(image))
        for j, concept in enumerate(concept_ids):
            heat = np.maximum(maps[i, ..., concept], 0)
            threshold = np.percentile(heat, percentile)
            overlay = np.zeros((*heat.shape, 4), np.float32)
            overlay[..., :3] = _COLORS[j % 10]
            overlay[..., 3] = alpha * (heat > threshold) * (heat / max(heat.max(), 1e-12))
            ax.imshow(overlay)
    handles = [
        matplotlib.patches.Patch(color=_COLORS[j % 10], label=f"concept {c}")
        for j, c in enumerate(concept_ids)
    ]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 5))
    return fig
