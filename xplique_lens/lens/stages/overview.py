"""The overview stage: the model's accuracy on the class and a thumbnail."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import ClassContext


@dataclass(frozen=True)
class OverviewOptions:
    """The overview reads no setting (the images enter its cache key themselves)."""


def compute_overview(ctx: ClassContext[OverviewOptions], _: dict) -> dict:
    """Accuracy of the model on the class's images, and the first image as a thumbnail."""
    logits = ctx.model.predict(ctx.images, batch_size=64, verbose=0)
    return {
        "accuracy": np.mean(np.argmax(logits, axis=-1) == ctx.class_id),
        "thumbnail": ctx.images[0],
    }
