"""The JSON files of an experiment: the answer key and the participants' responses.

Response file (what the site downloads, and POSTs when a URL was given at build time)::

    {
      "format": "xplique_lens.human/responses", "version": 1,
      "experiment_id": "3f0c...",            # must match the answer key
      "participant": "p-7d21...",            # ?participant=ID in the URL, or random
      "condition": "saliency",               # ?condition=NAME in the URL, or drawn at random
      "assignment": "url" | "random" | "simulated",
      "started": "2025-01-01T10:00:00.000Z", "finished": "...",
      "training": [{"trial": "r0-train-00", "viewed_ms": 2310.5}, ...],
      "responses": [
        {"trial": "r0-test-00", "choice": 3, "rt_ms": 1234.5, "input": "keyboard"}, ...
      ]
    }

``choice`` is the class id the participant predicts for the model; ``rt_ms`` the time from
the image's onset to the answer (``null`` for simulated participants); ``input`` is
``"keyboard"``, ``"mouse"`` or ``"simulated"``. The answer key
(:meth:`UtilityExperiment.answer_key`) holds the trials with the model's decisions.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RESPONSES_FORMAT = "xplique_lens.human/responses"
KEY_FORMAT = "xplique_lens.human/key"
FORMAT_VERSION = 1


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{what} {path} is not valid JSON: {error}") from None
    except OSError as error:
        raise ValueError(f"{what} {path} cannot be read: {error}") from None


def read_key(source: Any) -> dict:
    """The answer key of a built experiment, a key dict, or a key file; checked.

    Parameters
    ----------
    source
        A fitted :class:`~xplique_lens.human.UtilityExperiment`, the dict of its
        ``answer_key()``, or the path of the key file written by ``build_site``.

    Returns
    -------
    dict
        The answer key.
    """
    if hasattr(source, "answer_key"):
        return source.answer_key()
    if isinstance(source, str | Path):
        source = _read_json(Path(source), "The answer key")
    if not isinstance(source, Mapping):
        raise TypeError(
            "`experiment` must be a fitted UtilityExperiment, an answer key dict or the path "
            f"of a key file, got {type(source).__name__}."
        )
    if source.get("format") != KEY_FORMAT:
        raise ValueError(
            f"`experiment` is not an answer key: expected format {KEY_FORMAT!r}, got "
            f"{source.get('format')!r}."
        )
    for field in ("experiment_id", "conditions", "choices", "trials", "class_names"):
        if field not in source:
            raise ValueError(f"The answer key has no {field!r} field.")
    return dict(source)


def load_responses(sources: Any) -> list[tuple[str, dict]]:
    """Read response files: ``(source name, JSON dict)`` pairs, in a stable order.

    Parameters
    ----------
    sources
        A response dict, a JSON file, a folder (its ``*.json`` files, sorted), or a list of
        those.
    """
    if isinstance(sources, Mapping) or isinstance(sources, str | Path):
        sources = [sources]
    if not isinstance(sources, list | tuple):
        raise TypeError(
            "`responses` must be a response dict, a JSON file or folder, or a list of those, got "
            f"{type(sources).__name__}."
        )
    loaded: list[tuple[str, dict]] = []
    for i, source in enumerate(sources):
        if isinstance(source, Mapping):
            loaded.append((f"responses[{i}]", dict(source)))
        elif isinstance(source, str | Path):
            path = Path(source)
            if path.is_dir():
                files = sorted(path.glob("*.json"))
                if not files:
                    raise ValueError(f"`responses`: the folder {path} holds no .json file.")
                loaded.extend((str(f), _read_json(f, "The response file")) for f in files)
            elif path.exists():
                loaded.append((str(path), _read_json(path, "The response file")))
            else:
                raise ValueError(f"`responses`: {path} does not exist.")
        else:
            raise TypeError(
                f"`responses[{i}]` must be a dict or a path, got {type(source).__name__}."
            )
    if not loaded:
        raise ValueError("`responses` is empty; expected at least one participant's responses.")
    return loaded


def check_response(data: Any, key: dict, source: str, allow_incomplete: bool = False) -> dict:
    """Validate one participant's responses against the key; return a normalised copy.

    Raises a ``ValueError`` (``TypeError`` for a non-dict) naming ``source`` and the field when
    the file is malformed: wrong format or version, another experiment, an unknown condition,
    an unknown or duplicated trial, a choice that is not a class of the experiment, a negative
    or non-numeric reaction time, or (unless ``allow_incomplete``) missing test trials.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"{source}: a response file must hold a JSON object, got {type(data)}.")
    if data.get("format") != RESPONSES_FORMAT:
        raise ValueError(
            f"{source}: expected 'format' {RESPONSES_FORMAT!r}, got {data.get('format')!r}."
        )
    if data.get("version") != FORMAT_VERSION:
        raise ValueError(
            f"{source}: expected 'version' {FORMAT_VERSION}, got {data.get('version')!r}."
        )
    if data.get("experiment_id") != key["experiment_id"]:
        raise ValueError(
            f"{source}: 'experiment_id' {data.get('experiment_id')!r} is not this experiment's "
            f"({key['experiment_id']!r}); responses of another build cannot be scored with it."
        )
    names = [c["name"] for c in key["conditions"]]
    condition = data.get("condition")
    if condition not in names:
        raise ValueError(f"{source}: unknown 'condition' {condition!r}; expected one of {names}.")
    participant = data.get("participant")
    if not isinstance(participant, str) or not participant:
        raise ValueError(
            f"{source}: 'participant' must be a non-empty string, got {participant!r}."
        )
    answers = data.get("responses")
    if not isinstance(answers, list):
        raise ValueError(f"{source}: 'responses' must be a list, got {type(answers).__name__}.")
    tests = {t["trial"]: t for t in key["trials"] if t["phase"] == "test"}
    choices = set(key["choices"])
    seen: set[str] = set()
    normalised = []
    for j, answer in enumerate(answers):
        where = f"{source}: responses[{j}]"
        if not isinstance(answer, Mapping):
            raise ValueError(f"{where} must be an object, got {answer!r}.")
        trial = answer.get("trial")
        if trial not in tests:
            raise ValueError(f"{where}: unknown test 'trial' {trial!r}.")
        if trial in seen:
            raise ValueError(f"{where}: trial {trial!r} is answered twice.")
        seen.add(trial)
        choice = answer.get("choice")
        if isinstance(choice, bool) or not isinstance(choice, numbers.Integral):
            raise ValueError(f"{where}: 'choice' must be a class id (integer), got {choice!r}.")
        if int(choice) not in choices:
            raise ValueError(
                f"{where}: 'choice' {choice} is not a class of the experiment {sorted(choices)}."
            )
        rt = answer.get("rt_ms")
        if rt is not None and (
            isinstance(rt, bool) or not isinstance(rt, numbers.Real) or not rt >= 0
        ):
            raise ValueError(f"{where}: 'rt_ms' must be a number >= 0 or null, got {rt!r}.")
        normalised.append(
            {
                "trial": trial,
                "choice": int(choice),
                "rt_ms": None if rt is None else float(rt),
                "input": answer.get("input"),
                "round": tests[trial]["round"],
                "decision": tests[trial]["decision"],
                "model_correct": tests[trial]["correct"],
                "hit": int(choice) == tests[trial]["decision"],
            }
        )
    missing = sorted(set(tests) - seen)
    if missing and not allow_incomplete:
        raise ValueError(
            f"{source}: {len(missing)} of the {len(tests)} test trials are not answered (e.g. "
            f"{missing[:3]}); pass `allow_incomplete=True` to score partial sessions."
        )
    return {
        "source": source,
        "participant": participant,
        "condition": condition,
        "answers": normalised,
    }
