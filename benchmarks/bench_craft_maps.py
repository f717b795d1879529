"""CRAFT concept attribution maps against the planted parts of the built-in dataset.

For each class: a Craft (10 concepts, 16-pixel crops, layer ``features``) fitted on 12 images,
its most important concept (total Sobol index), and for each ``concept_attribution_maps``
method the share of the map's positive mass on the object mask, on the pattern (texture) mask,
the area of each mask, the fraction of the top-10 crops that are object crops, and the seconds
per map call. Same setting as ``tests/concepts/conftest.py``. Asserts nothing.

Run: ``python benchmarks/bench_craft_maps.py [--model-seed 0] [--data-seed 77]``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from xplique_lens.concepts import Craft  # noqa: E402
from xplique_lens.concepts.crops import crop_masks  # noqa: E402
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402

PATCH, RANK, N_PER_CLASS, METHODS = 16, 10, 12, ("layer", "input")


def positive_shares(maps: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, float]:
    """Share of the positive mass of ``maps`` ``(N, H, W)`` inside each ``(N, H, W)`` mask."""
    positive = np.maximum(maps, 0.0)
    total = positive.sum()
    return {name: float((positive * mask).sum() / total) for name, mask in masks.items()}


def main(model_seed: int = 0, data_seed: int = 77) -> None:
    model = get_reference_model(seed=model_seed)
    data = make_synthetic_dataset(n_per_class=N_PER_CLASS, seed=data_seed)
    header = f"{'class':>5} {'imp':>5} {'crops':>5} {'area o/p':>11}"
    for method in METHODS:
        header += f" {method + ' obj/pat':>14} {'s':>5}"
    print(header)
    for class_id in range(data.nb_classes):
        selected = data.labels == class_id
        images = data.images[selected]
        parts = {name: mask[selected] for name, mask in data.part_masks.items()}
        craft = Craft.from_model(model, "features", number_of_concepts=RANK, patch_size=PATCH)
        craft.fit(images, class_id=class_id).estimate_importance()
        top = int(craft.most_important_concepts_[0])
        _, indices = craft.top_crops(top, 10)
        overlap = crop_masks(craft.crops_origin_[indices], PATCH, parts["object"])
        row = (
            f"{class_id:>5} {craft.importances_[top]:5.2f} "
            f"{np.mean(overlap.mean(axis=(1, 2)) > 0.2):5.1f} "
            f"{parts['object'].mean():5.3f}/{parts['pattern'].mean():5.3f}"
        )
        for method in METHODS:
            craft.concept_attribution_maps(images[:1], method=method)  # trace
            start = time.perf_counter()
            maps = craft.concept_attribution_maps(images, method=method).numpy()[..., top]
            seconds = time.perf_counter() - start
            shares = positive_shares(maps, parts)
            row += f" {shares['object']:6.2f}/{shares['pattern']:5.2f}  {seconds:5.2f}"
        print(row, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-seed", type=int, default=0)
    parser.add_argument("--data-seed", type=int, default=77)
    args = parser.parse_args()
    main(args.model_seed, args.data_seed)
