"""Fit one CRAFT per class of a dataset (Xplique's ``CraftManagerTf``, with progress)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.batching import batch_apply
from ..commons.tf_functions import make_forward_function
from ..commons.validation import check_batch_size, check_positive_int, check_verbose
from .craft import Craft
from .craft_layout import as_images
from .craft_settings import constructor_verbose


class CraftManager:
    """One :class:`Craft` per class of interest, fitted on the images predicted as that class.

    Same parameters and order as Xplique 2.0.2's ``CraftManagerTf``; ``fit`` returns ``self``
    and the instances are in ``craft_instances`` (``{class_id: Craft}``). As Xplique, progress
    is the ``verbose`` argument of ``fit`` and ``estimate_importance`` (default quiet).

    Parameters
    ----------
    input_to_latent_model, latent_to_logit_model
        ``g`` and ``h`` (see :class:`Craft`).
    inputs
        Images ``(N, H, W, C)``.
    labels
        Labels ``(N,)`` (or one-hot ``(N, C)``); used to list the classes when
        ``list_of_class_of_interest`` is None.
    list_of_class_of_interest
        Classes to explain (default: all the labels).
    number_of_concepts, batch_size, patch_size
        As in :class:`Craft`.
    extractor_factory
        ``() -> extractor`` to give each Craft its own extractor (default NMF).
    verbose
        Deprecated: pass ``verbose`` to ``fit`` / ``estimate_importance`` (when given here, it
        is their default).

    References
    ----------
    Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability", CVPR 2023.
    """

    #: The class of the per-class instances.
    craft_class: type[Craft] = Craft

    def __init__(
        self,
        input_to_latent_model: Callable,
        latent_to_logit_model: Callable,
        inputs: Any,
        labels: Any,
        list_of_class_of_interest: list | None = None,
        number_of_concepts: int = 20,
        batch_size: int | None = 64,
        patch_size: int = 64,
        extractor_factory: Callable | None = None,
        verbose: bool | None = None,
    ):
        self.input_to_latent_model = input_to_latent_model
        self.latent_to_logit_model = latent_to_logit_model
        self.inputs = as_images(inputs)
        self.labels = _check_labels(labels, len(self.inputs))
        if list_of_class_of_interest is None:
            list_of_class_of_interest = sorted(set(self.labels.tolist()))
        self.list_of_class_of_interest = _check_classes(list_of_class_of_interest)
        if extractor_factory is not None and not callable(extractor_factory):
            raise TypeError(
                "`extractor_factory` must be a callable () -> extractor or None, got "
                f"{type(extractor_factory).__name__}."
            )
        self.batch_size = check_batch_size(batch_size)
        self.verbose = constructor_verbose(verbose, type(self).__name__, stacklevel=3)
        self.craft_instances = {
            c: self.craft_class(
                input_to_latent_model,
                latent_to_logit_model,
                number_of_concepts,
                batch_size,
                patch_size,
                extractor=None if extractor_factory is None else extractor_factory(),
            )
            for c in self.list_of_class_of_interest
        }

    def compute_predictions(self) -> np.ndarray:
        """Predicted class of every input (``argmax h(g(x))``), in batches."""
        forward = make_forward_function(
            lambda x: self.latent_to_logit_model(self.input_to_latent_model(x))
        )
        logits = batch_apply(forward, (self.inputs,), self.batch_size)
        return tf.argmax(logits, axis=-1).numpy()

    def fit(self, nb_samples_per_class: int | None = None, verbose: bool = False) -> CraftManager:
        """Fit each Craft on the images predicted as its class; returns ``self``.

        Parameters
        ----------
        nb_samples_per_class
            At most this many images per class (the first ones); default all.
        verbose
            Show a progress bar over the classes.
        """
        if nb_samples_per_class is not None:
            nb_samples_per_class = check_positive_int(nb_samples_per_class, "nb_samples_per_class")
        verbose = check_verbose(verbose) or self.verbose
        predictions = self.compute_predictions()
        for class_id, craft in tqdm(
            self.craft_instances.items(), disable=not verbose, desc="CRAFT per class"
        ):
            selected = np.flatnonzero(predictions == class_id)[:nb_samples_per_class]
            if len(selected) == 0:
                raise ValueError(f"No input is predicted as class {class_id}: cannot fit it.")
            craft.fit(tf.gather(self.inputs, selected), class_id=int(class_id))
        return self

    def estimate_importance(
        self, nb_design: int = 32, verbose: bool = False
    ) -> dict[int, np.ndarray]:
        """Global importances of every class: ``{class_id: (r,)}``.

        Parameters
        ----------
        nb_design
            QMC points per matrix (a power of two), see :meth:`Craft.estimate_importance`.
        verbose
            Show a progress bar over the classes.
        """
        verbose = check_verbose(verbose) or self.verbose
        return {
            class_id: craft.estimate_importance(nb_design=nb_design)
            for class_id, craft in tqdm(
                self.craft_instances.items(), disable=not verbose, desc="importances"
            )
        }


def _check_labels(labels: Any, n: int) -> np.ndarray:
    """Labels ``(N,)`` (one-hot ``(N, C)`` decoded), checked against ``N`` images."""
    labels = np.asarray(labels)
    shape = labels.shape
    if labels.ndim == 2:
        labels = labels.argmax(-1)
    if labels.ndim != 1 or len(labels) != n:
        raise ValueError(f"`labels` must be (N,) or one-hot (N, C) with N={n}, got shape {shape}.")
    return labels


def _check_classes(classes: Any) -> list:
    """The classes of interest as a non-empty list of class ids."""
    try:
        classes = list(classes)
    except TypeError:
        raise TypeError(
            "`list_of_class_of_interest` must be a list of class ids or None, got "
            f"{type(classes).__name__}."
        ) from None
    if not classes:
        raise ValueError("`list_of_class_of_interest` is empty: expected at least one class id.")
    return classes
