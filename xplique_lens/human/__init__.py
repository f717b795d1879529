"""Human-centered utility experiments (Colin, Fel, Cadène & Serre, NeurIPS 2022).

Does an explanation help a person predict what the model will decide on new images?
:class:`UtilityExperiment` builds the trials of the protocol (training on images with the
model's decision and an explanation, then predicting the decision on unseen images),
:func:`build_experiment_site` writes a static site that runs it in a browser,
:func:`score_responses` scores the downloaded responses (accuracy per condition with a
confidence interval, utility = relative improvement over the baseline), and
:class:`SimulatedParticipant` dry-runs it without people.

The names are imported on first use, so that ``xplique-lens --help`` (which registers the
``experiment`` subcommand from :mod:`xplique_lens.human.cli`) does not load TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "UtilityExperiment": "experiment",
    "ExplanationSet": "explanations",
    "load_responses": "responses",
    "read_key": "responses",
    "CueConflictDataset": "scenarios",
    "make_cue_conflict_dataset": "scenarios",
    "ConditionScore": "scoring",
    "UtilityScores": "scoring",
    "score_responses": "scoring",
    "wilson_interval": "scoring",
    "SimulatedParticipant": "simulated",
    "simulate_responses": "simulated",
    "build_experiment_site": "site",
    "Trial": "trials",
    "select_trials": "trials",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
