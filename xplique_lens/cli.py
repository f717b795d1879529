"""The ``xplique-lens`` command: ``build`` a Lens site for a model, or run the ``demo``."""

from __future__ import annotations

import argparse
import sys
import time

from . import __version__


def _print_done(report, started: float, quiet: bool) -> None:
    if quiet:
        return
    index = report.index.resolve()
    print(f"\nLens site written in {time.perf_counter() - started:.0f} s: {index}")
    print(f"Open it with:  xdg-open {index}   (or: python -m http.server -d {index.parent})")


def _options(args: argparse.Namespace):
    from .lens import LensOptions

    overrides = {
        name: getattr(args, name)
        for name in (
            "images_per_class",
            "nb_concepts",
            "patch_size",
            "maco_steps",
            "maco_size",
            "refine_top",
            "refine_layer",
            "seed",
        )
        if getattr(args, name, None) is not None
    }
    return LensOptions(**overrides)


def _classes(text: str | None, class_names: list[str]) -> list[int] | None:
    if not text:
        return None
    indices = []
    for item in text.split(","):
        item = item.strip()
        if item.isdigit():
            indices.append(int(item))
        elif item in class_names:
            indices.append(class_names.index(item))
        else:
            raise SystemExit(f"--classes: {item!r} is neither a class index nor a class name")
    return indices


def _build(args: argparse.Namespace) -> int:
    from .lens import build_lens, merge_lens

    started = time.perf_counter()
    if args.merge:
        index = merge_lens(args.out, title=args.title)
        if not args.quiet:
            print(f"merged: {index.resolve()}")
        return 0
    missing = [flag for flag in ("model", "images", "layer") if getattr(args, flag) is None]
    if missing:
        raise SystemExit(f"build needs --{', --'.join(missing)} (or --merge)")
    import keras

    from .lens.loading import load_images, read_class_names

    model = keras.models.load_model(args.model)
    size = tuple(model.inputs[0].shape[1:3])
    images, labels, names = load_images(args.images, size)
    if args.class_names:
        names = read_class_names(args.class_names)
    if names is None:
        names = [str(i) for i in range(int(model.outputs[0].shape[-1]))]
    report = build_lens(
        model,
        images,
        names,
        args.layer,
        args.out,
        labels=labels,
        classes=_classes(args.classes, names),
        shard=args.shard,
        options=_options(args),
        title=args.title,
        progress=not args.quiet,
    )
    _print_done(report, started, args.quiet)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .datasets import FEATURE_LAYER, get_reference_model, make_synthetic_dataset
    from .lens import build_lens

    started = time.perf_counter()
    if not args.quiet:
        print("loading the built-in reference model (trained and cached on first use)...")
    model = get_reference_model(seed=0, verbose=not args.quiet)
    data = make_synthetic_dataset(n_per_class=args.images_per_class or 32, seed=7)
    # the demo shows the recursion: the top concept of each class split at conv2
    args.refine_top = 1 if args.refine_top is None else args.refine_top
    args.refine_layer = args.refine_layer or "conv2"
    report = build_lens(
        model,
        data.images,
        data.class_names,
        FEATURE_LAYER,
        args.out,
        labels=data.labels,
        classes=_classes(args.classes, list(data.class_names)),
        options=_options(args),
        title="Lens: built-in reference CNN",
        progress=not args.quiet,
    )
    _print_done(report, started, args.quiet)
    return 0


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="lens_demo", help="site folder (default: lens_demo)")
    parser.add_argument("--classes", help="comma-separated class indices or names to build")
    parser.add_argument("--images-per-class", dest="images_per_class", type=int)
    parser.add_argument("--nb-concepts", dest="nb_concepts", type=int)
    parser.add_argument("--patch-size", dest="patch_size", type=int)
    parser.add_argument("--maco-steps", dest="maco_steps", type=int)
    parser.add_argument("--maco-size", dest="maco_size", type=int)
    parser.add_argument(
        "--refine-top", dest="refine_top", type=int, help="refine the N top concepts of a class"
    )
    parser.add_argument("--refine-layer", dest="refine_layer", help="layer of the sub-concepts")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``xplique-lens``."""
    parser = argparse.ArgumentParser(
        prog="xplique-lens",
        description="Explain Keras image classifiers and build a browsable Lens site.",
    )
    parser.add_argument("--version", action="version", version=f"xplique-lens {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="build a Lens site for a Keras model")
    build.add_argument("--model", help="a .keras model file")
    build.add_argument("--images", help="folder DIR/<class>/*.png or an .npz (images, labels)")
    build.add_argument("--layer", help="layer of the concepts (non-negative activations)")
    build.add_argument("--class-names", dest="class_names", help="file with one name per line")
    build.add_argument("--shard", help="I/N: build the I-th of N parts of the classes")
    build.add_argument("--merge", action="store_true", help="write the index of all shards")
    build.add_argument("--title", default="Lens", help="title of the site")
    _add_common(build)
    build.set_defaults(func=_build)

    demo = commands.add_parser("demo", help="build the Lens of the built-in model and dataset")
    _add_common(demo)
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xplique-lens`` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
