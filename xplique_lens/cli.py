"""The ``xplique-lens`` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__


def _demo(args: argparse.Namespace) -> int:
    import numpy as np

    from .attributions import Saliency
    from .datasets import get_reference_model, make_synthetic_dataset
    from .plots import plot_attributions

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    say("[1/3] loading the reference model (trained and cached on first use)...")
    model = get_reference_model(seed=0, verbose=not args.quiet)
    data = make_synthetic_dataset(n_per_class=2, seed=7)
    say("[2/3] explaining a few images with Saliency...")
    explanations = Saliency(model).explain(data.images, data.labels).numpy()
    predictions = np.argmax(model.predict(data.images, verbose=0), axis=-1)
    titles = [
        f"{data.class_names[y]} -> {data.class_names[p]}" for y, p in zip(data.labels, predictions)
    ]
    fig = plot_attributions(explanations, data.images, cols=6, titles=titles)
    fig.savefig(out / "saliency.png", dpi=90)
    inside = [
        float(e[..., 0][m].sum() / max(e.sum(), 1e-12)) for e, m in zip(explanations, data.masks)
    ]
    summary = [
        f"xplique_lens {__version__} demo",
        f"model: reference CNN, {model.count_params()} parameters",
        f"images: {len(data)} ({', '.join(data.class_names)})",
        f"accuracy on these images: {np.mean(predictions == data.labels):.2f}",
        f"Saliency mass on the planted parts: {np.mean(inside):.2f} "
        f"(their area share: {data.masks.mean():.2f})",
        "figure: saliency.png",
    ]
    tmp = out / "summary.txt.tmp"
    tmp.write_text("\n".join(summary) + "\n")
    os.replace(tmp, out / "summary.txt")
    say("[3/3] wrote", out / "saliency.png", "and", out / "summary.txt")
    say("\n".join(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``xplique-lens``."""
    parser = argparse.ArgumentParser(
        prog="xplique-lens",
        description="Explain Keras image classifiers and build a browsable Lens report.",
    )
    parser.add_argument("--version", action="version", version=f"xplique-lens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the pipeline on the built-in dataset and model")
    demo.add_argument("--out", default="lens_demo", help="output folder (default: lens_demo)")
    demo.add_argument("--quiet", action="store_true", help="no progress output")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xplique-lens`` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
