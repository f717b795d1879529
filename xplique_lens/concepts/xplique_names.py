"""Xplique 2.0.2's CRAFT names: ``CraftTf``, ``CraftManagerTf`` and their helper types.

Thin adapters over :class:`~xplique_lens.concepts.Craft` and
:class:`~xplique_lens.concepts.CraftManager` with Xplique's signatures and return conventions,
so that ``from xplique.concepts import CraftTf`` can become
``from xplique_lens.concepts import CraftTf``:

- ``CraftTf.fit`` returns ``(crops, crops_u, concept_bank_w)`` and fills ``factorization``;
  ``estimate_importance()`` fills ``sensitivity``; both models must be Keras models (a
  ``TypeError`` otherwise, as Xplique);
- the ``plot_*`` methods delegate to :mod:`xplique_lens.plots.concepts` (figures returned);
- ``CraftManagerTf`` holds ``CraftTf`` instances, ``fit`` and ``estimate_importance`` take
  Xplique's ``verbose``.

The computations are those of :class:`~xplique_lens.concepts.Craft` (TensorFlow NMF, batched
Sobol importance, implicit-differentiation concept maps); see its docstring for the
differences with Xplique.

References
----------
Fel, Picard, Béthune, Boissin, Vigouroux, Colin, Cadène, Serre, "CRAFT: Concept Recursive
Activation FacTorization for Explainability", CVPR 2023 (arXiv 2211.10154).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import matplotlib.pyplot as plt
import numpy as np

from ..commons.validation import check_is_fitted, check_positive_int
from .craft import Craft
from .craft_manager import CraftManager
from .craft_records import (
    DisplayImportancesOrder,
    EncodedData,
    Factorization,
    PartialExplainer,
    Sensitivity,
)

__all__ = [
    "CraftManagerTf",
    "CraftTf",
    "DisplayImportancesOrder",
    "EncodedData",
    "Factorization",
    "PartialExplainer",
    "Sensitivity",
]


def _check_keras(model: Any, name: str) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`{name}` must be a Keras model (CraftTf, as Xplique), got {type(model).__name__}; "
            "use `Craft` for any callable."
        )


class CraftTf(Craft):
    """Xplique 2.0.2's ``CraftTf``: CRAFT for one class, with Xplique's conventions.

    Same parameters, defaults and order as ``xplique.concepts.CraftTf``; the computation is
    :class:`~xplique_lens.concepts.Craft`'s (TensorFlow NMF instead of scikit-learn's, so the
    concepts differ from Xplique's by the factorization's own randomness; the Sobol importance
    estimator and design are Xplique's). Differences with :class:`Craft`: ``fit`` returns
    ``(crops, crops_u, concept_bank_w)`` instead of ``self``; ``factorization`` and
    ``sensitivity`` hold Xplique's records; the ``plot_*`` methods exist (they draw with
    :mod:`xplique_lens.plots.concepts` and return the figure, layouts differ from Xplique's).
    Everything of :class:`Craft` (``concept_attribution_maps``, ``refine``,
    ``activation_policy``...) works as well.

    Parameters
    ----------
    input_to_latent_model
        ``g``, a Keras model: images -> non-negative activations.
    latent_to_logit_model
        ``h``, a Keras model: activations -> logits.
    number_of_concepts
        Number of concepts.
    batch_size
        Forward passes per batch.
    patch_size
        Side of the crops.

    Raises
    ------
    TypeError
        If a model is not a Keras model (as Xplique).

    References
    ----------
    Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability",
    CVPR 2023.
    """

    def __init__(
        self,
        input_to_latent_model: Callable,
        latent_to_logit_model: Callable,
        number_of_concepts: int = 20,
        batch_size: int = 64,
        patch_size: int = 64,
        **craft_kwargs: Any,
    ):
        _check_keras(input_to_latent_model, "input_to_latent_model")
        _check_keras(latent_to_logit_model, "latent_to_logit_model")
        super().__init__(
            input_to_latent_model,
            latent_to_logit_model,
            number_of_concepts,
            batch_size,
            patch_size,
            **craft_kwargs,
        )
        self.factorization: Factorization | None = None
        self.sensitivity: Sensitivity | None = None

    def check_if_fitted(self) -> None:
        """Raise ``NotFittedError`` if ``fit`` was not called (Xplique's name)."""
        check_is_fitted(self, "concept_bank_", hint="fit(inputs, class_id)")

    def fit(
        self, inputs: Any, class_id: int = 0, verbose: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Fit the concepts of a class; returns ``(crops, crops_u, concept_bank_w)`` as Xplique.

        Parameters
        ----------
        inputs
            Images of the class ``(N, H, W, C)``.
        class_id
            Index of the class logit.
        verbose
            Show a progress bar (not in Xplique, whose ``fit`` is silent).

        Returns
        -------
        crops, crops_u, concept_bank_w
            The crops ``(M, patch, patch, C)``, their codes ``(M, r)`` and the bank ``(r, p)``.
        """
        super().fit(inputs, class_id, verbose=verbose)
        self.factorization = Factorization(
            inputs=self.inputs_.numpy(),
            class_id=self.class_id_,
            crops=self.crops_,
            reducer=self.extractor,
            crops_u=self.crops_u_,
            concept_bank_w=self.concept_bank_,
        )
        self.sensitivity = None
        return self.crops_, self.crops_u_, self.concept_bank_

    def estimate_importance(
        self, inputs: Any = None, nb_design: int = 32, verbose: bool = False, **kwargs: Any
    ) -> np.ndarray:
        """Total Sobol indices of the concepts (see :meth:`Craft.estimate_importance`); the
        global ones (``inputs=None``) also fill ``sensitivity``."""
        importances = super().estimate_importance(inputs, nb_design, verbose, **kwargs)
        if inputs is None:
            self.sensitivity = Sensitivity(importances, np.argsort(importances)[::-1])
        return importances

    # ---------------------------------------------------------------- plots (delegated)
    def _order(self, importances: Any) -> np.ndarray:
        if importances is not None:
            return np.argsort(np.asarray(importances))[::-1]
        if self.sensitivity is None:
            self.estimate_importance()
        return self.sensitivity.most_important_concepts

    def plot_concepts_importances(
        self,
        importances: Any = None,
        display_importance_order: DisplayImportancesOrder = DisplayImportancesOrder.GLOBAL,
        nb_most_important_concepts: int | None = None,
        verbose: bool = False,
    ) -> plt.Figure:
        """Bar chart of the importances (global ones by default); returns the figure."""
        from ..plots.concepts import plot_concept_importances

        if importances is None:
            self._order(None)
            importances = self.sensitivity.importances
        importances = np.asarray(importances)
        fig = plot_concept_importances(importances, nb_most_important_concepts)
        label = "Local" if display_importance_order == DisplayImportancesOrder.LOCAL else "Global"
        fig.axes[0].set_title(f"{label} Concept Importance")
        if verbose:
            for concept in np.argsort(importances)[::-1][:nb_most_important_concepts]:
                print(f"Concept {concept} has an importance value of {importances[concept]:.2f}")
        return fig

    def plot_concepts_crops(
        self,
        nb_crops: int = 10,
        nb_most_important_concepts: int | None = None,
        verbose: bool = False,
    ) -> plt.Figure:
        """The top crops of the concepts, most important first; returns the figure."""
        from ..plots.concepts import plot_concept_crops

        nb_crops = check_positive_int(nb_crops, "nb_crops")
        order = self._order(None)[:nb_most_important_concepts]
        if verbose:
            for concept in order:
                value = self.sensitivity.importances[concept]
                print(f"Concept {concept} has an importance value of {value:.2f}")
        return plot_concept_crops(self, order, nb_crops)

    def plot_concept_attribution_maps(
        self,
        images: Any,
        importances: Any = None,
        nb_most_important_concepts: int = 5,
        filter_percentile: int = 90,
        clip_percentile: float | None = 10.0,
        alpha: float = 0.65,
        cols: int = 5,
        img_size: float = 2.0,
        **plot_kwargs: Any,
    ) -> plt.Figure:
        """Where the most important concepts are in ``images`` (their maps above
        ``filter_percentile``); ``clip_percentile`` and ``plot_kwargs`` are accepted for
        Xplique's signature and unused. Returns the figure."""
        from ..plots.concepts import plot_concept_attribution_maps

        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        order = self._order(importances)[:nb_most_important_concepts]
        maps = self.concept_attribution_maps(images)
        return plot_concept_attribution_maps(
            images,
            maps,
            order,
            percentile=filter_percentile,
            alpha=alpha,
            cols=min(cols, len(images)),
            img_size=img_size,
        )

    def plot_image_concepts(
        self,
        img: Any,
        display_importance_order: DisplayImportancesOrder = DisplayImportancesOrder.GLOBAL,
        nb_most_important_concepts: int = 5,
        filter_percentile: int = 90,
        clip_percentile: float | None = 10,
        alpha: float = 0.65,
        filepath: str | None = None,
        **plot_kwargs: Any,
    ) -> plt.Figure:
        """The concept map of one image, concepts ordered by global or local importance;
        saved to ``filepath`` when given. Returns the figure (Xplique shows it)."""
        importances = None
        if display_importance_order == DisplayImportancesOrder.LOCAL:
            importances = self.estimate_importance(np.asarray(img)[None])
        fig = self.plot_concept_attribution_maps(
            img,
            importances,
            nb_most_important_concepts,
            filter_percentile,
            clip_percentile,
            alpha,
            cols=1,
            img_size=4.0,
        )
        if filepath is not None:
            fig.savefig(filepath)
        return fig


class CraftManagerTf(CraftManager):
    """Xplique 2.0.2's ``CraftManagerTf``: one :class:`CraftTf` per class of interest.

    Same parameters, defaults and order as ``xplique.concepts.CraftManagerTf``. ``fit`` and
    ``estimate_importance`` take Xplique's ``verbose`` (a progress bar here) and return
    ``self`` / the importances per class (Xplique returns None); the plots delegate to the
    class's :class:`CraftTf`.

    Parameters
    ----------
    input_to_latent_model, latent_to_logit_model
        ``g`` and ``h`` (Keras models).
    inputs
        Images ``(N, H, W, C)``.
    labels
        Labels ``(N,)`` (or one-hot ``(N, C)``).
    list_of_class_of_interest
        Classes to explain (default: all the labels).
    number_of_concepts, batch_size, patch_size
        As in :class:`CraftTf`.

    References
    ----------
    Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability",
    CVPR 2023.
    """

    craft_class = CraftTf

    def __init__(
        self,
        input_to_latent_model: Callable,
        latent_to_logit_model: Callable,
        inputs: Any,
        labels: Any,
        list_of_class_of_interest: list | None = None,
        number_of_concepts: int = 20,
        batch_size: int = 64,
        patch_size: int = 64,
    ):
        _check_keras(input_to_latent_model, "input_to_latent_model")
        _check_keras(latent_to_logit_model, "latent_to_logit_model")
        super().__init__(
            input_to_latent_model,
            latent_to_logit_model,
            inputs,
            labels,
            list_of_class_of_interest,
            number_of_concepts,
            batch_size,
            patch_size,
        )

    def _craft(self, class_id: int) -> CraftTf:
        if class_id not in self.craft_instances:
            raise ValueError(
                f"`class_id` must be one of {list(self.craft_instances)}, got {class_id!r}."
            )
        return self.craft_instances[class_id]

    def plot_concepts_importances(
        self, class_id: int, nb_most_important_concepts: int = 5, verbose: bool = False
    ) -> plt.Figure:
        """Importance bars of a class (see :meth:`CraftTf.plot_concepts_importances`)."""
        return self._craft(class_id).plot_concepts_importances(
            None, nb_most_important_concepts=nb_most_important_concepts, verbose=verbose
        )

    def plot_concepts_crops(
        self, class_id: int, nb_crops: int = 10, nb_most_important_concepts: int | None = None
    ) -> plt.Figure:
        """Top crops of a class's concepts (see :meth:`CraftTf.plot_concepts_crops`)."""
        return self._craft(class_id).plot_concepts_crops(nb_crops, nb_most_important_concepts)

    def plot_image_concepts(
        self,
        img: Any,
        class_id: int,
        display_importance_order: DisplayImportancesOrder = DisplayImportancesOrder.GLOBAL,
        nb_most_important_concepts: int = 5,
        filter_percentile: int = 90,
        clip_percentile: float | None = 10,
        alpha: float = 0.65,
        filepath: str | None = None,
    ) -> plt.Figure:
        """Concept map of one image for a class (see :meth:`CraftTf.plot_image_concepts`)."""
        return self._craft(class_id).plot_image_concepts(
            img,
            display_importance_order,
            nb_most_important_concepts,
            filter_percentile,
            clip_percentile,
            alpha,
            filepath,
        )
