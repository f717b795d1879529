"""The MACO stages: the visualization of the class logit, and of each concept direction.

References
----------
T. Fel et al. *Unlocking Feature Visualization for Deeper Networks with MAgnitude Constrained
Optimization*. NeurIPS 2023. arXiv:2306.06805
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import ClassContext


@dataclass(frozen=True)
class MacoOptions:
    """Settings of the MACO images (fields of :class:`~xplique_lens.lens.LensOptions`)."""

    maco_steps: int
    maco_size: int
    maco_crops: int
    values_range: tuple[float, float]
    seed: int


def maco_noise(opts: MacoOptions) -> float:
    """MACO's default noise (0.08 on [0, 1] images) as the same share of ``values_range``."""
    low, high = opts.values_range
    return 0.08 * (float(high) - float(low))


def _maco(objective, opts: MacoOptions) -> tuple[np.ndarray, np.ndarray]:
    """MACO images and transparencies ``(objectives, H, W, C)`` of ``objective``."""
    from ...features import maco

    images, transparencies = maco(
        objective,
        nb_steps=opts.maco_steps,
        values_range=opts.values_range,
        noise_intensity=maco_noise(opts),
        custom_shape=(opts.maco_size, opts.maco_size),
        nb_crops=opts.maco_crops,
        seed=opts.seed,
    )
    return np.asarray(images), np.asarray(transparencies)


def compute_maco_class(ctx: ClassContext[MacoOptions], _: dict) -> dict:
    """The MACO image ``(H, W, C)`` of the class logit and its transparency."""
    from ...features import Objective

    images, transparencies = _maco(Objective.class_logit(ctx.model, ctx.class_id), ctx.options)
    return {"image": images[0], "transparency": transparencies[0]}


def compute_maco_concepts(ctx: ClassContext[MacoOptions], upstream: dict) -> dict:
    """The MACO images ``(concepts, H, W, C)`` of the concept directions at the concept layer,
    most important first (reads the ``concepts`` stage)."""
    from ...features import Objective

    concepts = upstream["concepts"]
    bank = concepts["concept_bank"][concepts["order"]]
    images, _ = _maco(Objective.direction(ctx.model, ctx.layer, bank), ctx.options)
    return {"images": images}
