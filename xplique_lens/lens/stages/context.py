"""What a stage of one class page sees: the model, the layer, the class's images, settings."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import keras
import numpy as np

OptionsT = TypeVar("OptionsT")


@dataclass
class ClassContext(Generic[OptionsT]):
    """What every stage of one class sees.

    Attributes
    ----------
    model
        The explained model.
    layer
        Layer of the concepts.
    class_id, name
        Index and name of the class.
    images
        The class's images (at most ``images_per_class``).
    options
        The build's :class:`~xplique_lens.lens.LensOptions` for the page renderer; inside a
        stage, only that stage's options dataclass (see :func:`with_options`), so that a stage
        cannot read a setting its cache key does not depend on.
    """

    model: keras.Model
    layer: str | int
    class_id: int
    name: str
    images: np.ndarray
    options: OptionsT

    @property
    def examples(self) -> np.ndarray:
        """The images shown with attribution and concept maps (``options.nb_examples``)."""
        return self.images[: self.options.nb_examples]

    def targets(self, n: int) -> np.ndarray:
        """Integer targets of the class for ``n`` images."""
        return np.full(n, self.class_id, dtype=np.int64)

    def with_options(self, options: Any) -> ClassContext:
        """The same context with other ``options`` (a new object; this one is unchanged)."""
        return replace(self, options=options)
