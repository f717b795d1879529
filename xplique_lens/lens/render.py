"""Turn the arrays of a class's stages into PNG files, a manifest and its page."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib
import matplotlib.image
import numpy as np

from .site import render_class
from .stages import ClassContext
from .store import atomic_write_bytes, atomic_write_text


def _to_rgb(image: np.ndarray, values_range: tuple[float, float] | None = None) -> np.ndarray:
    """RGB in [0, 1]: mapped from the model's ``values_range``, else stretched min to max.

    Images of the data (inputs, crops) are mapped from the model's range, so photographs keep
    their contrast; without a range (MACO images, displayed as feature visualizations usually
    are), each picture is stretched from its own minimum to its maximum.
    """
    image = np.asarray(image, dtype=np.float32)
    if values_range is None:
        low, high = float(image.min()), float(image.max())
    else:
        low, high = (float(v) for v in values_range)
    image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]


def overlay(
    image: np.ndarray,
    heat: np.ndarray,
    alpha: float = 0.55,
    values_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Blend ``heat`` (H, W), clipped at its 99th percentile, as jet colours over ``image``."""
    heat = np.asarray(heat, dtype=np.float32)
    heat = heat[..., 0] if heat.ndim == 3 else heat
    bound = np.percentile(np.abs(heat), 99) or 1.0
    colours = matplotlib.colormaps["jet"](np.clip(heat / bound, 0, 1))[..., :3]
    return (1 - alpha) * _to_rgb(image, values_range) + alpha * colours


def save_png(
    path: Path,
    image: np.ndarray,
    upscale: int = 1,
    values_range: tuple[float, float] | None = None,
) -> None:
    """Write an image (see ``_to_rgb``), nearest-neighbour upscaled, atomically as a PNG."""
    image = np.clip(_to_rgb(image, values_range), 0, 1)
    if upscale > 1:
        image = image.repeat(upscale, axis=0).repeat(upscale, axis=1)
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, image, format="png")
    atomic_write_bytes(path, buffer.getvalue())


def render_class_files(
    out: Path, ctx: ClassContext, results: dict, cost: dict | None = None
) -> dict:
    """Write the images and the page of a class; return its manifest (JSON-able dict).

    ``cost`` (``{stage: {"seconds", "forwards", "backwards"}}``, what computing each stage
    cost) goes into the manifest under ``"cost"`` and is shown at the end of the page.
    """
    slug = f"{ctx.class_id:05d}"
    vr = ctx.options.values_range
    folder = Path(out) / "classes" / slug
    images = folder / "images"
    manifest: dict = {
        "class_id": ctx.class_id,
        "slug": slug,
        "name": ctx.name,
        "layer": str(ctx.layer),
        "n_images": int(len(ctx.images)),
    }
    overview = results.get("overview")
    if overview is not None:
        manifest["accuracy"] = float(overview["accuracy"])
        save_png(images / "thumb.png", overview["thumbnail"], 2, vr)
        manifest["thumbnail"] = "images/thumb.png"

    attributions = results.get("attributions")
    if attributions is not None:
        items = []
        for i, image in enumerate(ctx.examples):
            save_png(images / f"example_{i}.png", image, 2, vr)
            items.append({"src": f"images/example_{i}.png", "caption": f"image {i}"})
            for name, maps in zip(attributions["names"], attributions["maps"]):
                file = f"attr_{name}_{i}.png"
                save_png(images / file, overlay(image, maps[i], values_range=vr), 2, (0, 1))
                items.append({"src": f"images/{file}", "caption": f"{name}, image {i}"})
        manifest["attributions"] = items

    maco_class = results.get("maco_class")
    if maco_class is not None:
        save_png(images / "maco_class.png", maco_class["image"])  # stretched: the usual display
        manifest["maco"] = "images/maco_class.png"
        manifest["thumbnail_maco"] = "images/maco_class.png"

    concepts = results.get("concepts")
    if concepts is not None:
        manifest.update(_render_concepts(images, ctx, concepts, results.get("maco_concepts")))
        manifest["similarity"] = _similarity_rows(concepts)
        manifest["concept_metrics"] = [
            {
                "concept importance": name,
                "C-Deletion (lower is better)": float(deletion),
                "C-Insertion (higher is better)": float(insertion),
            }
            for name, (deletion, insertion) in zip(
                ("Sobol (CRAFT)", "random order"), concepts["concept_metrics"]
            )
        ]
    graph = results.get("cluster_graph")
    if graph is not None and concepts is not None:
        manifest["cluster_graph"] = _render_graph(images, ctx, concepts, graph)

    metrics = results.get("metrics")
    if metrics is not None:
        manifest["metrics"] = [
            {
                "explainer": str(name),
                "Deletion (lower is better)": float(deletion),
                "Insertion (higher is better)": float(insertion),
            }
            for name, (deletion, insertion) in zip(metrics["explainers"], metrics["scores"])
        ]

    if cost:
        manifest["cost"] = cost
    atomic_write_text(folder / "index.html", render_class(manifest))
    return manifest


def _render_concepts(images: Path, ctx: ClassContext, concepts: dict, maco: dict | None) -> dict:
    vr = ctx.options.values_range
    order = concepts["order"]
    shares = concepts["importances"][order] / max(float(concepts["importances"].sum()), 1e-12)
    blocks = []
    for rank, concept in enumerate(order):
        crops = []
        for j, crop in enumerate(concepts["crops"][rank]):
            save_png(images / f"concept{concept}_crop{j}.png", crop, 1, vr)
            crops.append(f"images/concept{concept}_crop{j}.png")
        block = {"label": int(concept), "share": float(shares[rank]), "crops": crops}
        if maco is not None:
            save_png(images / f"concept{concept}_maco.png", maco["images"][rank])
            block["maco"] = f"images/concept{concept}_maco.png"
        if "children_crops" in concepts and rank < len(concepts["children_crops"]):
            block["children"] = _render_children(images, concept, concepts, rank, vr)
        blocks.append(block)

    maps = []
    for i, image in enumerate(ctx.examples):
        for concept in order[:3]:
            file = f"concept{concept}_map{i}.png"
            save_png(
                images / file,
                overlay(image, concepts["maps"][i, ..., concept], values_range=vr),
                2,
                (0, 1),
            )
            maps.append({"src": f"images/{file}", "caption": f"concept {concept}, image {i}"})
    return {"concepts": blocks, "concept_maps": maps}


def _render_children(
    images: Path, parent: int, concepts: dict, rank: int, vr: tuple[float, float]
) -> list[dict]:
    importances = concepts["children_importances"][rank]
    shares = importances / max(float(importances.sum()), 1e-12)
    children = []
    for j, crops in enumerate(concepts["children_crops"][rank]):
        files = []
        for k, crop in enumerate(crops):
            save_png(images / f"concept{parent}_{j}_crop{k}.png", crop, 1, vr)
            files.append(f"images/concept{parent}_{j}_crop{k}.png")
        children.append({"label": f"{parent}.{j}", "share": float(shares[j]), "crops": files})
    return children


def _similarity_rows(concepts: dict) -> list[dict]:
    from ..concepts.cluster_graph import concept_similarity

    order = [int(c) for c in concepts["order"]]
    similarity = concept_similarity(concepts["concept_bank"])
    return [{"concept": str(a), **{f"c{b}": float(similarity[a, b]) for b in order}} for a in order]


def _render_graph(images: Path, ctx: ClassContext, concepts: dict, graph: dict) -> dict:
    rank_of = {int(c): rank for rank, c in enumerate(concepts["order"])}
    points = []
    for (x, y), label, index in zip(graph["coordinates"], graph["labels"], graph["image_indices"]):
        file = f"image_{int(index)}.png"
        if not (images / file).exists():
            save_png(images / file, ctx.images[int(index)], 2, ctx.options.values_range)
        points.append(
            {
                "x": float(x),
                "y": float(y),
                "concept": rank_of[int(label)],
                "label": int(label),
                "image": f"images/{file}",
            }
        )
    return {
        "points": points,
        "labels": [int(c) for c in concepts["order"]],
        "strategies": [int(c) for c in graph["strategies"]],
    }
