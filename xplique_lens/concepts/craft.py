"""CRAFT: Concept Recursive Activation FacTorization (Fel et al., CVPR 2023).

The model is split as ``f = h o g`` at a layer (of the model or of a nested base model). Crops of
the class images go through ``g``; their (spatially averaged) activations ``A`` are factorised by
NMF, ``A ~ U W``: ``W`` is the concept bank, ``U`` the concept codes of the crops. The importance
of each concept for the class is its total Sobol index, masks acting on ``U`` through ``h``;
where each concept is in an image is given by concept attribution maps obtained by
differentiating the NNLS code implicitly; and a concept can be refined recursively into
sub-concepts at an earlier layer. Layers that are not non-negative (swish, GELU, residual sums)
follow one policy, ``activation_policy`` (refuse them, clamp them, or factorise them by
semi-NMF); token layers ``(N, T, D)`` of ViTs are handled like spatial ones.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..attributions.sobol.samplers import HaltonSampler
from ..commons.layer_listing import NEGATIVE_TOLERANCE
from ..commons.model_splitting import find_layer, layer_path, split_model
from ..commons.tf_functions import make_forward_function
from ..commons.validation import (
    check_batch_size,
    check_choice,
    check_finite,
    check_positive_int,
    check_power_of_two,
    to_float_tensor,
)
from .crops import extract_crops
from .extractors.base import BaseConceptExtractor, NotFittedError
from .extractors.nmf import NMF
from .extractors.semi_nmf import SemiNMF
from .importance import ConceptImportance

MAP_METHODS = ("input", "layer")
MAP_BASELINES = ("mean", "zero")
ACTIVATION_POLICIES = ("clamp", "signed", "error")


def _token_grid(tokens: int) -> tuple[int, int] | None:
    """``(first patch token, side)`` of ``T`` tokens: ``T = s * s`` patch tokens, or
    ``T = 1 + s * s`` with a leading class token; None when neither."""
    side = int(round(np.sqrt(tokens)))
    if side * side == tokens:
        return 0, side
    side = int(round(np.sqrt(tokens - 1)))
    if tokens > 1 and side * side == tokens - 1:
        return 1, side
    return None


def _patch_tokens(activations: tf.Tensor) -> tf.Tensor:
    """The patch tokens of ``(N, T, D)`` activations (without a leading class token)."""
    grid = _token_grid(int(activations.shape[1]))
    return activations if grid is None else activations[:, grid[0] :]


def _pool(activations: tf.Tensor) -> tf.Tensor:
    """One vector per sample: the mean over positions ``(N, h, w, p)`` or patch tokens
    ``(N, T, p)``; ``(N, p)`` as is."""
    rank = activations.shape.rank
    if rank == 4:
        return tf.reduce_mean(activations, axis=(1, 2))
    if rank == 3:
        return tf.reduce_mean(_patch_tokens(activations), axis=1)
    if rank == 2:
        return activations
    raise ValueError(
        "`input_to_latent_model` must output (N, p) vectors, (N, h, w, p) maps or (N, T, p) "
        f"tokens, got shape {tuple(activations.shape)}."
    )


def _spatial_codes(codes: tf.Tensor) -> tf.Tensor:
    """Codes on the layer's grid ``(N, h, w, r)``: token codes ``(N, T, r)`` are laid out on the
    ``s x s`` patch grid (without the class token)."""
    if codes.shape.rank == 4:
        return codes
    if codes.shape.rank == 3:
        grid = _token_grid(int(codes.shape[1]))
        if grid is None:
            raise ValueError(
                f"method='layer' lays token codes on a square grid, but {codes.shape[1]} tokens "
                "are neither s * s patches nor a class token + s * s patches: use "
                "method='input'."
            )
        start, side = grid
        return tf.reshape(codes[:, start:], (-1, side, side, codes.shape[-1]))
    raise ValueError(
        "method='layer' needs a spatial layer (N, h, w, p) or tokens (N, T, p); this layer is "
        "not spatial: use method='input'."
    )


class _Chain:
    """``x -> second(first(x))``: the logit part of a child Craft when only ``g`` is known."""

    def __init__(self, first: Callable, second: Callable):
        self.first, self.second = first, second

    def __call__(self, inputs, *args, **kwargs):
        return self.second(self.first(inputs))


def _has_layer(model: keras.Model, layer: str) -> bool:
    try:
        find_layer(model, layer)
    except ValueError:
        return False
    return True


def _map_baselines(images: tf.Tensor, baseline: Any) -> tf.Tensor:
    """The baseline images of ``method="input"`` maps, same shape as ``images``."""
    if isinstance(baseline, str):
        check_choice(baseline, "baseline", MAP_BASELINES)
        if baseline == "zero":
            return tf.zeros_like(images)
        return tf.zeros_like(images) + tf.reduce_mean(images, axis=(1, 2), keepdims=True)
    if baseline is None:
        raise TypeError(
            f"`baseline` must be one of {list(MAP_BASELINES)} or an array of images, got None."
        )
    values = to_float_tensor(baseline, "baseline")
    try:
        values = tf.broadcast_to(values, tf.shape(images))
    except (ValueError, tf.errors.InvalidArgumentError):
        raise ValueError(
            f"`baseline` of shape {tuple(values.shape)} does not broadcast to the inputs "
            f"{tuple(images.shape)}; give (H, W, C), (N, H, W, C) or (C,)."
        ) from None
    check_finite(values, "baseline")
    return values


def _as_images(inputs: Any, name: str = "inputs") -> tf.Tensor:
    images = to_float_tensor(inputs, name)
    if images.shape.rank == 3:
        images = images[None]
    if images.shape.rank != 4:
        raise ValueError(
            f"`{name}` must be images of shape (N, H, W, C) (or one (H, W, C) image), got shape "
            f"{tuple(images.shape)}."
        )
    if images.shape[0] == 0:
        raise ValueError(f"`{name}` is empty: expected at least one image.")
    check_finite(images, name)
    return images


class Craft:
    """CRAFT concept extraction, importance, attribution maps and recursion for one class.

    Drop-in for Xplique 2.0.2's ``CraftTf`` (same parameters, defaults and order), with these
    differences: ``fit`` returns ``self`` (learned state in ``crops_``, ``crops_u_``,
    ``concept_bank_``); NMF is solved in TensorFlow (``extractor`` may be any concept extractor);
    ``estimate_importance`` pushes all images x masks through ``h`` in batches instead of one
    ``predict`` per image; concept attribution maps are computed by implicit differentiation of
    the NNLS code, as in the paper (Xplique only upsamples the codes); ``refine`` implements the
    paper's recursion (absent from Xplique); layers that are not non-negative follow
    ``activation_policy``; layers of nested models and token layers work.

    Signed layers. NMF needs non-negative activations; EfficientNet (swish), ConvNeXt and ViTs
    (GELU) and residual sums are signed. ``activation_policy`` decides, once, what happens:

    - ``"error"`` (default, as Xplique, whose NMF refuses negative data): ``fit`` raises a
      ``ValueError`` on significantly negative activations.
    - ``"clamp"``: the activations are replaced by ``max(a, 0)`` at the output of ``g``,
      everywhere (crops, codes, importance, maps), and factorised by NMF: the concepts describe
      the positive part of the layer, as in the CRAFT paper's practice of cutting after a ReLU.
      The negative part is lost, which is mild for swish / GELU (bounded below by -0.28 /
      -0.17) but not for residual sums; ``h`` then receives reconstructions of ``max(a, 0)``.
    - ``"signed"``: the activations are kept and factorised by semi-NMF
      (:class:`~xplique_lens.concepts.extractors.semi_nmf.SemiNMF`: codes ``U >= 0``, signed
      bank ``W``; Ding, Li & Jordan 2010). Codes stay non-negative amounts of each concept, so
      the Sobol masks and the NNLS maps keep their meaning, and ``h`` receives signed
      reconstructions like the real activations: the sound choice for residual streams.

    Negative values that are float round-off (``min >= -1e-5 * max |a|``) are clamped to zero
    silently whatever the policy, whenever the extractor is an NMF. A signed extractor given
    explicitly (``PCA``, ``ICA``, ``SemiNMF``...) always receives the activations as they are.

    Token layers. ``g`` may output tokens ``(N, T, D)`` (a ViT's residual stream). A crop's
    activation is the mean of its patch tokens; codes are computed per token ``(N, T, r)``
    (the class token included, so that ``h`` receives every token); ``method="layer"`` maps lay
    the patch tokens on their ``s x s`` grid. ``T = s * s`` means patch tokens only,
    ``T = 1 + s * s`` a leading class token, which is left out of the crop means and of the
    maps (it has no position).

    Parameters
    ----------
    input_to_latent_model
        ``g``: images ``(N, H, W, C)`` -> activations ``(N, h, w, p)``, tokens ``(N, T, p)`` or
        vectors ``(N, p)``; non-negative for NMF (e.g. the output of a ReLU), or see
        ``activation_policy``.
    latent_to_logit_model
        ``h``: activations -> logits.
    number_of_concepts
        Number of concepts ``r``.
    batch_size
        Number of forward passes per batch (for ``g`` and ``h``).
    patch_size
        Side of the square crops; they are cut every ``stride`` pixels and resized to the input
        size before ``g``.
    extractor
        A concept extractor (``NMF``, ``PCA``, ``ICA``, ``KMeans``, ``SparseCoding``) with
        ``n_components == number_of_concepts``; default ``NMF(number_of_concepts)``, or
        ``SemiNMF(number_of_concepts)`` with ``activation_policy="signed"``.
    stride
        Step between crops; default ``int(0.8 * patch_size)`` (the paper, Xplique).
    verbose
        Show progress bars.
    activation_policy
        ``"error"``, ``"clamp"`` or ``"signed"``: what to do with a layer that is not
        non-negative (see above).

    Attributes
    ----------
    inputs_, class_id_
        What ``fit`` was given.
    crops_, crops_origin_
        The crops ``(M, patch, patch, C)`` and ``(image index, top, left)`` of each.
    crops_activations_
        Spatially averaged activations of the crops ``(M, p)`` (``A``), after the policy.
    activations_range_
        ``(min, max)`` of the crops' activations at the layer, before the policy.
    crops_u_
        Concept codes of the crops ``(M, r)`` (``U``).
    concept_bank_
        The concept bank ``(r, p)`` (``W``).
    importances_, local_importances_
        Total Sobol indices, averaged ``(r,)`` and per image ``(N, r)``, after
        ``estimate_importance()``.
    children_
        ``{concept_id: Craft}`` sub-concept decompositions made by ``refine``.

    References
    ----------
    Fel, Picard, Béthune, Boissin, Vigouroux, Colin, Cadène, Serre, "CRAFT: Concept Recursive
    Activation FacTorization for Explainability", CVPR 2023 (arXiv 2211.10154).
    """

    def __init__(
        self,
        input_to_latent_model: Callable,
        latent_to_logit_model: Callable,
        number_of_concepts: int = 20,
        batch_size: int = 64,
        patch_size: int = 64,
        extractor: BaseConceptExtractor | None = None,
        stride: int | None = None,
        verbose: bool = False,
        activation_policy: str = "error",
    ):
        if not callable(input_to_latent_model):
            raise TypeError(
                "`input_to_latent_model` must be callable (a Keras model), got "
                f"{type(input_to_latent_model).__name__}."
            )
        if not callable(latent_to_logit_model):
            raise TypeError(
                "`latent_to_logit_model` must be callable (a Keras model), got "
                f"{type(latent_to_logit_model).__name__}."
            )
        self.input_to_latent_model = input_to_latent_model
        self.latent_to_logit_model = latent_to_logit_model
        self.number_of_concepts = check_positive_int(number_of_concepts, "number_of_concepts")
        self.batch_size = check_batch_size(batch_size)
        self.patch_size = check_positive_int(patch_size, "patch_size")
        self.stride = None if stride is None else check_positive_int(stride, "stride")
        self.activation_policy = check_choice(
            activation_policy, "activation_policy", ACTIVATION_POLICIES
        )
        if extractor is None:
            signed = self.activation_policy == "signed"
            extractor = (SemiNMF if signed else NMF)(self.number_of_concepts)
        elif self.activation_policy == "signed" and isinstance(extractor, NMF):
            raise ValueError(
                "`activation_policy`='signed' keeps negative activations, but the `extractor` "
                "NMF needs non-negative ones: leave `extractor=None` (semi-NMF) or pass a signed "
                "extractor (SemiNMF, PCA, ICA)."
            )
        if not hasattr(extractor, "fit_transform") or not hasattr(extractor, "transform"):
            raise TypeError(
                "`extractor` must be a concept extractor with fit_transform/transform (e.g. "
                f"NMF, PCA), got {type(extractor).__name__}."
            )
        if getattr(extractor, "n_components", self.number_of_concepts) != self.number_of_concepts:
            raise ValueError(
                f"`extractor` has n_components={extractor.n_components} but "
                f"`number_of_concepts`={self.number_of_concepts}; they must match."
            )
        self.extractor = extractor
        # NMF needs max(a, 0): policy "clamp", or round-off negatives (fit checks the rest)
        self._clamp = isinstance(extractor, NMF)
        self.verbose = verbose
        self.model = None
        self.layer = None
        self.children_: dict[int, Craft] = {}
        self._input_maps_fn: Callable | None = None
        self._latent_forward = make_forward_function(input_to_latent_model)

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_model(cls, model: keras.Model, layer: str | int, **kwargs: Any) -> Craft:
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
        craft = cls(g, h, **kwargs)
        craft.model = model
        craft.layer = layer_path(model, layer)
        return craft

    # ---------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "concept_bank_"):
            raise NotFittedError("This Craft is not fitted yet: call `fit(inputs, class_id)`.")

    def _policy(self, activations: tf.Tensor) -> tf.Tensor:
        """float32 activations after the policy (``max(a, 0)`` for NMF)."""
        activations = tf.cast(activations, tf.float32)
        return tf.maximum(activations, 0.0) if self._clamp else activations

    def _latent(self, images: tf.Tensor) -> tf.Tensor:
        """``g`` over batches (memory bounded by ``batch_size``), after the policy."""
        step = len(images) if not self.batch_size else self.batch_size
        outs = [self._latent_forward(images[s : s + step]) for s in range(0, len(images), step)]
        return self._policy(tf.concat(outs, 0))

    def _crop_activations(
        self, crops: tf.Tensor, size: tuple[int, int]
    ) -> tuple[tf.Tensor, float, float]:
        """Pooled activations of the crops after the policy, and the ``(min, max)`` of the
        activations before it."""
        step = len(crops) if not self.batch_size else self.batch_size
        outs, low, high = [], np.inf, -np.inf
        for s in tqdm(range(0, len(crops), step), disable=not self.verbose, desc="crops"):
            resized = tf.image.resize(crops[s : s + step], size, method="bicubic")
            acts = tf.cast(self._latent_forward(resized), tf.float32)
            low = min(low, float(tf.reduce_min(acts)))
            high = max(high, float(tf.reduce_max(acts)))
            outs.append(_pool(self._policy(acts)))
        return tf.concat(outs, 0), low, high

    def _codes(self, activations: tf.Tensor) -> tf.Tensor:
        """Codes of activations ``(N, [h, w,] p)`` -> ``(N, [h, w,] r)`` (TF)."""
        shape = tf.shape(activations)
        flat = tf.reshape(activations, (-1, activations.shape[-1]))
        codes = self.extractor.tf_transform(flat)
        return tf.reshape(codes, tf.concat([shape[:-1], [self.number_of_concepts]], 0))

    # ---------------------------------------------------------------- fit / transform
    def fit(self, inputs: Any, class_id: int = 0) -> Craft:
        """Learn the concept bank of a class from crops of its images.

        Parameters
        ----------
        inputs
            Images of the class, ``(N, H, W, C)`` float.
        class_id
            Index of the class logit (used by ``estimate_importance``).

        Returns
        -------
        self
        """
        images = _as_images(inputs)
        class_id = check_positive_int(class_id, "class_id", minimum=0)
        crops, origins = extract_crops(images, self.patch_size, self.stride)
        activations, low, high = self._crop_activations(crops, tuple(images.shape[1:3]))
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
        for name in ("importances_", "local_importances_"):
            self.__dict__.pop(name, None)
        return self

    def transform(self, inputs: Any, activations: Any = None) -> np.ndarray:
        """Concept codes ``U`` of images: ``(N, h, w, r)`` for a spatial layer, else ``(N, r)``.

        ``activations`` (the output of ``g`` on ``inputs``) can be given to skip ``g``.
        """
        self._check_fitted()
        if activations is None:
            activations = self._latent(_as_images(inputs))
        else:
            activations = to_float_tensor(activations, "activations")
        return self._codes(activations).numpy()

    # ---------------------------------------------------------------- importance
    def estimate_importance(
        self,
        inputs: Any = None,
        nb_design: int = 32,
        sampler: Any = "halton",
        estimator: Any = None,
    ) -> np.ndarray:
        """Total Sobol indices of the concepts for the class (Fel et al. 2023, section 3.2).

        Masks ``M`` from a replicated QMC design act on the codes, ``A' = (U * M) W`` (on every
        position of spatial codes), and ``h(A')[class_id]`` feeds the Jansen estimator; the
        indices are averaged over the images. All images and masks go through ``h`` together, in
        batches of ``batch_size``, with the attributions' Sobol kernel
        (:class:`~xplique_lens.concepts.ConceptImportance`, method ``"sobol"``).

        Faithfulness of the ranking (issue 19, ``benchmarks/bench_faithfulness.py``: the top
        concept's ``"input"`` map against the planted parts of the built-in dataset, 10
        concepts, 16-pixel crops, 6 images per class, data seeds 100-104 x 6 classes,
        ``python benchmarks/bench_faithfulness.py --extractor-seeds 1 --n-per-class 6``;
        "best-covering": the concept, among those holding >= 5% of the maps' mass, with the
        largest share of its mass on the parts):

        - the estimator is not what makes the ranking fragile: Sobol with ``nb_design`` 8, 32
          and 128, Gradient x Input and Occlusion pick the same top concept in every run, and
          re-scrambling the QMC design changes it in 3% of the runs;
        - importance is estimated on the whole images' codes, as Xplique's ``CraftTf`` does;
          on the crops' codes ``U`` instead, the top concept puts 0.47 of its map mass on the
          parts (against 0.90) and is never the best-covering one: keep the whole images;
        - what differs from Xplique is the concepts. NNDSVDa makes the first concept the
          class's mean activation direction, which HALS keeps as a concept present in every
          crop (0.16-0.58 of the maps' mass); removing it removes most of the activation, so
          it is ranked first in every run. It is the best-covering concept for the green
          square, blue triangle and cyan diamond (0.96-0.98 of its mass on the parts), never
          for the red disk, yellow cross and magenta ring, where a more specific concept
          covers the parts better. Top concept: 0.90 of its mass on the parts, 0.60 on the
          object, best-covering in 50% of the runs; Xplique's ``CraftTf`` (scikit-learn NMF
          with a ridge penalty ``alpha_W=0.01``, stopped at 200 iterations): 0.94, 0.65, 77%.
        - the NMF solution explains the difference: this estimator and these maps on the bank
          of scikit-learn's ``NMF(10, alpha_W=0.01)`` fitted on the same crop activations
          give 0.93, 0.63, 77% (row ``sobol-ridge-bank``), Xplique's figures. Converging our
          NMF further (``tol=1e-6``: 400 iterations) keeps the mean concept; a random
          initialisation (``NMF(init="random", seed=1)``) spreads it out (parts 0.91, object
          0.60) but its top concept is best-covering in 17% of 12 runs only
          (``--extractor-seed-mode init``); ``alpha_W`` 0 / 0.1 give 67% / 83% on 12 runs.
          No default reaches 90% on this benchmark, and our HALS NMF has no ridge penalty
          yet, so the defaults are unchanged.

        Parameters
        ----------
        inputs
            Images; ``None`` uses the images given to ``fit`` and stores the result in
            ``importances_`` (and the per-image indices in ``local_importances_``).
        nb_design
            QMC points per matrix (a power of two); ``nb_design * (r + 1)`` forwards of ``h`` per
            image (total indices need no ``f(B)``; Xplique runs ``nb_design * (r + 2)``).
        sampler
            ``"halton"`` (default: the unscrambled Halton sequence, Xplique's CRAFT design), a
            sampler name of ``xplique_lens.attributions.sobol`` or a ``Sampler`` object.
        estimator
            A Sobol estimator name or object (default Jansen, as Xplique).

        Returns
        -------
        importances
            ``(r,)`` total Sobol index of each concept.
        """
        self._check_fitted()
        nb_design = check_power_of_two(nb_design, "nb_design")
        is_global = inputs is None
        images = self.inputs_ if is_global else _as_images(inputs)
        codes = self._codes(self._latent(images))
        if sampler == "halton":  # Xplique's CRAFT design: the plain (unscrambled) Halton sequence
            sampler = HaltonSampler(scramble=False)
        estimator_ = ConceptImportance.from_craft(
            self, "sobol", nb_design=nb_design, sampler=sampler, estimator=estimator
        )
        targets = np.full(int(codes.shape[0]), self.class_id_, dtype=np.int64)
        local = estimator_.explain(codes, targets, verbose=self.verbose).numpy()
        importances = local.mean(axis=0)
        if is_global:
            self.local_importances_ = local
            self.importances_ = importances
        return importances

    @property
    def most_important_concepts_(self) -> np.ndarray:
        """Concept ids sorted by decreasing importance (after ``estimate_importance``)."""
        if not hasattr(self, "importances_"):
            raise NotFittedError("Call `estimate_importance()` first.")
        return np.argsort(self.importances_)[::-1]

    # ---------------------------------------------------------------- attribution maps
    def _make_input_maps_fn(self) -> Callable:
        """``(points, deltas) -> (P, H, W, r)``: ``sum_c dU_k/dx_c (point) * delta_c`` for each
        point of an Integrated Gradients path (traced once per fit; the NNLS gradient is the
        implicit one of the extractor; one forward and ``r`` backward passes per call)."""
        r = self.number_of_concepts
        latent = self.input_to_latent_model

        @tf.function(reduce_retracing=True)
        def maps(points: tf.Tensor, deltas: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(points)
                codes = self._codes(self._policy(latent(points)))
                if codes.shape.rank == 3:  # tokens: the patch tokens (as the crops' means)
                    codes = _patch_tokens(codes)
                axes = list(range(1, codes.shape.rank - 1))
                totals = tf.reduce_sum(codes, axis=axes) if axes else codes  # (P, r)
            out = []
            for k in range(r):
                seed = tf.zeros_like(totals) + tf.one_hot(k, r)[None]
                gradient = tape.gradient(totals, points, output_gradients=seed)
                out.append(tf.reduce_sum(gradient * deltas, axis=-1))
            del tape
            return tf.stack(out, axis=-1)

        return maps

    def _input_maps(
        self, images: tf.Tensor, baselines: tf.Tensor, steps: int, batch_size: int | None
    ) -> tf.Tensor:
        """Integrated Gradients maps ``(N, H, W, r)``; ``batch_size`` path points per call."""
        if self._input_maps_fn is None:
            self._input_maps_fn = self._make_input_maps_fn()
        alphas = tf.constant((np.arange(steps) + 0.5) / steps, tf.float32)
        per_call = len(images) * steps if not batch_size else batch_size
        group = max(1, per_call // steps)  # whole images per group of path points
        outs = []
        for s in tqdm(range(0, len(images), group), disable=not self.verbose, desc="maps"):
            x, x0 = images[s : s + group], baselines[s : s + group]
            deltas = tf.repeat(x - x0, steps, axis=0)  # image-major, then path step
            points = (
                tf.repeat(x0, steps, axis=0)
                + tf.tile(alphas, [len(x)])[:, None, None, None] * deltas
            )
            pieces = [
                self._input_maps_fn(points[p : p + per_call], deltas[p : p + per_call])
                for p in range(0, len(points), per_call)
            ]
            maps = tf.concat(pieces, 0)
            outs.append(tf.reduce_mean(tf.reshape(maps, (len(x), steps, *maps.shape[1:])), 1))
        return tf.concat(outs, 0)

    def concept_attribution_maps(
        self,
        inputs: Any,
        method: str = "layer",
        batch_size: int | None = None,
        steps: int = 16,
        baseline: Any = "mean",
    ) -> tf.Tensor:
        """Where each concept is in each image: ``(N, H, W, number_of_concepts)`` float32.

        The code of an activation vector ``a`` is the NNLS solution
        ``u*(a) = argmin_{u >= 0} ||a - u W||``; its Jacobian follows from the KKT conditions on
        the active set ``S``: ``d u*_S / d a = (W_S W_S^T)^{-1} W_S`` (implicit differentiation,
        see ``extractors.nnls``). The paper differentiates the code this way and then applies an
        attribution method (the authors' code: Grad-CAM at a layer); two maps use it:

        - ``"layer"`` (default): activation x implicit gradient at the concept layer,
          ``sum_c A_ijc d u*_k / d A_ijc``, upsampled (bilinear) to the image size. Since
          ``u*`` is positively homogeneous, this equals the code ``u*_k`` at each position
          exactly (Euler's identity ``J a = u*``), so it is computed without a backward pass;
          it is also the fallback for extractors that are not differentiable in TF (KMeans,
          SparseCoding) and what Xplique shows. Its resolution is the layer's: a code cell
          spans the layer's total stride and sees a whole receptive field (4 and 18 pixels on
          the reference CNN), and some concepts answer plain background weakly at full-image
          scale, so the mass spreads around the parts.
        - ``"input"``: Integrated Gradients (Sundararajan et al. 2017) of the total code
          ``U_k(x) = sum_ij u*_k(g(x)_ij)`` through ``g`` and the implicit NNLS gradient,
          ``(x - x0) * mean_s grad U_k(x0 + a_s (x - x0))`` with ``a_s = (s + 1/2) / steps``
          (midpoint rule), summed over colour channels; one forward and ``r`` backward passes
          per path point. Why IG and not gradient x input: the maps add up to
          ``U_k(x) - U_k(x0)`` (completeness; within 2% at 16 steps on the reference CNN),
          whereas gradient x input is a first-order term around a black image: through ReLUs
          its sign flips from pixel to pixel (shattered gradients, Balduzzi et al. 2017) and a
          zero reference weighs every pixel by its brightness. On the built-in dataset it put
          9-57% of the top concept's positive mass on the planted object, the rest on sign noise
          over the background and on the bright pattern pixels; IG from the mean colour puts
          34-74% there (``benchmarks/bench_craft_maps.py``). The default baseline ``x0``
          (``"mean"``) is the image's mean colour as a constant image: it has no structure, so
          flat regions where ``x ~ x0`` get almost nothing, and it privileges no colour, whereas
          black (``"zero"``, IG's usual baseline) cannot attribute dark pixels (Sturmfels,
          Lundberg & Lee 2020). Needs a differentiable extractor (NMF, PCA, ICA); works for
          spatial and non-spatial layers.

        Parameters
        ----------
        inputs
            Images ``(N, H, W, C)``.
        method
            ``"layer"`` or ``"input"``.
        batch_size
            Images (``"layer"``) or path points (``"input"``) per batch; default
            ``self.batch_size``.
        steps
            Points of the Integrated Gradients path (``method="input"``): ``steps`` forward
            and ``r * steps`` backward passes per image, ``batch_size`` points at a time.
        baseline
            Reference of ``method="input"``: ``"mean"`` (each image's mean colour),
            ``"zero"`` (black), or images broadcastable to ``inputs`` (e.g. blurred inputs).

        References
        ----------
        Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability",
        CVPR 2023. Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks", ICML
        2017. Balduzzi et al., "The Shattered Gradients Problem", ICML 2017. Sturmfels,
        Lundberg & Lee, "Visualizing the Impact of Feature Attribution Baselines", Distill 2020.
        """
        self._check_fitted()
        check_choice(method, "method", MAP_METHODS)
        images = _as_images(inputs)
        batch_size = self.batch_size if batch_size is None else check_batch_size(batch_size)
        steps = check_positive_int(steps, "steps")
        size = tuple(images.shape[1:3])
        if method == "input" and not getattr(self.extractor, "differentiable", False):
            warnings.warn(
                f"{type(self.extractor).__name__} codes are not differentiable in TF: using "
                "method='layer' (the codes upsampled).",
                stacklevel=2,
            )
            method = "layer"
        if method == "input":
            return self._input_maps(images, _map_baselines(images, baseline), steps, batch_size)
        step = len(images) if not batch_size else batch_size
        outs = []
        for s in tqdm(range(0, len(images), step), disable=not self.verbose, desc="maps"):
            codes = _spatial_codes(self._codes(self._latent(images[s : s + step])))
            outs.append(tf.image.resize(codes, size, method="bilinear"))
        return tf.concat(outs, 0)

    def explain(self, inputs: Any, targets: Any = None, **kwargs: Any) -> tf.Tensor:
        """Alias of ``concept_attribution_maps`` (``targets`` is ignored: the class is fixed)."""
        return self.concept_attribution_maps(inputs, **kwargs)

    __call__ = explain

    # ---------------------------------------------------------------- crops
    def top_crops(self, concept_id: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` crops expressing ``concept_id`` the most: ``(crops, crop indices)``."""
        self._check_fitted()
        concept_id = self._check_concept(concept_id)
        k = check_positive_int(k, "k")
        order = np.argsort(-self.crops_u_[:, concept_id], kind="stable")[:k]
        return self.crops_[order], order

    def visualize_concepts(
        self, concept_ids: Any = None, **maco_kwargs: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """MACO visualizations of concept directions, all optimised as one batch.

        Each concept's row of ``concept_bank_`` is a direction objective at the concept layer
        (``Objective.direction``: dot product weighted by the cosine similarity, at every
        position of a spatial layer), optimised with :func:`xplique_lens.features.maco`.

        Parameters
        ----------
        concept_ids
            Concepts to visualise (default: all, by decreasing importance when
            ``estimate_importance`` was called).
        **maco_kwargs
            Passed to ``maco`` (``nb_steps``, ``custom_shape``, ``values_range``, ``seed``...).

        Returns
        -------
        images, transparencies
            ``(k, H, W, C)`` each, in the order of ``concept_ids``.
        """
        from ..features import Objective, maco

        self._check_fitted()
        if getattr(self, "model", None) is None:
            raise TypeError(
                "`visualize_concepts` needs the whole model: build the Craft with "
                "`Craft.from_model(model, layer, ...)`."
            )
        if concept_ids is None:
            ids = (
                self.most_important_concepts_
                if hasattr(self, "importances_")
                else np.arange(self.number_of_concepts)
            )
        else:
            ids = np.atleast_1d(concept_ids)
        ids = [self._check_concept(int(c)) for c in ids]
        objective = Objective.direction(self.model, self.layer, self.concept_bank_[ids])
        images, transparencies = maco(objective, **maco_kwargs)
        images, transparencies = np.asarray(images), np.asarray(transparencies)
        if images.ndim == 3:
            images, transparencies = images[None], transparencies[None]
        return images, transparencies

    def _check_concept(self, concept_id: Any) -> int:
        concept_id = check_positive_int(concept_id, "concept_id", minimum=0)
        if concept_id >= self.number_of_concepts:
            raise ValueError(
                f"`concept_id` must be in [0, {self.number_of_concepts}), got {concept_id}."
            )
        return concept_id

    # ---------------------------------------------------------------- recursion
    def refine(
        self,
        concept_id: int,
        layer: str | int,
        number_of_concepts: int = 4,
        nb_crops: int | None = None,
        patch_size: int | None = None,
        extractor: BaseConceptExtractor | None = None,
    ) -> Craft:
        """Decompose a concept into sub-concepts at an earlier layer (the paper's recursion).

        The crops expressing ``concept_id`` the most (resized to the input size, as ``g`` saw
        them) are the images of a child Craft split at ``layer``; its concepts are the
        sub-concepts. The child is stored in ``children_[concept_id]`` and knows its
        ``parent_`` and ``parent_concept_id_``, so the hierarchy can be walked.

        Parameters
        ----------
        concept_id
            The concept to refine.
        layer
            An earlier layer of the model (any form of
            :func:`~xplique_lens.commons.find_layer`: index, name, ``"base/name"`` path, bare
            name unique in the nested tree); it must be inside ``g``.
        number_of_concepts
            Number of sub-concepts.
        nb_crops
            How many top crops to fit on; default: the top quarter of the crops (at least
            ``4 * number_of_concepts``).
        patch_size
            Crop size of the child; default the input size (each parent crop is one child crop).
        extractor
            Extractor of the child; default as the parent's ``activation_policy`` gives it
            (NMF, or semi-NMF for ``"signed"``); the child has the parent's policy.

        Returns
        -------
        child
            A fitted ``Craft`` whose ``class_id_`` is the parent's.
        """
        self._check_fitted()
        concept_id = self._check_concept(concept_id)
        if self.model is not None and isinstance(self.input_to_latent_model, keras.Model):
            # ``g`` keeps the names and nested paths of the layers before the parent layer
            child_path = layer_path(self.model, layer)
            if child_path == self.layer or not _has_layer(self.input_to_latent_model, child_path):
                raise ValueError(
                    f"`layer` {layer!r} must come before the parent layer {self.layer!r}."
                )
            first, rest = split_model(self.input_to_latent_model, child_path)
            latent_to_logit = _Chain(rest, self.latent_to_logit_model)
        elif isinstance(self.input_to_latent_model, keras.Model):
            child_path = layer_path(self.input_to_latent_model, layer)
            first, rest = split_model(self.input_to_latent_model, layer)
            latent_to_logit = _Chain(rest, self.latent_to_logit_model)
        else:
            raise ValueError(
                "`refine` needs a Keras `input_to_latent_model` (or `Craft.from_model`) to cut "
                "at an earlier layer."
            )
        n_total = len(self.crops_)
        if nb_crops is None:
            nb_crops = min(n_total, max(n_total // 4, 4 * number_of_concepts))
        nb_crops = min(check_positive_int(nb_crops, "nb_crops"), n_total)
        _, indices = self.top_crops(concept_id, nb_crops)
        size = tuple(self.inputs_.shape[1:3])
        crop_images = tf.image.resize(self.crops_[indices], size, method="bicubic")
        child = Craft(
            first,
            latent_to_logit,
            number_of_concepts=number_of_concepts,
            batch_size=self.batch_size,
            patch_size=patch_size or min(size),
            extractor=extractor,
            verbose=self.verbose,
            activation_policy=self.activation_policy,
        )
        child.model = self.model
        child.layer = child_path
        child.to_parent_latent_ = rest
        child.parent_ = self
        child.parent_concept_id_ = concept_id
        child.parent_crop_indices_ = indices
        child.fit(crop_images, class_id=self.class_id_)
        self.children_[concept_id] = child
        return child

    def __repr__(self) -> str:
        return (
            f"Craft(number_of_concepts={self.number_of_concepts}, patch_size={self.patch_size}, "
            f"batch_size={self.batch_size}, extractor={self.extractor!r}, layer={self.layer!r})"
        )
