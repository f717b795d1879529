"""The attribution plots return figures with the expected panels and reject bad shapes."""

import numpy as np
import pytest

from xplique_lens.plots import plot_attributions, plot_comparison


def test_plot_comparison_grid():
    images = np.random.default_rng(0).random((2, 8, 8, 3))
    maps = {"a": np.ones((2, 8, 8, 1)), "b": np.zeros((2, 8, 8))}
    fig = plot_comparison(maps, images)
    assert len(fig.axes) == 2 * 3
    assert [ax.get_title() for ax in fig.axes[1:3]] == ["a", "b"]
    assert len(plot_attributions(maps["a"], images).axes) == 2


def test_plot_comparison_bad_inputs():
    images = np.zeros((2, 8, 8, 3))
    with pytest.raises(ValueError, match="explanations"):
        plot_comparison({"a": np.zeros((3, 8, 8))}, images)
    with pytest.raises(TypeError):
        plot_comparison([np.zeros((2, 8, 8))], images)
