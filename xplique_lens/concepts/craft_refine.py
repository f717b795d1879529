"""CRAFT's recursion: the link between a child Craft and its parent, and the split it needs.

``Craft.refine(concept_id, layer)`` decomposes a concept into sub-concepts at an earlier layer
(Fel et al. 2023, section 3.3): ``g`` is split again at ``layer``, ``g = rest o first``; the
child Craft has ``first`` as its ``g`` and ``h o rest`` (a :class:`ChainedModel`) as its ``h``,
and is fitted on the parent's top crops of the concept. The child is built through the
constructor with a :class:`CraftLink` saying where it comes from.

References
----------
Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability", CVPR 2023.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from ..commons.model_splitting import find_layer, layer_path, split_model
from ..commons.validation import check_positive_int


@dataclasses.dataclass(frozen=True, eq=False)
class CraftLink:
    """Where a child Craft made by ``refine`` comes from.

    Attributes
    ----------
    parent
        The parent :class:`~xplique_lens.concepts.Craft`.
    concept_id
        The parent's concept that the child decomposes.
    crop_indices
        Indices, in the parent's ``crops_``, of the crops the child is fitted on.
    to_parent_latent
        The part of the model from the child's layer to the parent's layer (``rest``): child
        activations -> parent activations.
    """

    parent: Any
    concept_id: int
    crop_indices: np.ndarray
    to_parent_latent: Callable


class ChainedModel:
    """``x -> second(first(x))``: the logit part ``h`` of a child Craft.

    Parameters
    ----------
    first, second
        Callables (Keras models), applied in this order.
    """

    def __init__(self, first: Callable, second: Callable):
        if not callable(first) or not callable(second):
            raise TypeError(
                "`first` and `second` must be callable, got "
                f"{type(first).__name__} and {type(second).__name__}."
            )
        self.first, self.second = first, second

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        return self.second(self.first(inputs))

    def __repr__(self) -> str:
        return f"ChainedModel({self.first!r}, {self.second!r})"


def has_layer(model: keras.Model, layer: str | int) -> bool:
    """Whether :func:`~xplique_lens.commons.find_layer` finds ``layer`` in ``model``."""
    try:
        find_layer(model, layer)
    except ValueError:
        return False
    return True


def split_before(
    input_to_latent_model: Callable,
    model: keras.Model | None,
    parent_layer: str | None,
    layer: str | int,
) -> tuple[keras.Model, keras.Model, str]:
    """Split ``g`` at an earlier ``layer``: ``(first, rest, path of layer)``.

    Parameters
    ----------
    input_to_latent_model
        The parent's ``g``; a Keras model (it keeps the names and nested paths of the layers
        before the parent layer).
    model
        The whole model when known (``layer`` is then resolved in it), else None (``layer`` is
        resolved in ``g``).
    parent_layer
        Path of the parent's layer (None when unknown).
    layer
        The child's layer, any form of :func:`~xplique_lens.commons.find_layer`.

    Raises
    ------
    ValueError
        If ``g`` is not a Keras model, or ``layer`` is not before the parent layer.
    """
    if not isinstance(input_to_latent_model, keras.Model):
        raise ValueError(
            "`refine` needs a Keras `input_to_latent_model` (or `Craft.from_model`) to cut "
            "at an earlier layer."
        )
    reference = input_to_latent_model if model is None else model
    child_path = layer_path(reference, layer)
    if child_path == parent_layer or not has_layer(input_to_latent_model, child_path):
        raise ValueError(f"`layer` {layer!r} must come before the parent layer {parent_layer!r}.")
    first, rest = split_model(input_to_latent_model, child_path)
    return first, rest, child_path


def refine_nb_crops(nb_crops: Any, n_total: int, number_of_concepts: int) -> int:
    """How many top crops a child is fitted on: ``nb_crops`` (at most all of them), default
    the top quarter of the ``n_total`` crops, at least ``4 * number_of_concepts``."""
    if nb_crops is None:
        nb_crops = min(n_total, max(n_total // 4, 4 * number_of_concepts))
    return min(check_positive_int(nb_crops, "nb_crops"), n_total)
