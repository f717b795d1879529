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


def _xplique_maco(ax, image, alpha, percentile_image, percentile_alpha) -> None:
    """Xplique's rendering: image clipped at ``percentile_image`` (both tails), multiplied by the
    alpha (channel-mean transparency clipped at ``percentile_alpha``, scaled to 1), normalised,
    drawn as RGBA."""
    image = np.array(image, dtype=np.float32)
    low, high = np.percentile(image, [percentile_image, 100.0 - percentile_image])
    image = np.clip(image, low, high)
    alpha = np.mean(np.array(alpha, dtype=np.float32), axis=-1, keepdims=True)
    alpha = np.clip(alpha, 0, np.percentile(alpha, percentile_alpha))
    alpha = alpha / alpha.max() if alpha.max() > 0 else np.ones_like(alpha)
    image = _display(image * alpha)
    ax.imshow(np.concatenate([image, alpha], -1))
    ax.axis("off")


def _one_visualization(array: Any, name: str) -> np.ndarray:
    """``array`` as one picture: ``maco``'s ``(1, H, W, C)`` batch of one loses its first axis."""
    array = np.asarray(array)
    if array.ndim == 4:
        if array.shape[0] != 1:
            raise ValueError(
                f"`{name}` holds {array.shape[0]} visualizations {array.shape}; plot_maco draws "
                "one: pass one of them, or use plot_maco_grid for the batch."
            )
        array = array[0]
    return array


def plot_maco(
    image: Any,
    transparency: Any | None = None,
    clip_percentile: float = 98.0,
    background: tuple[float, float, float] = (1.0, 1.0, 1.0),
    title: str | None = None,
    img_size: float = 4.0,
    *,
    alpha: Any | None = None,
    percentile_image: float | None = None,
    percentile_alpha: float | None = None,
    ax: Any | None = None,
) -> plt.Figure:
    """Show a MACO image (left) and, if given, the image with its transparency as alpha (right).

    Xplique's call ``plot_maco(image, alpha=transparency, percentile_image=1.0,
    percentile_alpha=80)`` also works: given ``alpha``, ``percentile_image`` or
    ``percentile_alpha`` (or ``ax``), the image is drawn as Xplique does (one RGBA panel, image
    clipped at ``percentile_image``, transparency clipped at ``percentile_alpha``) on ``ax`` or
    the current axes, e.g. inside the caller's subplot grid. (A positional second argument is
    our ``transparency``: the two-panel figure.)

    Parameters
    ----------
    image
        ``(H, W, C)`` visualization (any value range: rescaled for display), or ``maco``'s
        ``(1, H, W, C)`` output for one objective.
    transparency
        ``(H, W, C)`` or ``(H, W)`` accumulated gradients (``maco``'s second output), or
        ``(1, H, W, C)``.
    clip_percentile
        Transparency values above this percentile are fully opaque.
    background
        RGB colour seen through transparent regions.
    title
        Figure title.
    img_size
        Inches per panel.
    alpha
        Xplique's name of the transparency (keyword only): selects Xplique's rendering.
    percentile_image, percentile_alpha
        Xplique's clipping percentiles (defaults 1.0 and 80 in that rendering).
    ax
        Axes of Xplique's rendering (default: the current axes).

    Returns
    -------
    figure
        The new figure, or the figure of the axes drawn on.
    """
    image = _one_visualization(image, "image")
    transparency = (
        None if transparency is None else _one_visualization(transparency, "transparency")
    )
    alpha = None if alpha is None else _one_visualization(alpha, "alpha")
    xplique_style = alpha is not None or ax is not None
    xplique_style = xplique_style or percentile_image is not None or percentile_alpha is not None
    if xplique_style:
        alpha = transparency if alpha is None else alpha
        if alpha is None:
            raise ValueError("Xplique's rendering needs the transparency: pass `alpha=`.")
        ax = plt.gca() if ax is None else ax
        _xplique_maco(
            ax,
            image,
            alpha,
            1.0 if percentile_image is None else float(percentile_image),
            80.0 if percentile_alpha is None else float(percentile_alpha),
        )
        if title:
            ax.set_title(title)
        return ax.figure
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
