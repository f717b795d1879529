"""Draw attribution maps over their images."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .images import to_display_image


def _clip(heat: np.ndarray, clip_percentile: float | None) -> np.ndarray:
    """Clip outliers: ``p >= 50`` bounds ``|x|`` by its ``p``-th percentile (ours); ``p < 50`` is
    Xplique's convention, values clipped between their ``p``-th and ``(100 - p)``-th
    percentiles."""
    if clip_percentile is None:
        return heat
    if clip_percentile >= 50.0:
        bound = np.percentile(np.abs(heat), clip_percentile)
        return np.clip(heat, -bound, bound)
    low, high = np.percentile(heat, [clip_percentile, 100.0 - clip_percentile])
    return np.clip(heat, low, high)


def plot_attributions(
    explanations: Any,
    images: Any = None,
    cmap: str = "jet",
    alpha: float = 0.5,
    clip_percentile: float | None = 99.5,
    absolute_value: bool = False,
    cols: int = 5,
    img_size: float = 2.0,
    titles: list[str] | None = None,
    **plot_kwargs: Any,
) -> plt.Figure:
    """Show each explanation as a heat map over its image; returns the figure.

    Takes the arguments of Xplique's ``xplique.plots.plot_attributions`` in its order
    (``explanations, images, cmap, alpha, clip_percentile, absolute_value, cols, img_size,
    **plot_kwargs``); differences: the defaults ``cmap="jet"`` and ``clip_percentile=99.5``
    (Xplique: ``"viridis"``, ``0.1``; both clip outliers, see below), a new figure is returned
    (Xplique draws on the current one), and ``titles``.

    Parameters
    ----------
    explanations
        ``(N, H, W)`` or ``(N, H, W, C)`` maps (channels averaged, as Xplique).
    images
        ``(N, H, W, C)`` images (any value range: each is rescaled to [0, 1] for display), or
        ``None`` to show the maps alone.
    cmap, alpha
        Colour map and opacity of the heat map.
    clip_percentile
        Outlier clipping: ``p >= 50`` clips ``|map|`` at its ``p``-th percentile; ``p < 50``
        (Xplique's convention, e.g. ``0.1``) clips between the ``p``-th and ``(100 - p)``-th
        percentiles; ``None``: no clipping.
    absolute_value
        Show absolute values.
    cols
        Number of columns of the grid.
    img_size
        Size of each panel in inches.
    titles
        Optional title per image.
    **plot_kwargs
        Passed to ``imshow`` of the heat maps (as Xplique).
    """
    maps = np.asarray(explanations, dtype=np.float32)
    if maps.ndim == 4:
        maps = maps.mean(axis=-1)
    if clip_percentile is not None and not 0.0 <= float(clip_percentile) <= 100.0:
        raise ValueError(f"`clip_percentile` must be in [0, 100] or None, got {clip_percentile!r}.")
    if images is not None:
        images = np.asarray(images)
    if maps.ndim != 3 or (images is not None and len(maps) != len(images)):
        raise ValueError(
            f"`explanations` must be (N, H, W[, C]) with one map per image, got {maps.shape}"
            + ("" if images is None else f" for {len(images)} images")
            + "."
        )
    n = len(maps)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, min(cols, n), figsize=(img_size * min(cols, n), img_size * rows))
    axes = np.atleast_1d(axes).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        heat = _clip(np.abs(maps[i]) if absolute_value else maps[i], clip_percentile)
        options = dict(plot_kwargs)
        if images is not None:
            shown = to_display_image(images[i])
            ax.imshow(shown, cmap="Greys" if shown.ndim == 2 else None)
            height, width = shown.shape[:2]
            options.setdefault("extent", (-0.5, width - 0.5, height - 0.5, -0.5))
        ax.imshow(heat, cmap=cmap, alpha=alpha, **options)
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
        axes[i, 0].imshow(to_display_image(images[i]))
        axes[i, 0].axis("off")
        for k, (name, value) in enumerate(maps.items(), start=1):
            heat = _clip(np.abs(value[i]) if absolute_value else value[i], clip_percentile)
            ax = axes[i, k]
            ax.imshow(to_display_image(images[i]))
            ax.imshow(heat, cmap=cmap, alpha=alpha)
            ax.axis("off")
            if i == 0:
                ax.set_title(name, fontsize=8)
    fig.tight_layout()
    return fig
