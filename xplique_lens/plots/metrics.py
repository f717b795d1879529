"""Draw metric results: the baseline trade-off of *Back to the Baseline*."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np


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


def plot_mege_distances(
    result: Any,
    ax: plt.Axes | None = None,
    bins: int = 30,
    title: str | None = None,
    figsize: tuple[float, float] = (6.0, 4.0),
) -> plt.Figure:
    """Distributions of the Spearman distances ``S=`` and ``S!=`` with the ReCo threshold.

    ``S=`` (both models right) should sit at small distances and ``S!=`` (one model wrong) at
    large ones; ReCo is how well the dashed threshold separates them (Fel, Vigouroux et al.,
    *How Good is your Explanation?*, WACV 2022). Returns the figure.

    Parameters
    ----------
    result
        A :class:`~xplique_lens.metrics.stability.MeGeResult` (``MeGe.detailed_evaluate``).
    ax
        Axes to draw on; a new figure when ``None``.
    bins
        Number of histogram bins over ``[0, 1]``.
    title
        Axes title; MeGe and ReCo by default.
    figsize
        Size of a new figure, in inches.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    edges = np.linspace(0.0, 1.0, bins + 1)
    for values, label, color in (
        (result.s_eq, f"$S^=$ both right (n={len(result.s_eq)})", "tab:blue"),
        (result.s_ne, f"$S^{{\\neq}}$ one wrong (n={len(result.s_ne)})", "tab:red"),
    ):
        if len(values):
            ax.hist(values, bins=edges, density=True, alpha=0.5, color=color, label=label)
    if np.isfinite(result.reco_threshold):
        ax.axvline(result.reco_threshold, color="k", linestyle="--", label="ReCo threshold")
    ax.set_xlabel("Spearman distance $\\sqrt{1 - |\\rho|}$")
    ax.set_ylabel("density")
    ax.set_xlim(0.0, 1.0)
    ax.set_title(title if title is not None else f"MeGe={result.mege:.3f}  ReCo={result.reco:.3f}")
    ax.legend(fontsize=8)
    return fig
