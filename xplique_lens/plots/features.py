"""Draw feature visualizations, with their transparency (attribution) maps as alpha."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np


def _display(image: Any) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    low, high = float(image.min()), float(image.max())
    image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image


def transparency_alpha(transparency: Any, clip_percentile: float = 98.0) -> np.ndarray:
    """``(H, W)`` alpha in [0, 1]: channel-mean transparency clipped at a high percentile (MACO)."""
    alpha = np.asarray(transparency, dtype=np.float32)
    if alpha.ndim == 3:
        alpha = alpha.mean(axis=-1)
    high = float(np.percentile(alpha, clip_percentile))
    return np.clip(alpha / high, 0.0, 1.0) if high > 0 else np.ones_like(alpha)


def _draw(ax, image, transparency, clip_percentile, background):
    shown = _display(image)
    if transparency is not None:
        alpha = transparency_alpha(transparency, clip_percentile)[..., None]
        shown = shown * alpha + np.asarray(background, np.float32) * (1.0 - alpha)
    ax.imshow(shown)
    ax.axis("off")


def plot_maco(
    image: Any,
    transparency: Any | None = None,
    clip_percentile: float = 98.0,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    title: str | None = None,
    img_size: float = 4.0,
) -> plt.Figure:
    """Show a MACO image (left) and, if given, the image with its transparency as alpha (right).

    Parameters
    ----------
    image
        ``(H, W, C)`` visualization (any value range: rescaled for display).
    transparency
        ``(H, W, C)`` or ``(H, W)`` accumulated gradients (``maco``'s second output).
    clip_percentile
        Transparency values above this percentile are fully opaque.
    background
        RGB colour seen through transparent regions.
    title
        Figure title.
    img_size
        Inches per panel.
    """
    panels = 1 if transparency is None else 2
    fig, axes = plt.subplots(1, panels, figsize=(img_size * panels, img_size), squeeze=False)
    _draw(axes[0, 0], image, None, clip_percentile, background)
    if transparency is not None:
        _draw(axes[0, 1], image, transparency, clip_percentile, background)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_maco_grid(
    images: Any,
    transparencies: Any | None = None,
    titles: list[str] | None = None,
    cols: int = 6,
    clip_percentile: float = 98.0,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    img_size: float = 2.0,
) -> plt.Figure:
    """A grid of visualizations of many objectives (e.g. a batch returned by ``maco``).

    Parameters
    ----------
    images
        ``(B, H, W, C)`` visualizations.
    transparencies
        Optional ``(B, H, W, C)`` transparency maps, drawn as alpha.
    titles
        One title per image (e.g. ``objective.names``).
    cols
        Images per row.
    clip_percentile, background, img_size
        As in :func:`plot_maco`.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    count = len(images)
    cols = max(1, min(cols, count))
    rows = int(np.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(img_size * cols, img_size * rows), squeeze=False)
    for index, ax in enumerate(axes.ravel()):
        if index >= count:
            ax.axis("off")
            continue
        alpha = None if transparencies is None else np.asarray(transparencies[index])
        _draw(ax, images[index], alpha, clip_percentile, background)
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=8)
    fig.tight_layout()
    return fig
