"""plots.human draws what scoring computed."""

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from xplique_lens.human import score_responses  # noqa: E402
from xplique_lens.plots import plot_human_accuracy, plot_utility  # noqa: E402

from .test_scoring import respond  # noqa: E402


def test_accuracy_and_utility_bars(stub_experiment):
    responses = [
        respond(stub_experiment, "baseline", "b1", 4),
        respond(stub_experiment, "baseline", "b2", 2),
        respond(stub_experiment, "counting", "c1", 6),
        respond(stub_experiment, "counting", "c2", 7),
    ]
    scores = score_responses(stub_experiment, responses)
    fig = plot_human_accuracy(scores)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.375, 0.8125])
    assert ax.patches[0].get_hatch() == "//" and not ax.patches[1].get_hatch()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline", "counting"]
    chance = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert chance and chance[0].get_ydata()[0] == pytest.approx(scores.chance)
    plt.close(fig)

    fig = plot_utility(scores)
    ax = fig.axes[0]
    assert len(ax.patches) == 1  # the baseline has no bar
    utility = scores.conditions["counting"].utility
    assert ax.patches[0].get_height() == pytest.approx(utility)
    low, high = scores.conditions["counting"].utility_ci
    caps = sorted(y for line in ax.lines if line.get_marker() == "_" for y in line.get_ydata())
    assert caps == pytest.approx([low, high])
    plt.close(fig)

    key = stub_experiment.answer_key()
    key["conditions"] = [dict(c, baseline=False) for c in key["conditions"]]
    no_baseline = score_responses(key, responses)
    assert math.isnan(no_baseline.conditions["counting"].utility)
    with pytest.raises(ValueError, match="no baseline"):
        plot_utility(no_baseline)
