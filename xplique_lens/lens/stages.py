"""The stages of a Lens class page: each computes arrays from the class's images.

A stage declares the options it reads and the stages it needs; the builder keys its cache on
exactly those, so changing e.g. ``maco_steps`` recomputes only the MACO stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from .options import LensOptions


@dataclass
class ClassContext:
    """What every stage of one class sees."""

    model: keras.Model
    layer: str | int
    class_id: int
    name: str
    images: np.ndarray
    options: LensOptions

    @property
    def examples(self) -> np.ndarray:
        """The images shown with attribution and concept maps."""
        return self.images[: self.options.nb_examples]

    def targets(self, n: int) -> np.ndarray:
        """Integer targets of the class for ``n`` images."""
        return np.full(n, self.class_id, dtype=np.int64)


@dataclass(frozen=True)
class Stage:
    """A named computation with its cache dependencies."""

    name: str
    run: Callable[[ClassContext, dict], dict]
    options: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    version: int = 1


def _overview(ctx: ClassContext, _: dict) -> dict:
    logits = ctx.model.predict(ctx.images, batch_size=64, verbose=0)
    return {
        "accuracy": np.mean(np.argmax(logits, axis=-1) == ctx.class_id),
        "thumbnail": ctx.images[0],
    }


def _attributions(ctx: ClassContext, _: dict) -> dict:
    from ..attributions import Saliency

    examples = ctx.examples
    targets = ctx.targets(len(examples))
    maps = {"Saliency": Saliency(ctx.model)(examples, targets).numpy()}
    return {"names": np.array(list(maps)), "maps": np.stack(list(maps.values()))}


def _maco_class(ctx: ClassContext, _: dict) -> dict:
    from ..features import Objective, maco

    opts = ctx.options
    image, transparency = maco(
        Objective.class_logit(ctx.model, ctx.class_id),
        nb_steps=opts.maco_steps,
        values_range=opts.values_range,
        custom_shape=(opts.maco_size, opts.maco_size),
        seed=opts.seed,
        progress=False,
    )
    return {"image": np.asarray(image)[0], "transparency": np.asarray(transparency)[0]}


def _metrics(ctx: ClassContext, _: dict) -> dict:
    from ..attributions import Saliency
    from ..metrics import Deletion, Insertion

    opts = ctx.options
    images = ctx.images[: opts.metric_images]
    targets = ctx.targets(len(images))
    explainers = {"Saliency": Saliency(ctx.model)}
    rows = []
    for explainer in explainers.values():
        explanations = explainer(images, targets)
        scores = [
            metric(ctx.model, images, targets, steps=opts.metric_steps, activation="softmax")(
                explanations
            )
            for metric in (Deletion, Insertion)
        ]
        rows.append(scores)
    return {"explainers": np.array(list(explainers)), "scores": np.array(rows)}


STAGES: list[Stage] = [
    Stage("overview", _overview),
    Stage("attributions", _attributions, options=("nb_examples",)),
    Stage("maco_class", _maco_class, options=("maco_steps", "maco_size", "values_range", "seed")),
    Stage("metrics", _metrics, options=("metric_images", "metric_steps")),
]
