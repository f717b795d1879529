"""The trials of a utility experiment: which images are shown in which phase, in what order.

Colin, Fel, Cadène & Serre (NeurIPS 2022) run several *rounds*; each has a training phase
(images shown with the model's decision and, in an explanation condition, an explanation) and
a test phase (unseen images, no explanation, no decision: the participant predicts the model's
decision). They balance the model's correct and incorrect decisions so that answering the true
class of an image is not a winning strategy. :func:`select_trials` does this within every
phase of every round: ``round(correct_fraction * n)`` trials on which the model is right, the
rest on which it is wrong (the paper's exact counts per phase are parameters here).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from ..commons.validation import check_positive_int

PHASES = ("train", "test")


@dataclass(frozen=True)
class Trial:
    """One trial of the protocol (the same for every condition).

    Attributes
    ----------
    trial_id
        Stable identifier, ``"r{round}-{phase}-{position:02d}"`` (e.g. ``"r0-test-03"``).
    phase
        ``"train"`` (image, decision and the condition's explanation shown) or ``"test"``
        (image only; the participant predicts the decision).
    round
        Index of the round (0-based).
    position
        Order of the trial within its phase.
    image_index
        Index of the image in the experiment's ``images``.
    label
        True class of the image.
    decision
        The model's decision (its predicted class).
    correct
        Whether the decision equals the label.
    """

    trial_id: str
    phase: str
    round: int
    position: int
    image_index: int
    label: int
    decision: int
    correct: bool

    def to_dict(self) -> dict:
        """JSON-able dict (the answer key's entry)."""
        return {
            "trial": self.trial_id,
            "phase": self.phase,
            "round": self.round,
            "position": self.position,
            "image": self.image_index,
            "label": self.label,
            "decision": self.decision,
            "correct": self.correct,
        }


def check_correct_fraction(value: object) -> float | None:
    """``None`` (no balancing) or a float in ``[0, 1]``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`correct_fraction` must be a number in [0, 1] or None, got {value!r}.")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"`correct_fraction` must lie in [0, 1] (or be None), got {value}.")
    return float(value)


def _round_robin(indices: np.ndarray, decisions: np.ndarray, rng: np.random.Generator):
    """``indices`` reordered so that consecutive picks cycle through the decided classes.

    Each class's indices are shuffled and the classes visited in a shuffled order, so that any
    prefix holds as many decisions of each class as possible (a phase never shows one class
    only when others are available).
    """
    groups = []
    for decision in rng.permutation(np.unique(decisions[indices])):
        members = indices[decisions[indices] == decision]
        groups.append(list(rng.permutation(members)))
    order = []
    while any(groups):
        for group in groups:
            if group:
                order.append(int(group.pop(0)))
    return order


def phase_counts(n: int, correct_fraction: float | None) -> tuple[int, int] | None:
    """``(correct, incorrect)`` trials of a phase of ``n`` trials, ``None`` when not balanced."""
    if correct_fraction is None:
        return None
    n_correct = int(np.floor(correct_fraction * n + 0.5))
    return n_correct, n - n_correct


def select_trials(
    labels: np.ndarray,
    decisions: np.ndarray,
    n_rounds: int,
    n_train: int,
    n_test: int,
    correct_fraction: float | None = 0.5,
    seed: int | None = 0,
) -> list[Trial]:
    """Choose and order the trials of every round, reproducibly from ``seed``.

    Every image is used at most once (test images are unseen). Within each phase of each round,
    ``round(correct_fraction * n)`` trials show a correct decision of the model and the others
    an incorrect one, and the decided classes are spread as evenly as the pool allows; the order
    of the trials within a phase is shuffled. Trials do not depend on the conditions: all
    conditions share the same training and test images, and differ only by the explanation
    shown during training.

    Parameters
    ----------
    labels, decisions
        True classes and model decisions ``(N,)`` int.
    n_rounds, n_train, n_test
        Rounds, and training / test trials per round.
    correct_fraction
        Share of correct model decisions in each phase (0.5: balanced, as in the paper);
        ``None`` draws the images without looking at correctness (the model's own accuracy).
    seed : int or None, default 0
        Seed of the selection and of the order; None draws fresh randomness.

    Returns
    -------
    list of Trial
        Round by round, the training trials then the test trials, each in display order.
    """
    n_rounds = check_positive_int(n_rounds, "n_rounds")
    n_train = check_positive_int(n_train, "n_train")
    n_test = check_positive_int(n_test, "n_test")
    correct_fraction = check_correct_fraction(correct_fraction)
    labels = np.asarray(labels, np.int64)
    decisions = np.asarray(decisions, np.int64)
    rng = np.random.default_rng(seed)
    correct = decisions == labels
    sizes = {"train": n_train, "test": n_test}
    needed_total = n_rounds * (n_train + n_test)
    if needed_total > len(labels):
        raise ValueError(
            f"{n_rounds} round(s) of {n_train} training + {n_test} test trials need "
            f"{needed_total} distinct images, but `images` holds {len(labels)}; pass more images "
            "or lower `n_rounds`, `n_train` or `n_test`."
        )
    pools: dict[bool, list[int]] = {}
    if correct_fraction is None:
        everything = _round_robin(np.arange(len(labels)), decisions, rng)
    else:
        counts = {phase: phase_counts(n, correct_fraction) for phase, n in sizes.items()}
        for is_correct, column, word in ((True, 0, "right"), (False, 1, "wrong")):
            needed = n_rounds * sum(c[column] for c in counts.values())
            available = int(np.sum(correct == is_correct))
            if needed > available:
                raise ValueError(
                    f"`correct_fraction`={correct_fraction} needs {needed} images on which the "
                    f"model is {word} ({n_rounds} round(s) x ({counts['train'][column]} training "
                    f"+ {counts['test'][column]} test)), but it is {word} on {available} of the "
                    f"{len(labels)} `images`; pass more images (e.g. the model's errors), fewer "
                    "or smaller rounds, or `correct_fraction=None` (no balancing)."
                )
            pools[is_correct] = _round_robin(np.flatnonzero(correct == is_correct), decisions, rng)

    def draw(phase: str) -> list[int]:
        if correct_fraction is None:
            picked = [everything.pop(0) for _ in range(sizes[phase])]
        else:
            n_right, n_wrong = phase_counts(sizes[phase], correct_fraction)
            picked = [pools[True].pop(0) for _ in range(n_right)]
            picked += [pools[False].pop(0) for _ in range(n_wrong)]
        return [picked[i] for i in rng.permutation(len(picked))]

    # every test phase first: the test images do not depend on the size of the training phases
    tests = [draw("test") for _ in range(n_rounds)]
    trains = [draw("train") for _ in range(n_rounds)]
    trials: list[Trial] = []
    for round_index in range(n_rounds):
        for phase, chosen in (("train", trains[round_index]), ("test", tests[round_index])):
            for position, index in enumerate(chosen):
                trials.append(
                    Trial(
                        trial_id=f"r{round_index}-{phase}-{position:02d}",
                        phase=phase,
                        round=round_index,
                        position=position,
                        image_index=int(index),
                        label=int(labels[index]),
                        decision=int(decisions[index]),
                        correct=bool(correct[index]),
                    )
                )
    return trials
