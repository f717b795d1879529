"""The metrics stage: Deletion and Insertion of each explainer of the page."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .attributions import explainers
from .context import ClassContext


@dataclass(frozen=True)
class MetricOptions:
    """Settings of the metric table (fields of :class:`~xplique_lens.lens.LensOptions`); the
    explainers are those of the attribution stage, hence its Sobol settings."""

    metric_images: int
    metric_steps: int
    sobol_grid: int
    sobol_design: int
    seed: int


def compute_metrics(ctx: ClassContext[MetricOptions], _: dict) -> dict:
    """Deletion and Insertion (softmax) of every explainer on ``metric_images`` images:
    ``explainers`` and ``scores`` ``(explainers, 2)``."""
    from ...metrics import Deletion, Insertion

    opts = ctx.options
    images = ctx.images[: opts.metric_images]
    targets = ctx.targets(len(images))
    by_name = explainers(ctx)
    # built once: the curves' explanation-independent end points are scored once per class
    metrics = [
        metric(ctx.model, images, targets, steps=opts.metric_steps, activation="softmax")
        for metric in (Deletion, Insertion)
    ]
    rows = []
    for explainer in by_name.values():
        explanations = explainer(images, targets)
        rows.append([metric(explanations) for metric in metrics])
    return {"explainers": np.array(list(by_name)), "scores": np.array(rows)}
