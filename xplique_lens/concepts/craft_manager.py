"""Fit one CRAFT per class of a dataset (Xplique's ``CraftManagerTf``, with progress)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.tf_functions import make_forward_function
from ..commons.validation import check_batch_size, check_positive_int
from .craft import Craft, _as_images


class CraftManager:
    """One :class:`Craft` per class of interest, fitted on the images predicted as that class.

    Same parameters and order as Xplique 2.0.2's ``CraftManagerTf``; ``fit`` returns ``self``
    and the instances are in ``craft_instances`` (``{class_id: Craft}``).

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

    References
    ----------
    Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability", CVPR 2023.
    """

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
        extractor_factory: Callable | None = None,
        verbose: bool = True,
    ):
        self.input_to_latent_model = input_to_latent_model
        self.latent_to_logit_model = latent_to_logit_model
        self.inputs = _as_images(inputs)
        labels = np.asarray(labels)
        if labels.ndim == 2:
            labels = labels.argmax(-1)
        if labels.ndim != 1 or len(labels) != len(self.inputs):
            raise ValueError(
                f"`labels` must be (N,) or one-hot (N, C) with N={len(self.inputs)}, got shape "
                f"{np.asarray(labels).shape}."
            )
        self.labels = labels
        if list_of_class_of_interest is None:
            list_of_class_of_interest = sorted(set(labels.tolist()))
        self.list_of_class_of_interest = list(list_of_class_of_interest)
        self.batch_size = check_batch_size(batch_size)
        self.verbose = verbose
        self.craft_instances = {
            c: Craft(
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
        step = len(self.inputs) if not self.batch_size else self.batch_size
        logits = [forward(self.inputs[s : s + step]) for s in range(0, len(self.inputs), step)]
        return tf.argmax(tf.concat(logits, 0), axis=-1).numpy()

    def fit(self, nb_samples_per_class: int | None = None) -> CraftManager:
        """Fit each Craft on the images predicted as its class; returns ``self``."""
        predictions = self.compute_predictions()
        if nb_samples_per_class is not None:
            nb_samples_per_class = check_positive_int(nb_samples_per_class, "nb_samples_per_class")
        for class_id, craft in tqdm(
            self.craft_instances.items(), disable=not self.verbose, desc="CRAFT per class"
        ):
            selected = np.flatnonzero(predictions == class_id)[:nb_samples_per_class]
            if len(selected) == 0:
                raise ValueError(f"No input is predicted as class {class_id}: cannot fit it.")
            craft.fit(tf.gather(self.inputs, selected), class_id=int(class_id))
        return self

    def estimate_importance(self, nb_design: int = 32) -> dict[int, np.ndarray]:
        """Global importances of every class: ``{class_id: (r,)}``."""
        return {
            class_id: craft.estimate_importance(nb_design=nb_design)
            for class_id, craft in tqdm(
                self.craft_instances.items(), disable=not self.verbose, desc="importances"
            )
        }
