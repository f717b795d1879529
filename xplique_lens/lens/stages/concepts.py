"""The concepts stage: CRAFT concepts of the class ranked by Sobol importance, their crops,
concept attribution maps, C-Deletion / C-Insertion, and optionally sub-concepts.

References
----------
T. Fel et al. *CRAFT: Concept Recursive Activation FacTorization for Explainability*. CVPR 2023.
arXiv:2211.10154

T. Fel et al. *A Holistic Approach to Unifying Automatic Concept Extraction and Concept
Importance Estimation*. NeurIPS 2023. arXiv:2306.07304
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .context import ClassContext


@dataclass(frozen=True)
class ConceptOptions:
    """Settings of the concepts stage (fields of :class:`~xplique_lens.lens.LensOptions`).

    ``seed`` draws the random concept order that the C-Deletion / C-Insertion table compares
    CRAFT's importances with.
    """

    nb_examples: int
    nb_concepts: int
    patch_size: int
    nb_crops_shown: int
    refine_top: int
    refine_layer: str | int | None
    sobol_design: int
    activation_policy: str
    seed: int


def compute_concepts(ctx: ClassContext[ConceptOptions], _: dict) -> dict:
    """Fit CRAFT on the class's images at ``ctx.layer``; concepts, importances, crops, maps,
    concept metrics and, with ``refine_layer`` and ``refine_top``, sub-concepts."""
    from ...concepts import Craft

    opts = ctx.options
    craft = Craft.from_model(
        ctx.model,
        ctx.layer,
        number_of_concepts=opts.nb_concepts,
        patch_size=opts.patch_size,
        activation_policy=opts.activation_policy,
    ).fit(ctx.images, class_id=ctx.class_id)
    importances = craft.estimate_importance(nb_design=opts.sobol_design)
    order = craft.most_important_concepts_
    k = min(opts.nb_crops_shown, len(craft.crops_))
    result = {
        "order": order,
        "importances": importances,
        "local_importances": craft.local_importances_,
        "concept_bank": craft.concept_bank_,
        "crops": np.stack([craft.top_crops(int(c), k)[0] for c in order]),
        # Integrated Gradients through the NNLS code: localised on the parts, unlike the
        # upsampled codes of method="layer" (benchmarks/bench_craft_maps.py)
        "maps": craft.concept_attribution_maps(ctx.examples, method="input").numpy(),
    }
    result["concept_metrics"] = concept_metrics(ctx, craft)
    if opts.refine_layer is not None and opts.refine_top > 0:
        result.update(_sub_concepts(craft, order, opts))
    return result


def _sub_concepts(craft, order: np.ndarray, opts: ConceptOptions) -> dict:
    """Crops and importances of the sub-concepts of the ``refine_top`` first concepts."""
    children_crops, children_importances = [], []
    for concept in order[: opts.refine_top]:
        child = craft.refine(int(concept), opts.refine_layer)
        child_k = min(opts.nb_crops_shown, len(child.crops_))
        child_importances = child.estimate_importance(nb_design=opts.sobol_design)
        child_order = np.argsort(child_importances)[::-1]
        crops = [child.top_crops(int(c), child_k)[0] for c in child_order]
        children_crops.append(np.stack(crops))
        children_importances.append(child_importances[child_order])
    return {
        "children_crops": np.stack(children_crops),
        "children_importances": np.stack(children_importances),
    }


def concept_metrics(ctx: ClassContext[ConceptOptions], craft) -> np.ndarray:
    """C-Deletion and C-Insertion of CRAFT's Sobol importances (first row) and of a random
    order drawn with ``ctx.options.seed`` (second row)."""
    from ...concepts.fidelity import CDeletion, CInsertion

    codes = craft.transform(ctx.images)
    targets = ctx.targets(len(ctx.images))
    local = craft.local_importances_
    random = np.random.default_rng(ctx.options.seed).random(local.shape)
    rows = []
    for importances in (local, random):
        rows.append(
            [
                metric(
                    craft.latent_to_logit_model,
                    codes,
                    craft.concept_bank_,
                    targets,
                    activation="softmax",
                ).evaluate(importances)
                for metric in (CDeletion, CInsertion)
            ]
        )
    return np.asarray(rows)
