"""Plots of feature visualizations return figures with the right panels."""

import matplotlib.pyplot as plt
import numpy as np

from xplique_lens.plots import plot_maco, plot_maco_grid
from xplique_lens.plots.features import transparency_alpha


def test_plot_maco_and_grid(rng):
    image = rng.uniform(size=(16, 20, 3)).astype(np.float32)
    transparency = rng.uniform(size=(16, 20, 3)).astype(np.float32)
    fig = plot_maco(image, transparency, title="unit")
    assert len([ax for ax in fig.axes if ax.images]) == 2
    plt.close(fig)
    fig = plot_maco_grid(
        np.stack([image] * 5), np.stack([transparency] * 5), titles=list("abcde"), cols=3
    )
    assert len(fig.axes) == 6 and len([ax for ax in fig.axes if ax.images]) == 5
    plt.close(fig)
    gray = plot_maco_grid(rng.uniform(size=(2, 8, 8, 1)))
    assert len(gray.axes) == 2
    plt.close(gray)


def test_transparency_alpha_clips_at_percentile():
    transparency = np.arange(100, dtype=np.float32).reshape(10, 10)
    alpha = transparency_alpha(transparency, clip_percentile=50)
    assert alpha.max() == 1.0 and alpha.min() == 0.0
    assert np.isclose(alpha[0, 1], 1.0 / np.percentile(transparency, 50))
