"""The attributions stage: Sobol, Saliency and GradientInput maps of the example images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import ClassContext


@dataclass(frozen=True)
class AttributionOptions:
    """Settings of the attribution examples (fields of :class:`~xplique_lens.lens.LensOptions`)."""

    nb_examples: int
    sobol_grid: int
    sobol_design: int
    seed: int


def explainers(ctx: ClassContext) -> dict:
    """The explainers of a class page, by name (``ctx.options`` holds ``sobol_grid``,
    ``sobol_design`` and ``seed``)."""
    from ...attributions import GradientInput, Saliency, SobolAttributionMethod

    opts = ctx.options
    return {
        "Sobol": SobolAttributionMethod(
            ctx.model, grid_size=opts.sobol_grid, nb_design=opts.sobol_design, seed=opts.seed
        ),
        "Saliency": Saliency(ctx.model),
        "GradientInput": GradientInput(ctx.model),
    }


def compute_attributions(ctx: ClassContext[AttributionOptions], _: dict) -> dict:
    """The maps of every explainer on the example images: ``names`` and ``maps``."""
    examples = ctx.examples
    targets = ctx.targets(len(examples))
    maps = {name: e(examples, targets).numpy() for name, e in explainers(ctx).items()}
    return {"names": np.array(list(maps)), "maps": np.stack(list(maps.values()))}
