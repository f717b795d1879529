"""The base of :class:`~xplique_lens.concepts.Craft`: settings, construction, crops and codes.

:class:`BaseCraft` holds what every CRAFT needs before any explanation (as Xplique's
``BaseCraft`` does): the checked settings, the split model, the link to a parent made by
``refine``, ``fit`` (crops -> activations at the layer -> factorisation) and ``transform``
(the concept codes of images). :class:`~xplique_lens.concepts.Craft` adds the importance, the
concept attribution maps, the visualisations and the recursion; its docstring documents the
parameters and the learned attributes.

References
----------
Fel, Picard, Béthune, Boissin, Vigouroux, Colin, Cadène, Serre, "CRAFT: Concept Recursive
Activation FacTorization for Explainability", CVPR 2023 (arXiv 2211.10154).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.batching import batch_apply, batch_slices
from ..commons.layer_listing import NEGATIVE_TOLERANCE
from ..commons.model_splitting import split_model
from ..commons.tf_functions import make_forward_function
from ..commons.validation import (
    check_batch_size,
    check_choice,
    check_is_fitted,
    check_positive_int,
    check_verbose,
    to_float_tensor,
)
from .craft_layout import as_images, pool_positions
from .craft_refine import CraftLink
from .craft_settings import (
    ACTIVATION_POLICIES,
    check_extractor,
    check_model_and_layer,
    constructor_verbose,
)
from .crops import extract_crops
from .extractors.base import BaseConceptExtractor
from .extractors.nmf import NMF

#: Learned by ``estimate_importance()``; forgotten by ``fit`` (they belong to the old bank).
IMPORTANCE_STATE = ("importances_", "local_importances_")


class BaseCraft:
    """Settings, construction, ``fit`` and ``transform`` of a CRAFT for one class.

    Parameters and learned attributes: see :class:`~xplique_lens.concepts.Craft`, the class to
    use.
    """

    def __init__(
        self,
        input_to_latent_model: Callable,
        latent_to_logit_model: Callable,
        number_of_concepts: int = 20,
        batch_size: int | None = 64,
        patch_size: int = 64,
        extractor: BaseConceptExtractor | None = None,
        stride: int | None = None,
        verbose: bool | None = None,
        activation_policy: str = "error",
        *,
        model: keras.Model | None = None,
        layer: str | int | None = None,
        link: CraftLink | None = None,
    ):
        for name, value in (
            ("input_to_latent_model", input_to_latent_model),
            ("latent_to_logit_model", latent_to_logit_model),
        ):
            if not callable(value):
                raise TypeError(
                    f"`{name}` must be callable (a Keras model), got {type(value).__name__}."
                )
        self.input_to_latent_model = input_to_latent_model
        self.latent_to_logit_model = latent_to_logit_model
        self.number_of_concepts = check_positive_int(number_of_concepts, "number_of_concepts")
        self.batch_size = check_batch_size(batch_size)
        self.patch_size = check_positive_int(patch_size, "patch_size")
        self.stride = None if stride is None else check_positive_int(stride, "stride")
        self.verbose = constructor_verbose(verbose, type(self).__name__, stacklevel=3)
        self.activation_policy = check_choice(
            activation_policy, "activation_policy", ACTIVATION_POLICIES
        )
        self.extractor = check_extractor(extractor, self.number_of_concepts, self.activation_policy)
        # NMF needs max(a, 0): policy "clamp", or round-off negatives (fit checks the rest)
        self._clamp = isinstance(self.extractor, NMF)
        self.model, self.layer = check_model_and_layer(model, layer)
        if link is not None and not isinstance(link, CraftLink):
            raise TypeError(f"`link` must be a CraftLink or None, got {type(link).__name__}.")
        self.link = link
        self.children_: dict[int, BaseCraft] = {}
        self._input_maps_fn: Callable | None = None  # traced per concept bank
        self._latent_forward = make_forward_function(input_to_latent_model)

    @classmethod
    def from_model(cls, model: keras.Model, layer: str | int, **kwargs: Any) -> BaseCraft:
        """Split ``model`` at ``layer`` (``g`` = up to it, ``h`` = the rest) and build a Craft.

        Parameters
        ----------
        model
            A built Sequential or functional Keras model.
        layer
            Index or name of a top-level layer, a path through nested models
            (``"mobilenetv2_1.00_224/out_relu"``), or a bare name unique in the nested tree
            (``"out_relu"``); see :func:`~xplique_lens.commons.find_layer`.
        **kwargs
            Those of ``Craft`` (``number_of_concepts``, ``batch_size``, ``activation_policy``...).

        Returns
        -------
        Craft
            Not fitted; ``layer`` holds the full path of the layer.
        """
        g, h = split_model(model, layer)
        return cls(g, h, model=model, layer=layer, **kwargs)

    # ---------------------------------------------------------------- link to the parent
    @property
    def parent_(self) -> BaseCraft | None:
        """The Craft this one refines (``link.parent``), or None."""
        return None if self.link is None else self.link.parent

    @property
    def parent_concept_id_(self) -> int | None:
        """The parent's concept this Craft decomposes, or None."""
        return None if self.link is None else self.link.concept_id

    @property
    def parent_crop_indices_(self) -> np.ndarray | None:
        """Indices of the parent's crops this Craft is fitted on, or None."""
        return None if self.link is None else self.link.crop_indices

    @property
    def to_parent_latent_(self) -> Callable | None:
        """This layer's activations -> the parent layer's, or None."""
        return None if self.link is None else self.link.to_parent_latent

    # ---------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        check_is_fitted(self, "concept_bank_", hint="fit(inputs, class_id)")

    def _policy(self, activations: tf.Tensor) -> tf.Tensor:
        """float32 activations after the policy (``max(a, 0)`` for NMF)."""
        activations = tf.cast(activations, tf.float32)
        return tf.maximum(activations, 0.0) if self._clamp else activations

    def _latent(self, images: tf.Tensor) -> tf.Tensor:
        """``g`` over batches (memory bounded by ``batch_size``), after the policy."""
        return self._policy(batch_apply(self._latent_forward, (images,), self.batch_size))

    def _crop_activations(
        self, crops: tf.Tensor, size: tuple[int, int], verbose: bool
    ) -> tuple[tf.Tensor, float, float]:
        """Pooled activations of the crops after the policy, and the ``(min, max)`` of the
        activations before it."""
        outs, low, high = [], np.inf, -np.inf
        batches = list(batch_slices(len(crops), self.batch_size))
        for s in tqdm(batches, disable=not verbose, desc="crops"):
            resized = tf.image.resize(crops[s], size, method="bicubic")
            acts = tf.cast(self._latent_forward(resized), tf.float32)
            low = min(low, float(tf.reduce_min(acts)))
            high = max(high, float(tf.reduce_max(acts)))
            outs.append(pool_positions(self._policy(acts)))
        return tf.concat(outs, 0), low, high

    def _codes(self, activations: tf.Tensor) -> tf.Tensor:
        """Codes of activations ``(N, [h, w,] p)`` -> ``(N, [h, w,] r)`` (TF)."""
        shape = tf.shape(activations)
        flat = tf.reshape(activations, (-1, activations.shape[-1]))
        codes = self.extractor.tf_transform(flat)
        return tf.reshape(codes, tf.concat([shape[:-1], [self.number_of_concepts]], 0))

    def _forget_importances(self) -> None:
        """Remove the importances learned with a previous concept bank."""
        for name in IMPORTANCE_STATE:
            if hasattr(self, name):
                delattr(self, name)

    # ---------------------------------------------------------------- fit / transform
    def fit(self, inputs: Any, class_id: int = 0, verbose: bool = False) -> BaseCraft:
        """Learn the concept bank of a class from crops of its images.

        Fitting again overwrites the learned state (and forgets the importances and the
        children of the previous fit).

        Parameters
        ----------
        inputs
            Images of the class, ``(N, H, W, C)`` float.
        class_id
            Index of the class logit (used by ``estimate_importance``).
        verbose
            Show a progress bar over the batches of crops.

        Returns
        -------
        self
        """
        images = as_images(inputs)
        class_id = check_positive_int(class_id, "class_id", minimum=0)
        verbose = check_verbose(verbose) or self.verbose
        crops, origins = extract_crops(images, self.patch_size, self.stride)
        activations, low, high = self._crop_activations(crops, tuple(images.shape[1:3]), verbose)
        scale = max(abs(low), abs(high))
        if self._clamp and self.activation_policy == "error" and low < -NEGATIVE_TOLERANCE * scale:
            raise ValueError(
                f"The activations of `input_to_latent_model` are negative (min {low:.4g}, max "
                f"{high:.4g}) but NMF needs non-negative ones: cut the model after a ReLU, pass "
                "`activation_policy`='clamp' (max(a, 0)) or 'signed' (semi-NMF), or a signed "
                "`extractor` (PCA, ICA)."
            )
        if self.number_of_concepts > activations.shape[-1]:
            raise ValueError(
                f"`number_of_concepts`={self.number_of_concepts} is larger than the number of "
                f"features of the layer ({activations.shape[-1]})."
            )
        codes = self.extractor.fit_transform(activations)
        self.inputs_ = images
        self.class_id_ = class_id
        self.crops_ = crops.numpy()
        self.crops_origin_ = origins
        self.crops_activations_ = activations.numpy()
        self.activations_range_ = (low, high)
        self.crops_u_ = np.asarray(codes, np.float32)
        self.concept_bank_ = np.asarray(self.extractor.components_, np.float32)
        self.children_ = {}
        self._input_maps_fn = None  # traced with the previous concept bank
        self._forget_importances()
        return self

    def transform(self, inputs: Any, activations: Any = None) -> np.ndarray:
        """Concept codes ``U`` of images: ``(N, h, w, r)`` for a spatial layer, else ``(N, r)``.

        ``activations`` (the output of ``g`` on ``inputs``) can be given to skip ``g``.
        """
        self._check_fitted()
        if activations is None:
            activations = self._latent(as_images(inputs))
        else:
            activations = to_float_tensor(activations, "activations")
        return self._codes(activations).numpy()

    # ---------------------------------------------------------------- crops
    def top_crops(self, concept_id: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` crops expressing ``concept_id`` the most: ``(crops, crop indices)``."""
        self._check_fitted()
        concept_id = self._check_concept(concept_id)
        k = check_positive_int(k, "k")
        order = np.argsort(-self.crops_u_[:, concept_id], kind="stable")[:k]
        return self.crops_[order], order

    def _check_concept(self, concept_id: Any) -> int:
        concept_id = check_positive_int(concept_id, "concept_id", minimum=0)
        if concept_id >= self.number_of_concepts:
            raise ValueError(
                f"`concept_id` must be in [0, {self.number_of_concepts}), got {concept_id}."
            )
        return concept_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(number_of_concepts={self.number_of_concepts}, "
            f"patch_size={self.patch_size}, batch_size={self.batch_size}, "
            f"extractor={self.extractor!r}, layer={self.layer!r})"
        )
