"""Xplique's plotting signatures: ``plot_attributions`` and ``plot_maco``."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from xplique_lens.plots import plot_attributions, plot_maco

matplotlib.use("Agg")


def test_plot_attributions_xplique_arguments():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(3, 8, 8, 3)).astype(np.float32)
    maps[0, 0, 0] = 1000.0  # an outlier
    images = rng.uniform(size=(3, 8, 8, 3))
    # Xplique's positional order: explanations, images, cmap, alpha, clip_percentile, ...
    fig = plot_attributions(maps, images, "viridis", 0.3, 0.1, False, 2, 1.5, vmin=-1.0)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 4 and len(panels) == 3
    heat = panels[0].images[-1]
    assert heat.get_cmap().name == "viridis" and heat.get_alpha() == 0.3
    assert heat.norm.vmin == -1.0  # **plot_kwargs reach imshow
    mean = maps[0].mean(-1)  # channels averaged, then clipped between percentiles 0.1 / 99.9
    assert heat.get_array().max() == pytest.approx(np.percentile(mean, 99.9), rel=1e-5)
    alone = plot_attributions(maps[:2])  # no images, as Xplique allows
    assert [len(ax.images) for ax in alone.axes] == [1, 1]
    with pytest.raises(ValueError, match="clip_percentile"):
        plot_attributions(maps, images, clip_percentile=120)
    plt.close("all")


def test_plot_maco_xplique_rendering():
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(8, 8, 3)).astype(np.float32)
    transparency = rng.uniform(size=(8, 8, 3)).astype(np.float32)
    fig, axes = plt.subplots(1, 2)
    plt.sca(axes[1])
    drawn = plot_maco(image, alpha=transparency, percentile_alpha=50)  # Xplique's call
    assert drawn is fig and not axes[0].images and len(axes[1].images) == 1
    rgba = axes[1].images[0].get_array()
    assert rgba.shape == (8, 8, 4) and float(rgba[..., 3].max()) == 1.0
    assert float(rgba[..., 3].min()) < 1.0
    ours = plot_maco(image, transparency)  # our two-panel figure is unchanged
    assert ours is not fig and len([ax for ax in ours.axes if ax.images]) == 2
    plt.close("all")
