"""What a condition shows next to a training image: attribution maps, concept maps, or nothing.

A condition of :class:`~xplique_lens.human.UtilityExperiment` is one of

- ``None``: the baseline, trained on images and decisions only;
- an explainer, any callable ``(inputs, targets) -> maps`` (``Saliency(model)``, an Xplique
  explainer...), called on the training images with the model's decisions as one-hot targets:
  one heatmap per trial;
- a fitted :class:`~xplique_lens.concepts.Craft` (one class) or
  :class:`~xplique_lens.concepts.CraftManager` (one Craft per class, the Craft of the decided
  class explains each image): the concept attribution maps of the ``concepts_shown`` concepts
  that weigh the most in each image, each shown with crops of the concept, as in CRAFT's
  human experiments (Fel et al., CVPR 2023);
- an array of precomputed maps ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, K)`` (``K``
  panels per image) aligned with the experiment's images, e.g. ground-truth part masks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.validation import NotFittedError, check_is_fitted, resolve_verbose

KINDS = ("attribution", "concepts", "precomputed")


@dataclass(frozen=True)
class ExplanationSet:
    """The explanations of one condition on the training trials (in trial order).

    Attributes
    ----------
    maps
        ``(n, H, W, K)`` float32: ``K`` panels per training trial (``K = 1`` for a heatmap).
    captions
        ``n`` tuples of ``K`` captions (``"concept 3"``...; empty strings for plain heatmaps).
    weights
        ``(n, K)`` non-negative weights that merge the panels into one heatmap
        (:meth:`heatmaps`, what the simulated participant attends to).
    kind
        ``"attribution"``, ``"concepts"`` or ``"precomputed"``.
    concept_keys
        For concepts: ``n`` tuples of ``K`` keys (``"c"`` for a Craft, ``"class.c"`` for a
        CraftManager) into ``crops``; else ``None``.
    crops
        For concepts: key -> ``(k, h, w, C)`` crops that express the concept the most.
    """

    maps: np.ndarray
    captions: tuple[tuple[str, ...], ...]
    weights: np.ndarray
    kind: str
    concept_keys: tuple[tuple[str, ...], ...] | None = None
    crops: dict[str, np.ndarray] | None = None

    def heatmaps(self) -> np.ndarray:
        """One ``(n, H, W)`` map per trial: ``sum_k weights_k |panel_k| / max |panel_k|``."""
        panels = np.abs(self.maps)
        peak = panels.max(axis=(1, 2), keepdims=True)
        panels = np.divide(panels, peak, out=np.zeros_like(panels), where=peak > 0)
        return np.einsum("nhwk,nk->nhw", panels, self.weights).astype(np.float32)


def _one_hot(decisions: np.ndarray, nb_classes: int) -> np.ndarray:
    return np.eye(nb_classes, dtype=np.float32)[decisions]


def _as_maps(raw: Any, size: tuple[int, int], where: str, panels: bool = False) -> np.ndarray:
    """Explanations of any common layout to ``(n, H, W, K)`` float32 at the image size.

    ``(n, H, W)`` and ``(n, H, W, 1)`` are one panel; ``(n, H, W, C)`` with ``C > 1`` is
    averaged in absolute value over its channels (a per-channel attribution), unless
    ``panels`` (precomputed multi-panel maps).
    """
    maps = np.asarray(raw.numpy() if hasattr(raw, "numpy") else raw)
    if maps.dtype != bool and (maps.dtype == object or not np.issubdtype(maps.dtype, np.number)):
        raise TypeError(f"{where} must be numeric (or boolean) maps, got dtype {maps.dtype}.")
    maps = maps.astype(np.float32)
    if maps.ndim == 3:
        maps = maps[..., None]
    if maps.ndim != 4:
        raise ValueError(
            f"{where} must be maps of shape (N, H, W) or (N, H, W, K), got shape {maps.shape}."
        )
    if maps.shape[-1] > 1 and not panels:
        maps = np.abs(maps).mean(axis=-1, keepdims=True)
    if not np.all(np.isfinite(maps)):
        raise ValueError(f"{where} contains NaN or inf values; expected finite maps.")
    if tuple(maps.shape[1:3]) != tuple(size):
        maps = tf.image.resize(maps, size, method="bilinear").numpy()
    return maps


def is_craft(condition: Any) -> bool:
    """A Craft-like object: concept attribution maps for one class."""
    return hasattr(condition, "concept_attribution_maps") and hasattr(
        condition, "number_of_concepts"
    )


def is_craft_manager(condition: Any) -> bool:
    """A CraftManager-like object: ``craft_instances`` maps a class to its Craft."""
    return isinstance(getattr(condition, "craft_instances", None), dict)


def check_condition(name: Any, condition: Any, n_images: int) -> None:
    """Raise a clear error when a condition is not one of the supported kinds."""
    where = f"`conditions[{name!r}]`"
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"`conditions` keys must be non-empty strings (names), got {name!r}.")
    if condition is None or is_craft(condition) or is_craft_manager(condition):
        return
    if isinstance(condition, np.ndarray | tf.Tensor):
        shape = tuple(condition.shape)
        if len(shape) not in (3, 4) or shape[0] != n_images:
            raise ValueError(
                f"{where} holds precomputed maps of shape {shape}; expected (N, H, W) or "
                f"(N, H, W, K) with N={n_images} (one map per image of `images`)."
            )
        return
    if not callable(condition):
        raise TypeError(
            f"{where} must be None (baseline), an explainer (a callable (inputs, targets) -> "
            "maps), a fitted Craft or CraftManager, or an array of maps; got "
            f"{type(condition).__name__}."
        )


def _concept_panels(
    craft: Any,
    images: np.ndarray,
    concepts_shown: int,
    crops_shown: int,
    key_prefix: str,
    where: str,
    owner: str = "",
) -> tuple[np.ndarray, list, np.ndarray, list, dict]:
    """Top concept maps of ``images`` under one Craft, their captions, weights, keys, crops."""
    try:
        check_is_fitted(craft, "concept_bank_", hint="craft.fit(images)")
    except NotFittedError as error:
        raise NotFittedError(f"{where}: {error}") from None
    maps = _as_maps(craft.concept_attribution_maps(images), images.shape[1:3], where, panels=True)
    importances = getattr(craft, "importances_", None)
    mass = np.clip(maps, 0, None).mean(axis=(1, 2))  # (n, r)
    share = None
    if importances is not None:
        importances = np.clip(np.asarray(importances, np.float64), 0, None)
        share = importances / max(float(importances.sum()), 1e-12)
        mass = mass * importances[None]
    k = min(concepts_shown, maps.shape[-1])
    top = np.argsort(-mass, axis=1, kind="stable")[:, :k]  # (n, k)
    chosen = np.take_along_axis(maps, top[:, None, None, :], axis=-1)
    weights = np.take_along_axis(mass, top, axis=1)
    captions, keys, crops = [], [], {}
    for row in top:
        captions.append(
            tuple(
                f"concept {c}{owner}"
                + (f" (importance {share[c]:.0%})" if share is not None else "")
                for c in row
            )
        )
        keys.append(tuple(f"{key_prefix}{c}" for c in row))
        for c in row:
            key = f"{key_prefix}{c}"
            if key not in crops and crops_shown > 0 and hasattr(craft, "top_crops"):
                crops[key] = np.asarray(craft.top_crops(int(c), k=crops_shown)[0], np.float32)
    return chosen, captions, weights, keys, crops


def explain_condition(
    name: str,
    condition: Any,
    images: np.ndarray,
    decisions: np.ndarray,
    nb_classes: int,
    batch_size: int | None = 64,
    concepts_shown: int = 3,
    crops_shown: int = 4,
    verbose: bool = False,
    precomputed: np.ndarray | None = None,
    class_names: list[str] | None = None,
    *,
    progress: bool | None = None,
) -> ExplanationSet | None:
    """The explanations a condition shows on the training images (``None`` for the baseline).

    Parameters
    ----------
    name
        Name of the condition (for error messages and the progress bar).
    condition
        ``None``, an explainer, a Craft / CraftManager, or precomputed maps (see module doc).
    images
        The training images ``(n, H, W, C)`` in trial order.
    decisions
        The model's decisions on them ``(n,)``: the targets explained.
    nb_classes
        Number of model outputs (for one-hot targets).
    batch_size
        Images per call of the explainer (the progress bar advances per call).
    concepts_shown, crops_shown
        Concepts shown per image and crops shown per concept (Craft conditions).
    verbose
        Show a progress bar over the calls.
    precomputed
        The maps of the training images, when ``condition`` is an array (already indexed).
    class_names
        Names of the classes, for the captions of a CraftManager's concepts.
    progress
        Deprecated alias of ``verbose`` (``DeprecationWarning``).

    Returns
    -------
    ExplanationSet or None
    """
    verbose = resolve_verbose(verbose, progress, "explain_condition")
    where = f"`conditions[{name!r}]`"
    size = tuple(images.shape[1:3])
    if condition is None:
        return None
    if precomputed is not None:
        maps = _as_maps(precomputed, size, where, panels=True)
        n, k = len(maps), maps.shape[-1]
        captions = tuple(
            ("",) * k if k == 1 else tuple(f"map {j}" for j in range(k)) for _ in range(n)
        )
        return ExplanationSet(maps, captions, np.ones((n, k), np.float32), "precomputed")
    if is_craft_manager(condition):
        missing = sorted(set(decisions.tolist()) - set(condition.craft_instances))
        if missing:
            raise ValueError(
                f"{where} is a CraftManager without a Craft for the decided class(es) {missing}: "
                "fit it on classes that include every decision of the training trials."
            )
        k = concepts_shown
        maps = np.zeros((len(images), *size, k), np.float32)
        weights = np.zeros((len(images), k), np.float32)
        captions: list = [()] * len(images)
        keys: list = [()] * len(images)
        crops: dict = {}
        classes = sorted(set(decisions.tolist()))
        for class_id in tqdm(classes, disable=not verbose, desc=f"explaining ({name})"):
            rows = np.flatnonzero(decisions == class_id)
            craft = condition.craft_instances[class_id]
            owner = class_names[class_id] if class_names else f"class {class_id}"
            panel, caps, w, ks, cr = _concept_panels(
                craft,
                images[rows],
                concepts_shown,
                crops_shown,
                f"{class_id}.",
                where,
                f" of {owner}",
            )
            used = panel.shape[-1]
            maps[rows, ..., :used] = panel
            weights[rows, :used] = w
            for j, row in enumerate(rows):
                captions[row] = caps[j] + ("",) * (k - used)
                keys[row] = ks[j] + ("",) * (k - used)
            crops.update(cr)
        return ExplanationSet(maps, tuple(captions), weights, "concepts", tuple(keys), crops)
    if is_craft(condition):
        panel, caps, w, ks, cr = _concept_panels(
            condition, images, concepts_shown, crops_shown, "", where
        )
        return ExplanationSet(panel, tuple(caps), w.astype(np.float32), "concepts", tuple(ks), cr)

    explainer: Callable = condition
    targets = _one_hot(decisions, nb_classes)
    step = len(images) if not batch_size else batch_size
    outs = []
    for start in tqdm(
        range(0, len(images), step), disable=not verbose, desc=f"explaining ({name})"
    ):
        try:
            raw = explainer(images[start : start + step], targets[start : start + step])
        except (TypeError, ValueError) as error:
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(f"{where} failed on the training images: {error}") from error
        outs.append(_as_maps(raw, size, f"the maps of {where}"))
    maps = np.concatenate(outs, axis=0)
    if len(maps) != len(images):
        raise ValueError(
            f"{where} returned {len(maps)} maps for {len(images)} images; expected one per image."
        )
    captions = tuple(("",) for _ in range(len(maps)))
    return ExplanationSet(maps, captions, np.ones((len(maps), 1), np.float32), "attribution")
