"""Score an experiment: accuracy per condition with a confidence interval, and utility.

Utility (Colin, Fel et al., NeurIPS 2022): the relative improvement of the participants'
accuracy at predicting the model's decisions on unseen images after training with an
explanation, over the baseline condition trained without explanations:

    utility(c) = (accuracy(c) - accuracy(baseline)) / accuracy(baseline)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import norm

from ..commons.validation import check_choice, check_positive_int
from .responses import check_response, load_responses, read_key

INTERVALS = ("bootstrap", "wilson")


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``successes / trials``.

    Better than the normal approximation near 0 and 1 and for few trials (Wilson 1927).
    ``(nan, nan)`` when ``trials == 0``.
    """
    if trials == 0:
        return (math.nan, math.nan)
    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_means(values: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """``n_bootstrap`` means of ``values`` resampled with replacement."""
    values = np.asarray(values, np.float64)
    draws = rng.integers(0, len(values), size=(n_bootstrap, len(values)))
    return values[draws].mean(axis=1)


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return (math.nan, math.nan)
    low, high = np.percentile(samples, [50 * (1 - confidence), 50 * (1 + confidence)])
    return (float(low), float(high))


@dataclass(frozen=True)
class ConditionScore:
    """The results of one condition.

    Attributes
    ----------
    name, is_baseline
        The condition and whether it is the baseline utilities are relative to.
    n_participants, n_responses
        Participants scored and test answers they gave.
    accuracy, accuracy_ci
        Mean over participants of their accuracy at predicting the model's decision, and its
        confidence interval (bootstrap over participants, or Wilson on the pooled answers).
    utility, utility_ci
        ``(accuracy - accuracy_baseline) / accuracy_baseline`` and its bootstrap interval
        (participants resampled within each condition); ``nan`` for the baseline itself and
        when there is no baseline.
    accuracy_by_round
        Accuracy in each round's test phase (learning across rounds).
    accuracy_model_right, accuracy_model_wrong
        Accuracy on the test trials where the model was right / wrong: predicting its errors is
        the hard part of the task.
    mean_rt_ms
        Mean reaction time of the answers that have one (``nan`` otherwise).
    """

    name: str
    is_baseline: bool
    n_participants: int
    n_responses: int
    accuracy: float
    accuracy_ci: tuple[float, float]
    utility: float
    utility_ci: tuple[float, float]
    accuracy_by_round: tuple[float, ...]
    accuracy_model_right: float
    accuracy_model_wrong: float
    mean_rt_ms: float


@dataclass(frozen=True)
class UtilityScores:
    """Scores of all conditions (:func:`score_responses`).

    Attributes
    ----------
    conditions
        Condition name -> :class:`ConditionScore`, in the experiment's order.
    baseline
        Name of the baseline condition, or ``None``.
    chance
        Accuracy of always answering the most frequent decision of the test trials.
    confidence, interval
        Level and kind (``"bootstrap"`` / ``"wilson"``) of the accuracy intervals.
    participants
        One row per participant: source, participant, condition, accuracy, answers.
    """

    conditions: dict[str, ConditionScore]
    baseline: str | None
    chance: float
    confidence: float
    interval: str
    participants: list[dict] = field(repr=False)

    def table(self) -> list[dict]:
        """One row per condition (JSON-able)."""
        return [asdict(score) for score in self.conditions.values()]

    def to_dict(self) -> dict:
        """Everything as plain JSON-able types."""
        return {
            "baseline": self.baseline,
            "chance": self.chance,
            "confidence": self.confidence,
            "interval": self.interval,
            "conditions": self.table(),
            "participants": list(self.participants),
        }

    def __str__(self) -> str:
        level = f"{self.confidence:.0%}"
        lines = [
            f"{'condition':<22}{'n':>4}  {'accuracy':>8}  {level + ' CI':>15}  "
            f"{'utility':>8}  {level + ' CI':>17}"
        ]
        for s in self.conditions.values():
            name = s.name + (" (baseline)" if s.is_baseline else "")
            utility = "" if math.isnan(s.utility) else f"{s.utility:+8.1%}"
            utility_ci = (
                ""
                if math.isnan(s.utility_ci[0])
                else f"[{s.utility_ci[0]:+.1%}, {s.utility_ci[1]:+.1%}]"
            )
            lines.append(
                f"{name[:22]:<22}{s.n_participants:>4}  {s.accuracy:8.3f}  "
                f"[{s.accuracy_ci[0]:.3f}, {s.accuracy_ci[1]:.3f}]  {utility:>8}  {utility_ci:>17}"
            )
        lines.append(f"chance (most frequent decision): {self.chance:.3f}")
        return "\n".join(lines)


def _resolve_baseline(key: dict, baseline: str | None) -> str | None:
    names = [c["name"] for c in key["conditions"]]
    if baseline is not None:
        if baseline not in names:
            raise ValueError(f"`baseline` must be one of the conditions {names}, got {baseline!r}.")
        return baseline
    baselines = [c["name"] for c in key["conditions"] if c["baseline"]]
    if len(baselines) > 1:
        raise ValueError(
            f"The experiment has several baseline conditions {baselines}: pick one with "
            "`baseline=`."
        )
    return baselines[0] if baselines else None


def score_responses(
    experiment: Any,
    responses: Any,
    baseline: str | None = None,
    confidence: float = 0.95,
    interval: str = "bootstrap",
    n_bootstrap: int = 2000,
    seed: int | None = 0,
    allow_incomplete: bool = False,
) -> UtilityScores:
    """Accuracy per condition with a confidence interval, and the utility of each explanation.

    Each participant's accuracy is the share of test trials where their answer equals the
    model's decision; a condition's accuracy is the mean over its participants (each weighs the
    same). Utility is the relative improvement over the baseline (Colin, Fel et al. 2022).

    Parameters
    ----------
    experiment
        A fitted :class:`~xplique_lens.human.UtilityExperiment`, its ``answer_key()`` dict, or
        the key file written by ``build_site``.
    responses
        What the site downloads: a response dict, a JSON file, a folder of them, or a list.
    baseline
        Condition the utilities are relative to; default the experiment's baseline (the
        condition given as ``None``).
    confidence
        Level of the intervals, in ``(0, 1)``.
    interval
        ``"bootstrap"`` (percentile bootstrap over participants, seeded) or ``"wilson"``
        (Wilson score interval of the pooled answers; ignores between-participant variance).
        Utility intervals are always bootstrapped.
    n_bootstrap
        Bootstrap resamples.
    seed : int or None, default 0
        Seed of the bootstrap; None draws fresh randomness.
    allow_incomplete
        Score sessions that did not answer every test trial (on the trials they answered).

    Returns
    -------
    UtilityScores

    Raises
    ------
    ValueError
        On a malformed response (see :func:`~xplique_lens.human.responses.check_response`), a
        participant present twice, or a ``baseline`` that is not a condition.

    References
    ----------
    Colin, Fel, Cadène & Serre, "What I Cannot Predict, I Do Not Understand", NeurIPS 2022.
    """
    key = read_key(experiment)
    interval = check_choice(interval, "interval", INTERVALS)
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise TypeError(f"`confidence` must be a number in (0, 1), got {confidence!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must lie in (0, 1), got {confidence}.")
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap")
    baseline = _resolve_baseline(key, baseline)
    checked = [
        check_response(data, key, source, allow_incomplete)
        for source, data in load_responses(responses)
    ]
    seen: dict[tuple[str, str], str] = {}
    for item in checked:
        who = (item["condition"], item["participant"])
        if who in seen:
            raise ValueError(
                f"Participant {who[1]!r} of condition {who[0]!r} appears twice ({seen[who]} and "
                f"{item['source']}); remove the duplicate file."
            )
        seen[who] = item["source"]

    rows = []
    for item in checked:
        hits = [a["hit"] for a in item["answers"]]
        if hits:
            rows.append(
                {
                    "source": item["source"],
                    "participant": item["participant"],
                    "condition": item["condition"],
                    "accuracy": float(np.mean(hits)),
                    "answers": len(hits),
                }
            )
    rng = np.random.default_rng(seed)
    names = [c["name"] for c in key["conditions"]]
    accuracies = {
        name: np.array([r["accuracy"] for r in rows if r["condition"] == name]) for name in names
    }
    boot = {
        name: bootstrap_means(values, n_bootstrap, rng) if len(values) else None
        for name, values in accuracies.items()
    }
    base_accuracy = math.nan
    if baseline is not None and len(accuracies[baseline]):
        base_accuracy = float(accuracies[baseline].mean())
        if base_accuracy == 0:
            warnings.warn(
                f"The baseline {baseline!r} has accuracy 0: utilities are undefined (nan).",
                stacklevel=2,
            )
    n_rounds = 1 + max(t["round"] for t in key["trials"])
    scores = {}
    for name in names:
        answers = [a for item in checked if item["condition"] == name for a in item["answers"]]
        values = accuracies[name]
        accuracy = float(values.mean()) if len(values) else math.nan
        if interval == "wilson":
            accuracy_ci = wilson_interval(sum(a["hit"] for a in answers), len(answers), confidence)
        else:
            accuracy_ci = (
                _percentiles(boot[name], confidence)
                if boot[name] is not None
                else (math.nan, math.nan)
            )
        utility, utility_ci = math.nan, (math.nan, math.nan)
        if name != baseline and baseline is not None and base_accuracy > 0 and len(values):
            utility = (accuracy - base_accuracy) / base_accuracy
            base = boot[baseline]
            with np.errstate(divide="ignore", invalid="ignore"):
                samples = np.where(base > 0, (boot[name] - base) / base, np.nan)
            utility_ci = _percentiles(samples, confidence)

        def mean_hit(selected: list[dict]) -> float:
            return float(np.mean([a["hit"] for a in selected])) if selected else math.nan

        rts = [a["rt_ms"] for a in answers if a["rt_ms"] is not None]
        scores[name] = ConditionScore(
            name=name,
            is_baseline=name == baseline,
            n_participants=len(values),
            n_responses=len(answers),
            accuracy=accuracy,
            accuracy_ci=accuracy_ci,
            utility=utility,
            utility_ci=utility_ci,
            accuracy_by_round=tuple(
                mean_hit([a for a in answers if a["round"] == r]) for r in range(n_rounds)
            ),
            accuracy_model_right=mean_hit([a for a in answers if a["model_correct"]]),
            accuracy_model_wrong=mean_hit([a for a in answers if not a["model_correct"]]),
            mean_rt_ms=float(np.mean(rts)) if rts else math.nan,
        )
    decisions = [t["decision"] for t in key["trials"] if t["phase"] == "test"]
    chance = float(np.max(np.unique(decisions, return_counts=True)[1]) / len(decisions))
    return UtilityScores(
        conditions=scores,
        baseline=baseline,
        chance=chance,
        confidence=float(confidence),
        interval=interval,
        participants=rows,
    )
