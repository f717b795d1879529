"""Cost of a Lens build on the built-in model, per class and per stage.

Builds the Lens of the built-in reference CNN (the same settings as ``xplique-lens demo``) into a
fresh temporary folder, then rebuilds it (everything cached), and prints, measured in this one
run: the wall time of the build, the mean seconds per class of each stage (overview, attribution
examples, MACO of the class logit, CRAFT fit + Sobol importance + maps, MACO of the concept
directions in one batch, cluster graph, Deletion / Insertion metrics), and the rebuild time.
There is no Xplique counterpart (Xplique has no Lens builder). Nothing is asserted.

Run: ``.venv/bin/python benchmarks/bench_lens.py [--classes 0,1]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from xplique_lens.datasets import FEATURE_LAYER, get_reference_model, make_synthetic_dataset  # noqa: E402
from xplique_lens.lens import LensOptions, build_lens  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", default=None, help="comma-separated class indices")
    parser.add_argument("--images-per-class", type=int, default=32)
    args = parser.parse_args()
    classes = None if args.classes is None else [int(c) for c in args.classes.split(",")]

    model = get_reference_model()
    data = make_synthetic_dataset(args.images_per_class, seed=7)
    options = LensOptions()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        report = build_lens(
            model, data.images, data.class_names, FEATURE_LAYER, out,
            labels=data.labels, classes=classes, options=options,
        )  # fmt: skip
        build = time.perf_counter() - start
        start = time.perf_counter()
        build_lens(
            model, data.images, data.class_names, FEATURE_LAYER, out,
            labels=data.labels, classes=classes, options=options,
        )  # fmt: skip
        rebuild = time.perf_counter() - start

    stages = list(next(iter(report.seconds.values())))
    per_stage = {s: np.mean([report.seconds[c][s] for c in report.seconds]) for s in stages}
    print(f"classes: {len(report.seconds)}, images per class: {args.images_per_class}")
    print(f"options: {options}")
    print(f"{'stage':>14} | mean s / class | share")
    total = sum(per_stage.values())
    for stage, seconds in per_stage.items():
        print(f"{stage:>14} | {seconds:14.2f} | {seconds / total:5.1%}")
    print(f"build (wall, incl. rendering and first-call tracing): {build:.1f} s")
    print(f"rebuild with everything cached: {rebuild:.1f} s ({build / rebuild:.0f}x faster)")


if __name__ == "__main__":
    main()
