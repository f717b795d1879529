"""Draw metric results: the baseline trade-off of *Back to the Baseline*."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_baseline_tradeoff(
    comparison: Any, metric: str = "deletion", figsize: tuple[float, float] = (12.0, 4.5)
) -> plt.Figure:
    """Trade-off of baselines, and the ranking of explainers under each; returns the figure.

    Left: each baseline as a point, x = OOD-ness (k-NN distance to real images, lower is more in
    distribution), y = information removal (sum of sigmoid logits along the deletion path, lower
    removes more); the good baselines sit in the bottom-left corner. Right: the rank of each
    explainer (1 = best) for ``metric`` under each baseline, a line per explainer: crossing
    lines are the ranking changes (Picard et al. 2025, *Back to the Baseline*).

    Parameters
    ----------
    comparison
        A :class:`~xplique_lens.metrics.baseline_criteria.BaselineComparison`.
    metric
        ``"deletion"``, ``"insertion"`` or ``"srg"``.
    figsize
        Figure size in inches.
    """
    criteria = comparison.criteria()
    baselines = list(comparison.baselines)
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize)
    ood = np.array([criteria[b]["ood"] for b in baselines])
    removal = np.array([criteria[b]["information_removal"] for b in baselines])
    left.scatter(ood, removal, c=np.arange(len(baselines)), cmap="tab20", s=60)
    for b, x, y in zip(baselines, ood, removal):
        left.annotate(b, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    left.set_xlabel("OOD-ness (k-NN distance in penultimate features)")
    left.set_ylabel("information kept (sum of sigmoid logits)")
    left.set_title("Baseline criteria (lower-left is better)")

    ranking = comparison.ranking(metric)
    positions = np.arange(len(baselines))
    for explainer in comparison.explainers:
        ranks = [ranking[b].index(explainer) + 1 for b in baselines]
        right.plot(positions, ranks, marker="o", label=explainer)
    right.set_xticks(positions, baselines, rotation=60, ha="right", fontsize=8)
    right.set_yticks(np.arange(1, len(comparison.explainers) + 1))
    right.invert_yaxis()
    right.set_ylabel(f"rank by {metric} (1 = best)")
    right.set_title("Ranking of explainers per baseline")
    right.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig
