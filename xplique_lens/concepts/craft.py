"""CRAFT: Concept Recursive Activation FacTorization (Fel et al., CVPR 2023).

The model is split as ``f = h o g`` at a layer (of the model or of a nested base model). Crops of
the class images go through ``g``; their (spatially averaged) activations ``A`` are factorised by
NMF, ``A ~ U W``: ``W`` is the concept bank, ``U`` the concept codes of the crops. The importance
of each concept for the class is its total Sobol index, masks acting on ``U`` through ``h``;
where each concept is in an image is given by concept attribution maps obtained by
differentiating the NNLS code implicitly (:mod:`.craft_maps`); and a concept can be refined
recursively into sub-concepts at an earlier layer (:mod:`.craft_refine`). Layers that are not
non-negative (swish, GELU, residual sums) follow one policy, ``activation_policy`` (refuse them,
clamp them, or factorise them by semi-NMF); token layers ``(N, T, D)`` of ViTs are handled like
spatial ones (:mod:`.craft_layout`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.validation import (
    check_batch_size,
    check_choice,
    check_is_fitted,
    check_positive_int,
    check_power_of_two,
    check_verbose,
)
from .craft_base import IMPORTANCE_STATE, BaseCraft
from .craft_layout import as_images
from .craft_maps import (
    MAP_BASELINES,
    MAP_METHODS,
    integrated_gradients_maps,
    layer_maps,
    make_input_maps_fn,
    map_baselines,
)
from .craft_refine import ChainedModel, CraftLink, refine_nb_crops, split_before
from .craft_settings import ACTIVATION_POLICIES
from .extractors.base import BaseConceptExtractor, NotFittedError
from .importance import ConceptImportance

__all__ = [
    "ACTIVATION_POLICIES",
    "IMPORTANCE_STATE",
    "MAP_BASELINES",
    "MAP_METHODS",
    "BaseCraft",
    "Craft",
    "CraftLink",
    "NotFittedError",
    "as_images",
]


class Craft(BaseCraft):
    """CRAFT concept extraction, importance, attribution maps and recursion for one class.

    Drop-in for Xplique 2.0.2's ``CraftTf`` (same parameters, defaults and order), with these
    differences: ``fit`` returns ``self`` (learned state in ``crops_``, ``crops_u_``,
    ``concept_bank_``); NMF is solved in TensorFlow (``extractor`` may be any concept extractor);
    ``estimate_importance`` pushes all images x masks through ``h`` in batches instead of one
    ``predict`` per image; concept attribution maps are computed by implicit differentiation of
    the NNLS code, as in the paper (Xplique only upsamples the codes); ``refine`` implements the
    paper's recursion (absent from Xplique); layers that are not non-negative follow
    ``activation_policy``; layers of nested models and token layers work. Construction
    (``from_model``), ``fit``, ``transform`` and ``top_crops`` are those of
    :class:`~xplique_lens.concepts.craft_base.BaseCraft`.

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
        Number of forward passes per batch (for ``g`` and ``h``); None: all at once.
    patch_size
        Side of the square crops; they are cut every ``stride`` pixels and resized to the input
        size before ``g``.
    extractor
        A concept extractor (``NMF``, ``PCA``, ``ICA``, ``KMeans``, ``SparseCoding``) with
        ``n_components == number_of_concepts``; default Xplique's extractor,
        ``NMF(number_of_concepts, alpha=1e-2, max_iter=200, inner_sweeps=1, tol=0)``
        (:data:`~xplique_lens.concepts.craft_settings.CRAFT_NMF_SETTINGS`: the most faithful
        concept ranking across seeds, see docs/concepts.md), or
        ``SemiNMF(number_of_concepts)`` with ``activation_policy="signed"``.
    stride
        Step between crops; default ``int(0.8 * patch_size)`` (the paper, Xplique).
    verbose
        Deprecated: pass ``verbose`` to ``fit``, ``estimate_importance`` and
        ``concept_attribution_maps`` instead (when given here, it is their default).
    activation_policy
        ``"error"``, ``"clamp"`` or ``"signed"``: what to do with a layer that is not
        non-negative (see above).
    model
        The whole model ``f`` (keyword), needed by ``visualize_concepts``; with it, ``refine``
        resolves layers in ``f``. :meth:`from_model` sets it.
    layer
        The layer of ``model`` where ``f`` is split (keyword; any form of
        :func:`~xplique_lens.commons.find_layer`); stored as its full path. Required with
        ``model``.
    link
        A :class:`~xplique_lens.concepts.craft_refine.CraftLink` to the parent (keyword; set by
        ``refine`` on the children it builds).

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
    parent_, parent_concept_id_, parent_crop_indices_, to_parent_latent_
        The fields of ``link`` (None for a Craft that ``refine`` did not make).

    References
    ----------
    Fel, Picard, Béthune, Boissin, Vigouroux, Colin, Cadène, Serre, "CRAFT: Concept Recursive
    Activation FacTorization for Explainability", CVPR 2023 (arXiv 2211.10154).
    """

    # ---------------------------------------------------------------- importance
    def estimate_importance(
        self,
        inputs: Any = None,
        nb_design: int = 32,
        verbose: bool = False,
        *,
        sampler: Any = "halton_unscrambled",
        estimator: Any = None,
    ) -> np.ndarray:
        """Total Sobol indices of the concepts for the class (Fel et al. 2023, section 3.2).

        Masks ``M`` from a replicated QMC design act on the codes, ``A' = (U * M) W`` (on every
        position of spatial codes), and ``h(A')[class_id]`` feeds the Jansen estimator; the
        indices are averaged over the images. All images and masks go through ``h`` together, in
        batches of ``batch_size``, with the attributions' Sobol kernel
        (:class:`~xplique_lens.concepts.ConceptImportance`, method ``"sobol"``). Importance is
        estimated on the whole images' codes, as Xplique's ``CraftTf`` does. How faithful the
        ranking is, measured against planted parts: ``docs/concepts.md``, section "Faithfulness
        of the importance ranking" (``benchmarks/bench_faithfulness.py``).

        Parameters
        ----------
        inputs
            Images; ``None`` uses the images given to ``fit`` and stores the result in
            ``importances_`` (and the per-image indices in ``local_importances_``).
        nb_design
            QMC points per matrix (a power of two); ``nb_design * (r + 1)`` forwards of ``h`` per
            image (total indices need no ``f(B)``; Xplique runs ``nb_design * (r + 2)``).
        verbose
            Show a progress bar over the batches of ``h``.
        sampler
            A name of :func:`~xplique_lens.attributions.sobol.samplers.get_sampler`, with its
            meaning there, or a ``Sampler`` object. Default ``"halton_unscrambled"``: the plain
            Halton sequence, Xplique's CRAFT design (``"halton"`` is the *scrambled* one).
        estimator
            A Sobol estimator name or object (default Jansen, as Xplique).

        Returns
        -------
        importances
            ``(r,)`` total Sobol index of each concept.
        """
        self._check_fitted()
        nb_design = check_power_of_two(nb_design, "nb_design")
        verbose = check_verbose(verbose) or self.verbose
        is_global = inputs is None
        images = self.inputs_ if is_global else as_images(inputs)
        codes = self._codes(self._latent(images))
        estimator_ = ConceptImportance.from_craft(
            self,
            "sobol",
            nb_design=nb_design,
            sampler=sampler,
            estimator=estimator,
        )
        targets = np.full(int(codes.shape[0]), self.class_id_, dtype=np.int64)
        local = estimator_.explain(codes, targets, verbose=verbose).numpy()
        importances = local.mean(axis=0)
        if is_global:
            self.local_importances_ = local
            self.importances_ = importances
        return importances

    @property
    def most_important_concepts_(self) -> np.ndarray:
        """Concept ids sorted by decreasing importance (after ``estimate_importance``)."""
        check_is_fitted(self, "importances_", hint="estimate_importance()")
        return np.argsort(self.importances_)[::-1]

    # ---------------------------------------------------------------- attribution maps
    def concept_attribution_maps(
        self,
        inputs: Any,
        method: str = "layer",
        batch_size: int | None = None,
        steps: int = 16,
        baseline: Any = "mean",
        verbose: bool = False,
    ) -> tf.Tensor:
        """Where each concept is in each image: ``(N, H, W, number_of_concepts)`` float32.

        The code of an activation vector ``a`` is the NNLS solution
        ``u*(a) = argmin_{u >= 0} ||a - u W||``, differentiated implicitly (KKT conditions on
        the active set, see ``extractors.nnls``), then an attribution method is applied, as in
        the paper (the authors' code: Grad-CAM at a layer); see :mod:`.craft_maps`:

        - ``"layer"`` (default): activation x implicit gradient at the concept layer, which
          equals the code ``u*_k`` at each position (Euler's identity), upsampled (bilinear) to
          the image size, without a backward pass. It is also the fallback for extractors
          that are not differentiable in TF (KMeans, SparseCoding) and what Xplique shows; its
          resolution is the layer's.
        - ``"input"``: Integrated Gradients of the total code ``U_k(x)`` through ``g`` and the
          implicit NNLS gradient, from the baseline ``x0`` (midpoint rule, ``steps`` points),
          summed over colour channels; the maps add up to ``U_k(x) - U_k(x0)``. Sharper, and
          localised on the parts. Needs a differentiable extractor (NMF, PCA, ICA).

        Why Integrated Gradients from the mean colour rather than gradient x input or a black
        baseline, with the figures of ``benchmarks/bench_craft_maps.py``: ``docs/concepts.md``,
        section "Concept attribution maps".

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
        verbose
            Show a progress bar.

        References
        ----------
        Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability",
        CVPR 2023. Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks", ICML
        2017. Sturmfels, Lundberg & Lee, "Visualizing the Impact of Feature Attribution
        Baselines", Distill 2020.
        """
        self._check_fitted()
        check_choice(method, "method", MAP_METHODS)
        images = as_images(inputs)
        batch_size = self.batch_size if batch_size is None else check_batch_size(batch_size)
        steps = check_positive_int(steps, "steps")
        verbose = check_verbose(verbose) or self.verbose
        if method == "input" and not getattr(self.extractor, "differentiable", False):
            warnings.warn(
                f"{type(self.extractor).__name__} codes are not differentiable in TF: using "
                "method='layer' (the codes upsampled).",
                stacklevel=2,
            )
            method = "layer"
        if method == "layer":
            return layer_maps(lambda x: self._codes(self._latent(x)), images, batch_size, verbose)
        baselines = map_baselines(images, baseline)
        if self._input_maps_fn is None:
            g = self.input_to_latent_model
            encode = lambda points: self._codes(self._policy(g(points)))  # noqa: E731
            self._input_maps_fn = make_input_maps_fn(encode, self.number_of_concepts)
        return integrated_gradients_maps(
            self._input_maps_fn, images, baselines, steps, batch_size, verbose
        )

    def explain(self, inputs: Any, targets: Any = None, **kwargs: Any) -> tf.Tensor:
        """Alias of ``concept_attribution_maps`` (``targets`` is ignored: the class is fixed)."""
        return self.concept_attribution_maps(inputs, **kwargs)

    __call__ = explain

    # ---------------------------------------------------------------- visualisation
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
        if self.model is None:
            raise TypeError(
                "`visualize_concepts` needs the whole model: build the Craft with "
                "`Craft.from_model(model, layer, ...)` (or `model=` and `layer=`)."
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
        return np.asarray(images), np.asarray(transparencies)

    def refine(
        self,
        concept_id: int,
        layer: str | int,
        number_of_concepts: int = 4,
        nb_crops: int | None = None,
        patch_size: int | None = None,
        extractor: BaseConceptExtractor | None = None,
        verbose: bool = False,
    ) -> Craft:
        """Decompose a concept into sub-concepts at an earlier layer (the paper's recursion).

        The crops expressing ``concept_id`` the most (resized to the input size, as ``g`` saw
        them) are the images of a child Craft split at ``layer``; its concepts are the
        sub-concepts. The child is stored in ``children_[concept_id]``; its ``link``
        (:class:`~xplique_lens.concepts.craft_refine.CraftLink`) gives its ``parent_``,
        ``parent_concept_id_``, ``parent_crop_indices_`` and ``to_parent_latent_``, so the
        hierarchy can be walked.

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
        verbose
            Show a progress bar while the child is fitted.

        Returns
        -------
        child
            A fitted ``Craft`` whose ``class_id_`` is the parent's.
        """
        self._check_fitted()
        concept_id = self._check_concept(concept_id)
        number_of_concepts = check_positive_int(number_of_concepts, "number_of_concepts")
        first, rest, child_path = split_before(
            self.input_to_latent_model, self.model, self.layer, layer
        )
        nb_crops = refine_nb_crops(nb_crops, len(self.crops_), number_of_concepts)
        _, indices = self.top_crops(concept_id, nb_crops)
        size = tuple(self.inputs_.shape[1:3])
        crop_images = tf.image.resize(self.crops_[indices], size, method="bicubic")
        child = Craft(
            first,
            ChainedModel(rest, self.latent_to_logit_model),
            number_of_concepts=number_of_concepts,
            batch_size=self.batch_size,
            patch_size=patch_size or min(size),
            extractor=extractor,
            activation_policy=self.activation_policy,
            model=self.model,
            layer=child_path,
            link=CraftLink(self, concept_id, indices, rest),
        )
        child.fit(crop_images, self.class_id_, verbose=check_verbose(verbose) or self.verbose)
        self.children_[concept_id] = child
        return child
