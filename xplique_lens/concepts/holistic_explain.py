"""Building blocks of holistic CRAFT's explanations: targets, importance explainers and the
localisation of concepts in the input.

Used by :class:`~xplique_lens.concepts.HolisticCraft` (Xplique 2.0.2's interface): the
importance of a concept is an attribution of the prediction to the concept codes through the
concept decoder ``u -> h(u W)``; its localisation is a black-box attribution of its reduced code
to the pixels (Fel et al. 2023, "A Holistic Approach to Unifying Automatic Concept Extraction and
Concept Importance Estimation", NeurIPS).
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..commons.validation import check_choice, to_float_tensor
from .holistic_parts import check_explanation_shape, is_white_box, predictions_tensor
from .xplique_names import PartialExplainer

__all__ = [
    "IMPORTANCE_METHODS",
    "check_concept_ids",
    "explain_image_by_image",
    "importance_explainer",
    "localize_concepts",
    "prediction_targets",
]

#: The importance methods of :meth:`HolisticCraft.estimate_importance`.
IMPORTANCE_METHODS = ("gradient_input", "sobol")


def prediction_targets(
    predictions: Any, class_id: int | None, confidence: float | None
) -> np.ndarray | None:
    """One-hot targets of a decoded prediction (or Xplique's structured ones).

    ``class_id`` None keeps the raw outputs as targets (Xplique); structured predictions are
    filtered by ``class_id`` and ``confidence`` and give None when nothing is left.
    """
    if hasattr(predictions, "filter") and hasattr(predictions, "to_attribution_target"):
        filtered = predictions.filter(class_id=class_id, confidence=confidence)
        if bool(getattr(filtered, "is_empty", False)):
            return None
        return np.asarray(predictions_tensor(filtered.to_attribution_target(class_id)))
    outputs = np.asarray(predictions_tensor(predictions))
    if class_id is None:
        return outputs
    if not 0 <= int(class_id) < outputs.shape[-1]:
        raise ValueError(f"`class_id` must be in [0, {outputs.shape[-1]}), got {class_id}.")
    return np.broadcast_to(
        np.eye(outputs.shape[-1], dtype=np.float32)[int(class_id)], outputs.shape
    ).copy()


def importance_explainer(
    method: str, operator: Any, number_of_concepts: int, **method_kwargs: Any
) -> PartialExplainer:
    """The explainer of concept importance: ``"gradient_input"`` (no channel reduction) or
    ``"sobol"`` (``grid_size=8``, ``nb_design=32``, ``perturbation_function="amplitude"``,
    ``nb_channels=number_of_concepts`` unless given); ``method_kwargs`` are not modified."""
    from ..attributions import GradientInput, SobolAttributionMethod

    check_choice(method, "method", IMPORTANCE_METHODS)
    kwargs = {"operator": operator, **method_kwargs}
    if method == "gradient_input":
        kwargs.setdefault("reducer", None)
        return PartialExplainer(GradientInput, **kwargs)
    kwargs.setdefault("grid_size", 8)
    kwargs.setdefault("nb_design", 32)
    kwargs.setdefault("perturbation_function", "amplitude")
    kwargs.setdefault("nb_channels", number_of_concepts)
    return PartialExplainer(SobolAttributionMethod, **kwargs)


def check_concept_ids(concept_ids: Any, number_of_concepts: int) -> list[int]:
    """Distinct concept ids in ``[0, r)`` (None: all of them), as a list of ints."""
    if concept_ids is None:
        return list(range(number_of_concepts))
    ids = list(concept_ids)
    bad = [
        c
        for c in ids
        if isinstance(c, bool)
        or not isinstance(c, numbers.Integral)
        or not 0 <= c < number_of_concepts
    ]
    if not ids or bad or len(set(ids)) != len(ids):
        raise ValueError(
            f"`concept_ids` must be distinct ints in [0, {number_of_concepts}), got "
            f"{concept_ids!r}."
        )
    return [int(c) for c in ids]


def localize_concepts(
    localizer: Callable,
    images: Any,
    partial_explainer: PartialExplainer,
    number_of_concepts: int,
    batch_size: int | None,
    concept_ids: Any = None,
) -> np.ndarray:
    """Concept maps ``(N, H, W, r)``: a black-box explainer attributes each concept's reduced
    code (``localizer``: images -> ``(N, r)``) to the pixels; channels not asked are NaN."""
    if not isinstance(partial_explainer, PartialExplainer):
        raise TypeError(
            f"`partial_explainer` must be a PartialExplainer, got "
            f"{type(partial_explainer).__name__}."
        )
    kwargs = dict(partial_explainer.kwargs)
    if kwargs.pop("operator", None) is not None:
        warnings.warn(
            "The operator is ignored: one-hot concept targets select the concept score.",
            UserWarning,
            stacklevel=3,
        )
    if is_white_box(partial_explainer.explainer_class):
        raise ValueError(
            "`attribute_concepts_to_inputs` needs a black-box explainer (Rise, "
            "SobolAttributionMethod, Occlusion, Lime, KernelShap...), got "
            f"{partial_explainer.explainer_class.__name__}."
        )
    concept_ids = check_concept_ids(concept_ids, number_of_concepts)
    images = to_float_tensor(images, "images")
    if images.shape.rank == 3:
        images = images[None]
    if images.shape.rank != 4 or images.shape[0] == 0:
        raise ValueError(f"`images` must be (N, H, W, C), got shape {tuple(images.shape)}.")
    explainer = partial_explainer.explainer_class(model=localizer, batch_size=batch_size, **kwargs)
    n, height, width, _ = images.shape
    maps = np.full((n, height, width, number_of_concepts), np.nan, np.float32)
    for concept in concept_ids:
        targets = np.zeros((n, number_of_concepts), np.float32)
        targets[:, concept] = 1.0
        single = np.asarray(explainer.explain(images, targets), np.float32)
        if single.ndim == 4 and single.shape[-1] == 1:
            single = single[..., 0]
        if single.shape != (n, height, width):
            raise ValueError(f"The explainer must return (N, H, W[, 1]) maps, got {single.shape}.")
        maps[..., concept] = single
    return maps


def check_partial_explainer(partial_explainer: Any) -> None:
    """Raise unless ``partial_explainer`` is a :class:`PartialExplainer`."""
    if not isinstance(partial_explainer, PartialExplainer):
        raise TypeError(
            "`partial_explainer` must be a PartialExplainer, e.g. "
            "PartialExplainer(GradientInput, reducer=None), got "
            f"{type(partial_explainer).__name__}."
        )


def explain_codes(
    decoder: Callable,
    codes: np.ndarray,
    partial_explainer: PartialExplainer,
    class_id: int | None,
    batch_size: int | None,
) -> np.ndarray:
    """Explanations of ``decoder``'s ``class_id`` output at ``codes``, every image in one call
    of the explainer (the decoder ``u -> h(u W)`` of a layer split is the same for all)."""
    targets = prediction_targets(decoder(codes), class_id, None)
    explainer = partial_explainer(model=decoder, batch_size=batch_size)
    return check_explanation_shape(explainer.explain(codes, targets), codes.shape)


def explain_image_by_image(
    craft: Any,
    images: Any,
    partial_explainer: PartialExplainer,
    class_id: int | None,
    confidence: float | None,
    verbose: bool = False,
) -> np.ndarray:
    """Xplique's path of ``compute_explanation_per_concept``: one concept decoder and one
    explainer per image (any latent extractor, batch size forced to 1 when it can be)."""
    force = getattr(craft.latent_extractor, "temporary_force_batch_size", None)
    context = force(1) if force is not None else contextlib.nullcontext()
    explanations = []
    with context:
        encoded = craft.encode(images)
        if not encoded:
            raise ValueError("`images` is empty: no activations were extracted.")
        for index, item in enumerate(encoded):
            if verbose:
                print(f"\rProcessing image {index + 1}/{len(encoded)}...", end="", flush=True)
            codes = np.asarray(item.coeffs_u, np.float32)
            targets = prediction_targets(
                craft.decode(item.latent_data, codes), class_id, confidence
            )
            if targets is None:
                explanations.append(np.zeros(codes.shape, np.float32))
                continue
            decoder = craft.make_concept_decoder(item.latent_data)
            explainer = partial_explainer(model=decoder, batch_size=craft.batch_size)
            explained = explainer.explain(codes, targets)
            explanations.append(check_explanation_shape(explained, codes.shape))
    if verbose:
        print()
    return np.concatenate(explanations, axis=0)
