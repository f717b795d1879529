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


STAGES: list[Stage] = [
    Stage("overview", _overview),
    Stage("attributions", _attributions, options=("nb_examples",)),
]
