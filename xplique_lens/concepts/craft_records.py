"""Xplique 2.0.2's records and helper types of CRAFT and holistic CRAFT.

``DisplayImportancesOrder`` (plot order), ``EncodedData`` (what holistic CRAFT's ``encode``
returns), ``PartialExplainer`` (a deferred explainer), ``Factorization`` and ``Sensitivity``
(``craft.factorization`` / ``craft.sensitivity``), under Xplique's names and fields, so that
code written against ``xplique.concepts`` keeps working. Also importable from
:mod:`xplique_lens.concepts.xplique_names`.

References
----------
Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability", CVPR 2023.
Fel et al., "A Holistic Approach to Unifying Automatic Concept Extraction and Concept
Importance Estimation", NeurIPS 2023.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

import numpy as np


class DisplayImportancesOrder(Enum):
    """Order of the concepts in CRAFT plots: ``GLOBAL`` (importance over the class) or
    ``LOCAL`` (importance for the one image shown), as Xplique."""

    GLOBAL = 0
    LOCAL = 1


class EncodedData(NamedTuple):
    """What ``HolisticCraft.encode`` returns per batch: the latent data and its concept codes.

    Attributes
    ----------
    latent_data
        The latent representation (``get_activations`` / ``set_activations``).
    coeffs_u
        Concept codes ``U``: a NumPy array, or a ``tf.Tensor`` keeping the gradient when encoded
        with ``differentiable=True``.
    """

    latent_data: Any
    coeffs_u: Any


class PartialExplainer:
    """An explainer class and its settings, instantiated later with ``model`` and
    ``batch_size`` (Xplique's deferred explainer of holistic CRAFT).

    Parameters
    ----------
    explainer_class
        An explainer class (ours or Xplique's) or a factory accepting ``model=`` and
        ``batch_size=``.
    **kwargs
        Its other settings (``operator``, ``reducer``, ``grid_size``...), never ``model`` or
        ``batch_size``.

    Raises
    ------
    ValueError
        If ``model`` or ``batch_size`` is given in ``kwargs``.
    TypeError
        If ``explainer_class`` is not callable.
    """

    def __init__(self, explainer_class: Callable, **kwargs: Any):
        if "model" in kwargs or "batch_size" in kwargs:
            raise ValueError(
                "PartialExplainer must not receive `model` or `batch_size` (got "
                f"{sorted(k for k in kwargs if k in ('model', 'batch_size'))}): they are "
                "provided when the explanation is computed."
            )
        if not callable(explainer_class):
            raise TypeError(
                f"`explainer_class` must be an explainer class or factory, got "
                f"{type(explainer_class).__name__}."
            )
        self.explainer_class = explainer_class
        self.kwargs = dict(kwargs)

    def __call__(self, model: Callable, batch_size: int | None) -> Any:
        """The explainer ``explainer_class(model=model, batch_size=batch_size, **kwargs)``."""
        return self.explainer_class(model=model, batch_size=batch_size, **self.kwargs)

    def __repr__(self) -> str:
        name = getattr(self.explainer_class, "__name__", repr(self.explainer_class))
        return f"PartialExplainer({name}, {self.kwargs!r})"


@dataclasses.dataclass
class Factorization:
    """Xplique's record of a CRAFT factorization (``craft.factorization``).

    Attributes
    ----------
    inputs
        The images given to ``fit`` (``None`` for holistic CRAFT).
    class_id
        The explained class.
    crops
        The crops ``X`` (``None`` for holistic CRAFT).
    reducer
        The fitted extractor / factorizer.
    crops_u
        Codes of the crops ``U`` (``None`` for holistic CRAFT).
    concept_bank_w
        The concept bank ``W`` ``(r, p)``.
    coeffs_u
        Codes of every position of the fitted images (holistic CRAFT).
    """

    inputs: np.ndarray | None
    class_id: int
    crops: np.ndarray | None
    reducer: Any
    crops_u: np.ndarray | None
    concept_bank_w: np.ndarray
    coeffs_u: np.ndarray | None = None


@dataclasses.dataclass
class Sensitivity:
    """Xplique's record of the global concept importances (``craft.sensitivity``).

    Attributes
    ----------
    importances
        Total Sobol index of each concept ``(r,)``.
    most_important_concepts
        Concept ids by decreasing importance.
    """

    importances: np.ndarray
    most_important_concepts: np.ndarray
