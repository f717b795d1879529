"""Draw the results of a human utility experiment (Colin, Fel et al., NeurIPS 2022)."""

from __future__ import annotations

import math
from typing import Any

import matplotlib.pyplot as plt
import numpy as np


def _errors(values: list[float], intervals: list[tuple[float, float]]) -> np.ndarray:
    """Asymmetric error bars ``(2, n)`` from intervals; 0 where an interval is undefined."""
    low = [v - lo if not math.isnan(lo) else 0.0 for v, (lo, _) in zip(values, intervals)]
    high = [hi - v if not math.isnan(hi) else 0.0 for v, (_, hi) in zip(values, intervals)]
    return np.clip(np.array([low, high]), 0, None)


def _axes(ax: plt.Axes | None, figsize: tuple[float, float]) -> tuple[plt.Figure, plt.Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_human_accuracy(
    scores: Any,
    ax: plt.Axes | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (6.0, 4.0),
) -> plt.Figure:
    """Accuracy of the participants of each condition at predicting the model, with intervals.

    Bars are the mean accuracy per condition (the baseline hatched), error bars the confidence
    interval of :func:`~xplique_lens.human.score_responses`, the dotted line the chance level
    (always answering the most frequent decision). Returns the figure.

    Parameters
    ----------
    scores
        A :class:`~xplique_lens.human.UtilityScores`.
    ax
        Axes to draw on; a new figure when ``None``.
    title
        Axes title.
    figsize
        Size of a new figure.
    """
    fig, ax = _axes(ax, figsize)
    rows = list(scores.conditions.values())
    names = [r.name for r in rows]
    values = [r.accuracy for r in rows]
    bars = ax.bar(
        np.arange(len(rows)),
        np.nan_to_num(values),
        yerr=_errors(values, [r.accuracy_ci for r in rows]),
        capsize=4,
        color=["#bbbbbb" if r.is_baseline else "#1f77b4" for r in rows],
    )
    for bar, row in zip(bars, rows):
        if row.is_baseline:
            bar.set_hatch("//")
    ax.axhline(scores.chance, color="k", linestyle=":", linewidth=1, label="chance")
    ax.set_xticks(np.arange(len(rows)), names, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy at predicting the model")
    ax.set_title(title or f"Accuracy per condition ({scores.confidence:.0%} {scores.interval} CI)")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_utility(
    scores: Any,
    ax: plt.Axes | None = None,
    title: str | None = None,
    figsize: tuple[float, float] = (6.0, 4.0),
) -> plt.Figure:
    """Utility of each explanation, ``(acc - acc_baseline) / acc_baseline``, with intervals.

    One bar per condition other than the baseline (green above 0: the explanation helped,
    red below: it hurt), bootstrap intervals as error bars. Returns the figure.

    Parameters
    ----------
    scores
        A :class:`~xplique_lens.human.UtilityScores` with a baseline.
    ax
        Axes to draw on; a new figure when ``None``.
    title
        Axes title.
    figsize
        Size of a new figure.
    """
    if scores.baseline is None:
        raise ValueError("`scores` has no baseline condition: utilities are undefined.")
    fig, ax = _axes(ax, figsize)
    rows = [r for r in scores.conditions.values() if not r.is_baseline]
    values = [r.utility for r in rows]
    ax.bar(
        np.arange(len(rows)),
        np.nan_to_num(values),
        yerr=_errors(values, [r.utility_ci for r in rows]),
        capsize=4,
        color=["#2ca02c" if v > 0 else "#d62728" for v in np.nan_to_num(values)],
    )
    ax.axhline(0, color="k", linewidth=1)
    ax.set_xticks(np.arange(len(rows)), [r.name for r in rows], rotation=30, ha="right")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:+.0%}"))
    ax.set_ylabel(f"utility (vs {scores.baseline})")
    ax.set_title(title or "Utility: relative accuracy gain over the baseline")
    fig.tight_layout()
    return fig
