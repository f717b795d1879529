"""Dry-run a utility experiment on the built-in model with simulated participants.

``python -m xplique_lens.human.dry_run`` builds a scenario on the built-in default where the
model errs: half of the images are cue conflicts (the object of one class, the pattern of
another, labelled by the object; the reference CNN follows the object mostly, the pattern or
neither sometimes), the others plain built-in images. It balances correct
and incorrect decisions as the paper does, explains the training images with several methods,
lets simulated participants (:class:`~xplique_lens.human.SimulatedParticipant`) train and
predict, and prints the accuracy per condition with its interval and the utility. The
``oracle`` condition shows the part the decision followed (known by construction): the most
informative explanation there can be, an upper reference for the others.
"""

from __future__ import annotations

import argparse
import time

from ..commons.validation import check_positive_int, resolve_verbose


def run(
    n_per_class: int = 50,
    n_rounds: int = 3,
    n_train: int = 8,
    n_test: int = 8,
    n_participants: int = 20,
    conflict_fraction: float = 0.5,
    memory: float = 0.75,
    lapse: float = 0.1,
    methods: tuple[str, ...] = ("saliency", "integrated_gradients", "sobol", "craft"),
    seed: int = 0,
    verbose: bool = False,
    *,
    progress: bool | None = None,
):
    """Build the experiment, simulate participants and score them; returns the scores.

    Parameters
    ----------
    n_per_class
        Images per class (the pool the trials are drawn from).
    conflict_fraction
        Share of them that are cue conflicts (the others are plain built-in images).
    n_rounds, n_train, n_test
        Protocol sizes (see :class:`~xplique_lens.human.UtilityExperiment`).
    n_participants
        Simulated participants per condition.
    memory, lapse
        Of the simulated participants (see :class:`~xplique_lens.human.SimulatedParticipant`).
    methods
        Explanation conditions besides ``baseline`` and ``oracle``: ``saliency``,
        ``integrated_gradients``, ``sobol``, ``craft``.
    seed
        Seed of the images, the trials and the participants.
    verbose
        Progress bars.
    progress
        Deprecated alias of ``verbose`` (``DeprecationWarning``).

    Returns
    -------
    UtilityScores
    """
    import numpy as np

    from ..attributions import IntegratedGradients, Saliency, SobolAttributionMethod
    from ..commons import split_model
    from ..concepts import CraftManager
    from ..datasets import FEATURE_LAYER, get_reference_model
    from .experiment import UtilityExperiment
    from .scenarios import make_cue_conflict_dataset
    from .scoring import score_responses
    from .simulated import SimulatedParticipant

    verbose = resolve_verbose(verbose, progress, "dry_run.run")
    n_participants = check_positive_int(n_participants, "n_participants")
    model = get_reference_model(seed=0)
    data = make_cue_conflict_dataset(n_per_class, seed=seed, conflict_fraction=conflict_fraction)
    decisions = np.asarray(model(data.images)).argmax(-1)
    conditions: dict = {"baseline": None, "oracle": data.decisive_masks(decisions)}
    factories = {
        "saliency": lambda: Saliency(model),
        "integrated_gradients": lambda: IntegratedGradients(model, steps=16),
        "sobol": lambda: SobolAttributionMethod(model, grid_size=8, nb_design=16),
        "craft": lambda: CraftManager(
            *split_model(model, FEATURE_LAYER),
            data.images,
            decisions,
            list_of_class_of_interest=sorted(set(decisions.tolist())),
            number_of_concepts=6,
            patch_size=24,
            verbose=verbose,
        ).fit(),
    }
    for method in methods:
        if method not in factories:
            raise ValueError(f"`methods`: unknown {method!r}; expected some of {list(factories)}.")
        conditions[method] = factories[method]()
    experiment = UtilityExperiment(
        model,
        data.images,
        data.labels,
        conditions,
        class_names=list(data.class_names),
        n_rounds=n_rounds,
        n_train=n_train,
        n_test=n_test,
        decisions=decisions,
        seed=seed,
    ).fit(verbose=verbose)
    participant = SimulatedParticipant(memory=memory, lapse=lapse, seed=seed)
    responses = experiment.simulate(participant, n_participants=n_participants, seed=seed)
    return score_responses(experiment, responses, seed=seed)


def main(argv: list[str] | None = None) -> int:
    """Command line of the dry run."""
    parser = argparse.ArgumentParser(
        prog="python -m xplique_lens.human.dry_run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--n-per-class", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train", type=int, default=8)
    parser.add_argument("--test", type=int, default=8)
    parser.add_argument("--participants", type=int, default=20)
    parser.add_argument("--conflict-fraction", type=float, default=0.5)
    parser.add_argument("--memory", type=float, default=0.75)
    parser.add_argument("--lapse", type=float, default=0.1)
    parser.add_argument(
        "--methods", default="saliency,integrated_gradients,sobol,craft", help="comma-separated"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    scores = run(
        n_per_class=args.n_per_class,
        n_rounds=args.rounds,
        n_train=args.train,
        n_test=args.test,
        n_participants=args.participants,
        conflict_fraction=args.conflict_fraction,
        memory=args.memory,
        lapse=args.lapse,
        methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
        seed=args.seed,
        verbose=not args.quiet,
    )
    print(scores)
    for row in scores.conditions.values():
        print(
            f"  {row.name:<22} accuracy when the model is right {row.accuracy_model_right:.3f}, "
            f"wrong {row.accuracy_model_wrong:.3f}; by round "
            + ", ".join(f"{a:.2f}" for a in row.accuracy_by_round)
        )
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
