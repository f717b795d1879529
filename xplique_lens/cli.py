"""The ``xplique-lens`` command: ``build`` a Lens site for a model, or run the ``demo``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time

from . import __version__


@contextlib.contextmanager
def _quiet_native_logs():
    """Hide TensorFlow's C++ log lines (oneDNN, CUDA stubs, XLA) unless the user asked for them.

    ``TF_CPP_MIN_LOG_LEVEL=3`` silences what TensorFlow logs once running, but the lines its
    shared libraries print while loading bypass it: the import runs with the stderr file
    descriptor redirected, and what it printed is shown only if the import fails.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:  # the user's choice
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    yield


def _print_stage_times(report, quiet: bool) -> None:
    """Seconds, forward and backward passes per stage, summed over the classes built in this
    run (cached stages cost ~0 s and no pass; the site's ``cost.json`` keeps what each cached
    stage cost when it was computed)."""
    if quiet or not report.seconds:
        return
    totals: dict[str, list] = {}  # stage -> [seconds, forwards, backwards, classes computed]
    for class_id, seconds in report.seconds.items():
        for stage, value in seconds.items():
            row = totals.setdefault(stage, [0.0, 0, 0, 0])
            row[0] += value
            forwards, backwards = report.passes(class_id, stage)
            row[1] = None if forwards is None or row[1] is None else row[1] + forwards
            row[2] = None if backwards is None or row[2] is None else row[2] + backwards
            row[3] += report.stages[class_id][stage] == "computed"

    def count(value: int | None) -> str:
        return f"{'-' if value is None else f'{value:,}':>11}"

    print("\nseconds per stage (all classes), with the passes of images through the model:")
    print(f"  {'stage':<14} {'seconds':>9} {'forwards':>11} {'backwards':>11}   computed for")
    for stage, (seconds, forwards, backwards, computed) in totals.items():
        print(
            f"  {stage:<14} {seconds:7.1f} s {count(forwards)} {count(backwards)}   "
            f"{computed} class(es)"
        )
    if len(totals) > 1:
        columns = list(zip(*totals.values()))
        forwards = None if None in columns[1] else sum(columns[1])
        backwards = None if None in columns[2] else sum(columns[2])
        print(f"  {'total':<14} {sum(columns[0]):7.1f} s {count(forwards)} {count(backwards)}")


def _print_done(report, started: float, quiet: bool) -> None:
    if quiet:
        return
    _print_stage_times(report, quiet)
    index = report.index.resolve()
    print(f"\nLens site written in {time.perf_counter() - started:.0f} s: {index}")
    print(f"Open it with:  xdg-open {index}   (or: python -m http.server -d {index.parent})")


def _options(args: argparse.Namespace, preset: str = "default"):
    """The preset's :class:`LensOptions` with every option flag the user gave on top (a flag's
    ``dest`` is the name of the option it sets)."""
    from dataclasses import fields

    from .lens import LensOptions

    overrides = {
        option.name: getattr(args, option.name)
        for option in fields(LensOptions)
        if getattr(args, option.name, None) is not None
    }
    try:
        return LensOptions.preset(args.preset or preset, **overrides)
    except (TypeError, ValueError) as error:
        raise SystemExit(f"xplique-lens: {error}") from None


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

    from .lens.loading import open_images, read_class_names
    from .lens.sharding import resolve_shard

    try:
        shard = resolve_shard(args.shard, args.shard_count)
    except ValueError as error:
        raise SystemExit(f"--shard: {error}") from None
    options = _options(args)
    model = keras.models.load_model(args.model)
    size = tuple(model.inputs[0].shape[1:3])
    channels = model.inputs[0].shape[-1] or 3
    try:  # lazy: lists the classes now, decodes one class at a time during the build
        images = open_images(args.images, size, options.values_range, channels)
    except (ValueError, TypeError) as error:
        raise SystemExit(f"--images: {error}") from None
    names = images.class_names
    if args.class_names:
        names = read_class_names(args.class_names)
    if names is None:
        names = [str(i) for i in range(int(model.outputs[0].shape[-1]))]
    if shard is not None and not args.quiet:
        print(f"shard {shard[0]}/{shard[1]}")
    report = build_lens(
        model,
        images,
        names,
        args.layer,
        args.out,
        classes=_classes(args.classes, names),
        shard=shard,
        options=options,
        title=args.title,
        verbose=not args.quiet,
    )
    if shard is not None and not args.quiet:
        print(f"shard {shard[0]}/{shard[1]} built classes: {sorted(report.stages)}")
    _print_done(report, started, args.quiet)
    return 0


def parse_value_range(text: str) -> tuple[float, float]:
    """``"LOW,HIGH"`` (e.g. ``0,255``) to a pair of floats, for ``--value-range``.

    Parameters
    ----------
    text
        Two numbers separated by a comma, the first smaller.

    Returns
    -------
    tuple of float
        ``(low, high)``.

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is not two numbers with ``LOW < HIGH`` (argparse turns it into a usage
        error naming the flag).
    """
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected LOW,HIGH such as 0,1 or 0,255, got {text!r}"
        ) from None
    if not low < high:
        raise argparse.ArgumentTypeError(f"expected LOW < HIGH, got {text!r}")
    return low, high


def _layers(args: argparse.Namespace) -> int:
    import keras

    from .commons.layer_listing import format_layers, list_layers

    model = keras.models.load_model(args.model, compile=False)
    infos = list_layers(model, args.values_range or (0.0, 1.0), args.nb_inputs, args.seed)
    print(format_layers(infos[: args.limit] if args.limit else infos, total=len(infos)))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .datasets import FEATURE_LAYER, get_reference_model, make_synthetic_dataset
    from .lens import build_lens

    started = time.perf_counter()
    if not args.quiet:
        print("loading the built-in reference model (trained and cached on first use)...")
    model = get_reference_model(seed=0, verbose=not args.quiet)
    # the demo shows the recursion: the top concept of each class split at conv2
    args.refine_top = 1 if args.refine_top is None else args.refine_top
    args.refine_layer = args.refine_layer or "conv2"
    options = _options(args, preset="fast")
    data = make_synthetic_dataset(n_per_class=options.images_per_class, seed=7)
    report = build_lens(
        model,
        data.images,
        data.class_names,
        FEATURE_LAYER,
        args.out,
        labels=data.labels,
        classes=_classes(args.classes, list(data.class_names)),
        options=options,
        title="Lens: built-in reference CNN",
        verbose=not args.quiet,
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
    parser.add_argument(
        "--activation-policy",
        dest="activation_policy",
        choices=("clamp", "signed", "error"),
        help="CRAFT on a layer that is not non-negative: clamp (max(a, 0), the default), "
        "signed (semi-NMF) or error",
    )
    parser.add_argument(
        "--preset",
        choices=("tiny", "fast", "default", "paper"),
        help="named settings the other options override (build: default, demo: fast)",
    )
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
    build.add_argument(
        "--shard",
        help="I/N: build the I-th of N parts of the classes; auto: I and N from a Slurm job "
        "array or a Kubernetes Indexed Job (docs/scaling.md)",
    )
    build.add_argument(
        "--shard-count",
        dest="shard_count",
        type=int,
        help="N for --shard auto in a Kubernetes Indexed Job (or set JOB_COMPLETIONS)",
    )
    build.add_argument(
        "--value-range",
        "--values-range",
        dest="values_range",
        type=parse_value_range,
        metavar="LOW,HIGH",
        help="range of the model's input pixels, e.g. 0,255 (default 0,1): images are scaled "
        "to it, MACO images made in it",
    )
    build.add_argument(
        "--preprocess",
        choices=("caffe", "tf", "torch"),
        help="keras.applications preprocessing the model expects (applied inside the "
        "explained model, so pictures stay in image space)",
    )
    build.add_argument("--merge", action="store_true", help="write the index of all shards")
    build.add_argument("--title", default="Lens", help="title of the site")
    _add_common(build)
    build.set_defaults(func=_build)

    demo = commands.add_parser("demo", help="build the Lens of the built-in model and dataset")
    _add_common(demo)
    demo.set_defaults(func=_demo)

    layers = commands.add_parser(
        "layers", help="list the candidate concept layers of a model (nested models included)"
    )
    layers.add_argument("--model", required=True, help="a .keras model file")
    layers.add_argument(
        "--value-range",
        "--values-range",
        dest="values_range",
        type=parse_value_range,
        metavar="LOW,HIGH",
        help="range of the model's input pixels for the random probes (default 0,1)",
    )
    layers.add_argument("--nb-inputs", dest="nb_inputs", type=int, default=4)
    layers.add_argument("--limit", type=int, default=30, help="layers shown (0: all)")
    layers.add_argument("--seed", type=int, default=0)
    layers.set_defaults(func=_layers)
    from .human.cli import add_experiment_parser  # the human experiments' subcommands

    add_experiment_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``xplique-lens`` command."""
    args = build_parser().parse_args(argv)
    with _quiet_native_logs():
        return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
