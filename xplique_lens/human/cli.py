"""``xplique-lens experiment build | score``: the command line of the human utility experiments."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Condition names the command line knows: ``None`` is the baseline.
EXPLAINER_NAMES = (
    "saliency",
    "gradient_input",
    "integrated_gradients",
    "smoothgrad",
    "occlusion",
    "rise",
    "sobol",
)
BASELINE_NAMES = ("baseline", "none")


def _explainer(name: str, model: Any) -> Any:
    from .. import attributions as a

    classes = {
        "saliency": a.Saliency,
        "gradient_input": a.GradientInput,
        "integrated_gradients": a.IntegratedGradients,
        "smoothgrad": a.SmoothGrad,
        "occlusion": a.Occlusion,
        "rise": a.Rise,
        "sobol": a.SobolAttributionMethod,
    }
    return classes[name](model)


def _fraction(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number in [0, 1] or none, got {text!r}"
        ) from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1] or none, got {text!r}")
    return value


def _condition_names(text: str) -> list[str]:
    """The names of ``--conditions``, checked before anything is loaded."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise SystemExit("--conditions: give at least one condition, e.g. baseline,saliency")
    if len(set(names)) != len(names):
        raise SystemExit(f"--conditions: {text!r} names a condition twice")
    known = (*BASELINE_NAMES, *EXPLAINER_NAMES, "craft", "oracle")
    for name in names:
        if name not in known:
            raise SystemExit(f"--conditions: unknown condition {name!r}; known: {', '.join(known)}")
    return names


def _conditions(
    args: argparse.Namespace,
    model: Any,
    images: np.ndarray,
    decisions: np.ndarray,
    oracle: np.ndarray | None,
) -> dict:
    names = _condition_names(args.conditions)
    conditions: dict = {}
    for name in names:
        if name in BASELINE_NAMES:
            conditions[name] = None
        elif name in EXPLAINER_NAMES:
            conditions[name] = _explainer(name, model)
        elif name == "craft":
            from ..commons import split_model
            from ..concepts import CraftManager

            g, h = split_model(model, args.layer)
            size = int(images.shape[1])
            manager = CraftManager(
                g,
                h,
                images,
                decisions,
                list_of_class_of_interest=sorted(set(decisions.tolist())),
                number_of_concepts=args.nb_concepts,
                patch_size=args.patch_size or max(8, size // 3),
                verbose=not args.quiet,
            )
            conditions[name] = manager.fit()
        else:  # oracle: the built-in default only (checked by _build)
            conditions[name] = oracle.astype(np.float32)
    return conditions


def _decide(model: Any, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    scores = [
        np.asarray(model(images[s : s + batch_size])) for s in range(0, len(images), batch_size)
    ]
    return np.concatenate(scores).argmax(-1).astype(np.int64)


def _build(args: argparse.Namespace) -> int:
    from .experiment import UtilityExperiment

    started = time.perf_counter()
    names = _condition_names(args.conditions)
    if "craft" in names and not args.layer:
        raise SystemExit("--conditions craft needs --layer (the concept layer)")
    if "oracle" in names and (args.model or args.images):
        raise SystemExit(
            "--conditions oracle (the part the decision followed) exists for the "
            "built-in default only"
        )
    oracle = None
    if args.model is None and args.images is None:
        from ..datasets import get_reference_model
        from .scenarios import make_cue_conflict_dataset

        if not args.quiet:
            print(
                "built-in default: the reference CNN on cue-conflict images (object of one "
                "class, pattern of another; the label is the object's class)"
            )
        model = get_reference_model(seed=0, verbose=not args.quiet)
        data = make_cue_conflict_dataset(args.n_per_class, seed=args.seed)
        images, labels, names = data.images, data.labels, list(data.class_names)
        decisions = _decide(model, images)
        oracle = data.decisive_masks(decisions)
    elif args.model is None or args.images is None:
        raise SystemExit(
            "experiment build needs both --model and --images (or neither: the built-in default)"
        )
    else:
        import keras

        from ..lens.loading import load_images, read_class_names

        model = keras.models.load_model(args.model)
        size = tuple(model.inputs[0].shape[1:3])
        try:
            images, labels, names = load_images(args.images, size, args.values_range or (0, 1))
        except (ValueError, TypeError) as error:
            raise SystemExit(f"--images: {error}") from None
        if labels is None:
            raise SystemExit(
                "--images must carry labels: a folder of class folders or an .npz with `labels`"
            )
        if args.class_names:
            names = read_class_names(args.class_names)
        decisions = _decide(model, images)
    conditions = _conditions(args, model, images, decisions, oracle)
    instructions = None
    if args.instructions:
        instructions = Path(args.instructions).read_text(encoding="utf-8")
    try:
        experiment = UtilityExperiment(
            model,
            images,
            labels,
            conditions,
            class_names=names,
            n_rounds=args.rounds,
            n_train=args.train,
            n_test=args.test,
            correct_fraction=args.correct_fraction,
            decisions=decisions,
            seed=args.seed,
        ).fit(verbose=not args.quiet)
        index = experiment.build_site(
            args.out,
            title=args.title,
            instructions=instructions,
            post_url=args.post_url,
            key_path=args.key,
            values_range=args.values_range,
            min_view_ms=args.min_view_ms,
            verbose=not args.quiet,
        )
    except (ValueError, TypeError) as error:
        raise SystemExit(f"experiment build: {error}") from None
    key = Path(args.key) if args.key else Path(args.out).parent / f"{Path(args.out).name}.key.json"
    if not args.quiet:
        print(
            f"\nexperiment site written in {time.perf_counter() - started:.0f} s: {index.resolve()}"
        )
        print(f"answer key (keep it away from participants): {key.resolve()}")
        print(
            f"conditions: {', '.join(experiment.conditions)}; open {index.name}?condition=NAME "
            "to assign one, or no parameter for a random draw"
        )
        print(f"score with:  xplique-lens experiment score --key {key} RESPONSES.json ...")
    return 0


def _score(args: argparse.Namespace) -> int:
    from .scoring import score_responses

    try:
        scores = score_responses(
            args.key,
            list(args.responses),
            baseline=args.baseline,
            confidence=args.confidence,
            interval=args.interval,
            seed=args.seed,
            allow_incomplete=args.allow_incomplete,
        )
    except (ValueError, TypeError) as error:
        raise SystemExit(f"experiment score: {error}") from None
    print(scores)
    if args.json:
        from ..lens.store import atomic_write_text

        atomic_write_text(Path(args.json), json.dumps(scores.to_dict(), indent=1))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..plots.human import plot_human_accuracy, plot_utility

        fig, axes = plt.subplots(1, 2 if scores.baseline else 1, figsize=(11, 4), squeeze=False)
        plot_human_accuracy(scores, ax=axes[0, 0])
        if scores.baseline:
            plot_utility(scores, ax=axes[0, 1])
        fig.savefig(args.plot, dpi=120)
    return 0


def add_experiment_parser(commands: Any) -> None:
    """Register ``experiment build`` and ``experiment score`` on the ``xplique-lens`` parser.

    Parameters
    ----------
    commands
        The sub-parsers action of the main parser (``parser.add_subparsers()``).
    """
    from ..cli import parse_value_range

    experiment = commands.add_parser(
        "experiment",
        help="human utility experiments (Colin, Fel et al. 2022): build the site, score responses",
    )
    actions = experiment.add_subparsers(dest="action", required=True)

    build = actions.add_parser(
        "build", help="build the static experiment site (default: the built-in model and data)"
    )
    build.add_argument("--out", default="experiment_site", help="site folder")
    build.add_argument("--model", help="a .keras model file (with --images)")
    build.add_argument("--images", help="folder DIR/<class>/*.png or an .npz (images, labels)")
    build.add_argument("--class-names", dest="class_names", help="file with one name per line")
    build.add_argument(
        "--value-range",
        "--values-range",
        dest="values_range",
        type=parse_value_range,
        metavar="LOW,HIGH",
        help="range of the model's input pixels (default 0,1)",
    )
    build.add_argument(
        "--conditions",
        default="baseline,saliency",
        help="comma-separated: baseline (no explanation), "
        f"{', '.join(EXPLAINER_NAMES)}, craft (needs --layer), oracle (built-in data only: the "
        "part the decision followed)",
    )
    build.add_argument("--layer", help="concept layer of the craft condition")
    build.add_argument("--nb-concepts", dest="nb_concepts", type=int, default=6)
    build.add_argument("--patch-size", dest="patch_size", type=int)
    build.add_argument("--rounds", type=int, default=3, help="train/test rounds (default 3)")
    build.add_argument("--train", type=int, default=8, help="training trials per round")
    build.add_argument("--test", type=int, default=8, help="test trials per round")
    build.add_argument(
        "--correct-fraction",
        dest="correct_fraction",
        type=_fraction,
        default=0.5,
        help="share of correct model decisions per phase (default 0.5), or none",
    )
    build.add_argument(
        "--n-per-class",
        dest="n_per_class",
        type=int,
        default=30,
        help="built-in default: cue-conflict images per class",
    )
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--post-url", dest="post_url", help="also POST the responses (JSON) here")
    build.add_argument("--title", default="Can you predict the model?")
    build.add_argument("--instructions", help="text file shown before the start")
    build.add_argument("--key", help="answer key file (default: <out>.key.json)")
    build.add_argument(
        "--min-view-ms",
        dest="min_view_ms",
        type=int,
        default=1000,
        help="minimum time on a training trial (default 1000)",
    )
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.set_defaults(func=_build)

    score = actions.add_parser("score", help="accuracy, intervals and utility of responses")
    score.add_argument("--key", required=True, help="the answer key written by build")
    score.add_argument("responses", nargs="+", help="response files or folders of them")
    score.add_argument("--baseline", help="baseline condition (default: the key's)")
    score.add_argument("--interval", choices=("bootstrap", "wilson"), default="bootstrap")
    score.add_argument("--confidence", type=float, default=0.95)
    score.add_argument("--seed", type=int, default=0)
    score.add_argument("--allow-incomplete", dest="allow_incomplete", action="store_true")
    score.add_argument("--json", help="write the scores as JSON here")
    score.add_argument("--plot", help="write the accuracy and utility figure here (.png)")
    score.set_defaults(func=_score)
