"""The stages of a Lens class page: each computes arrays from the class's images.

A stage declares the options it reads and the stages it needs; the builder keys its cache on
exactly those, so changing e.g. ``maco_steps`` recomputes only the MACO stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from .options import LensOptions


@dataclass
class ClassContext:
    """What every stage of one class sees."""

    model: keras.Model
    layer: str | int
    class_id: int
    name: str
    images: np.ndarray
    options: LensOptions

    @property
    def examples(self) -> np.ndarray:
        """The images shown with attribution and concept maps."""
        return self.images[: self.options.nb_examples]

    def targets(self, n: int) -> np.ndarray:
        """Integer targets of the class for ``n`` images."""
        return np.full(n, self.class_id, dtype=np.int64)


@dataclass(frozen=True)
class Stage:
    """A named computation with its cache dependencies."""

    name: str
    run: Callable[[ClassContext, dict], dict]
    options: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    version: int = 1


def _overview(ctx: ClassContext, _: dict) -> dict:
    logits = ctx.model.predict(ctx.images, batch_size=64, verbose=0)
    return {
        "accuracy": np.mean(np.argmax(logits, axis=-1) == ctx.class_id),
        "thumbnail": ctx.images[0],
    }


def _explainers(ctx: ClassContext) -> dict:
    from ..attributions import GradientInput, Saliency, SobolAttributionMethod

    opts = ctx.options
    return {
        "Sobol": SobolAttributionMethod(
            ctx.model, grid_size=opts.sobol_grid, nb_design=opts.sobol_design, seed=opts.seed
        ),
        "Saliency": Saliency(ctx.model),
        "GradientInput": GradientInput(ctx.model),
    }


def _attributions(ctx: ClassContext, _: dict) -> dict:
    examples = ctx.examples
    targets = ctx.targets(len(examples))
    maps = {name: e(examples, targets).numpy() for name, e in _explainers(ctx).items()}
    return {"names": np.array(list(maps)), "maps": np.stack(list(maps.values()))}


def _maco_noise(opts: LensOptions) -> float:
    """MACO's default noise (0.08 on [0, 1] images) as the same share of ``values_range``."""
    low, high = opts.values_range
    return 0.08 * (float(high) - float(low))


def _maco_class(ctx: ClassContext, _: dict) -> dict:
    from ..features import Objective, maco

    opts = ctx.options
    image, transparency = maco(
        Objective.class_logit(ctx.model, ctx.class_id),
        nb_steps=opts.maco_steps,
        values_range=opts.values_range,
        noise_intensity=_maco_noise(opts),
        custom_shape=(opts.maco_size, opts.maco_size),
        nb_crops=opts.maco_crops,
        seed=opts.seed,
        progress=False,
    )
    return {"image": np.asarray(image), "transparency": np.asarray(transparency)}


def _metrics(ctx: ClassContext, _: dict) -> dict:
    from ..metrics import Deletion, Insertion

    opts = ctx.options
    images = ctx.images[: opts.metric_images]
    targets = ctx.targets(len(images))
    explainers = _explainers(ctx)
    # built once: the curves' explanation-independent end points are scored once per class
    metrics = [
        metric(ctx.model, images, targets, steps=opts.metric_steps, activation="softmax")
        for metric in (Deletion, Insertion)
    ]
    rows = []
    for explainer in explainers.values():
        explanations = explainer(images, targets)
        rows.append([metric(explanations) for metric in metrics])
    return {"explainers": np.array(list(explainers)), "scores": np.array(rows)}


def _concepts(ctx: ClassContext, _: dict) -> dict:
    from ..concepts import Craft

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
    result["concept_metrics"] = _concept_metrics(ctx, craft)
    if opts.refine_layer is not None and opts.refine_top > 0:
        children_crops = []
        for concept in order[: opts.refine_top]:
            child = craft.refine(int(concept), opts.refine_layer)
            child_k = min(opts.nb_crops_shown, len(child.crops_))
            child_importances = child.estimate_importance(nb_design=opts.sobol_design)
            child_order = np.argsort(child_importances)[::-1]
            crops = [child.top_crops(int(c), child_k)[0] for c in child_order]
            children_crops.append(np.stack(crops))
            result.setdefault("children_importances", []).append(child_importances[child_order])
        result["children_crops"] = np.stack(children_crops)
        result["children_importances"] = np.stack(result["children_importances"])
    return result


def _concept_metrics(ctx: ClassContext, craft) -> np.ndarray:
    """C-Deletion and C-Insertion of CRAFT's Sobol importances, and of a random order."""
    from ..concepts.fidelity import CDeletion, CInsertion

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


def _maco_concepts(ctx: ClassContext, upstream: dict) -> dict:
    from ..features import Objective, maco

    opts = ctx.options
    bank = upstream["concepts"]["concept_bank"][upstream["concepts"]["order"]]
    images, _ = maco(
        Objective.direction(ctx.model, ctx.layer, bank),
        nb_steps=opts.maco_steps,
        values_range=opts.values_range,
        noise_intensity=_maco_noise(opts),
        custom_shape=(opts.maco_size, opts.maco_size),
        nb_crops=opts.maco_crops,
        seed=opts.seed,
        progress=False,
    )
    images = np.asarray(images)
    return {"images": images[None] if images.ndim == 3 else images}


def _cluster_graph(ctx: ClassContext, upstream: dict) -> dict:
    from ..concepts.cluster_graph import strategic_cluster_graph

    graph = strategic_cluster_graph(
        upstream["concepts"]["local_importances"], method="tsne", seed=ctx.options.seed
    )
    return {
        "coordinates": graph.coordinates,
        "labels": graph.labels,
        "image_indices": graph.image_indices,
        "strategies": np.asarray(graph.strategies, dtype=np.int64),
        "shares": graph.shares,
    }


_CONCEPT_OPTIONS = (
    "images_per_class",
    "nb_examples",
    "nb_concepts",
    "patch_size",
    "nb_crops_shown",
    "refine_top",
    "refine_layer",
    "sobol_design",
    "activation_policy",
)
_SOBOL_OPTIONS = ("sobol_grid", "sobol_design", "seed")
_MACO_OPTIONS = ("maco_steps", "maco_size", "maco_crops", "values_range", "seed")

STAGES: list[Stage] = [
    Stage("overview", _overview),
    Stage("attributions", _attributions, options=("nb_examples", *_SOBOL_OPTIONS), version=2),
    Stage("maco_class", _maco_class, options=_MACO_OPTIONS, version=2),
    Stage("concepts", _concepts, options=_CONCEPT_OPTIONS, version=3),
    Stage("maco_concepts", _maco_concepts, options=_MACO_OPTIONS, needs=("concepts",)),
    Stage("cluster_graph", _cluster_graph, options=("seed",), needs=("concepts",)),
    Stage(
        "metrics",
        _metrics,
        options=("metric_images", "metric_steps", *_SOBOL_OPTIONS),
        version=2,
    ),
]
