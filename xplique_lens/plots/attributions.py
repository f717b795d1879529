"""Draw attribution maps over their images."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np


def _to_image(image: Any) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return image[..., 0] if image.shape[-1] == 1 else image


def plot_attributions(
    explanations: Any,
    images: Any,
    cols: int = 5,
    cmap: str = "jet",
    alpha: float = 0.5,
    clip_percentile: float | None = 99.5,
    absolute_value: bool = False,
    titles: list[str] | None = None,
    img_size: float = 2.0,
) -> plt.Figure:
    """Show each explanation as a heat map over its image; returns the figure.

    Parameters
    ----------
    explanations
        ``(N, H, W)`` or ``(N, H, W, 1)`` maps.
    images
        ``(N, H, W, C)`` images (any value range: each is rescaled to [0, 1] for display).
    cols
        Number of columns of the grid.
    cmap, alpha
        Colour map and opacity of the heat map.
    clip_percentile
        Clip each map at this percentile of its absolute values (outliers hide the rest).
    absolute_value
        Show absolute values.
    titles
        Optional title per image.
    img_size
        Size of each panel in inches.
    """
    maps = np.asarray(explanations, dtype=np.float32)
    if maps.ndim == 4:
        maps = maps[..., 0]
    images = np.asarray(images)
    if maps.ndim != 3 or len(maps) != len(images):
        raise ValueError(
            f"`explanations` must be (N, H, W[, 1]) with one map per image, got {maps.shape} "
            f"for {len(images)} images."
        )
    n = len(maps)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, min(cols, n), figsize=(img_size * min(cols, n), img_size * rows))
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        heat = np.abs(maps[i]) if absolute_value else maps[i]
        if clip_percentile is not None:
            bound = np.percentile(np.abs(heat), clip_percentile)
            heat = np.clip(heat, -bound, bound)
        ax.imshow(_to_image(images[i]))
        ax.imshow(heat, cmap=cmap, alpha=alpha)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def plot_comparison(
    explanations: dict[str, Any],
    images: Any,
    cmap: str = "jet",
    alpha: float = 0.5,
    clip_percentile: float | None = 99.5,
    absolute_value: bool = False,
    img_size: float = 2.0,
) -> plt.Figure:
    """Side-by-side comparison of several explainers: one row per image, one column per method
    (the first column shows the image). Returns the figure.

    Parameters
    ----------
    explanations
        ``{name: maps}`` with maps ``(N, H, W)`` or ``(N, H, W, 1)``, one entry per explainer.
    images
        ``(N, H, W, C)`` images.
    cmap, alpha, clip_percentile, absolute_value, img_size
        As in :func:`plot_attributions`.
    """
    if not isinstance(explanations, dict) or not explanations:
        raise TypeError("`explanations` must be a non-empty dict {name: maps}.")
    images = np.asarray(images)
    n = len(images)
    maps = {}
    for name, value in explanations.items():
        value = np.asarray(value, dtype=np.float32)
        value = value[..., 0] if value.ndim == 4 else value
        if value.ndim != 3 or len(value) != n:
            raise ValueError(
                f"`explanations[{name!r}]` must be (N, H, W[, 1]) with N={n}, got {value.shape}."
            )
        maps[name] = value
    cols = len(maps) + 1
    fig, axes = plt.subplots(n, cols, figsize=(img_size * cols, img_size * n), squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(_to_image(images[i]))
        axes[i, 0].axis("off")
        for k, (name, value) in enumerate(maps.items(), start=1):
            heat = np.abs(value[i]) if absolute_value else value[i]
            if clip_percentile is not None:
                bound = np.percentile(np.abs(heat), clip_percentile)
                heat = np.clip(heat, -bound, bound)
            ax = axes[i, k]
            ax.imshow(_to_image(images[i]))
            ax.imshow(heat, cmap=cmap, alpha=alpha)
            ax.axis("off")
            if i == 0:
                ax.set_title(name, fontsize=8)
    fig.tight_layout()
    return fig
