"""Scoring: accuracy, intervals and utility on hand-made responses; malformed responses."""

import json
import math

import numpy as np
import pytest

from xplique_lens.human import load_responses, score_responses, wilson_interval


def respond(experiment, condition, participant, hits, rt_ms=500.0):
    """A response file whose first ``hits`` test answers are the model's decision."""
    answers = []
    for i, trial in enumerate(experiment.test_trials_):
        choice = trial.decision if i < hits else (trial.decision + 1) % 3
        answers.append(
            {"trial": trial.trial_id, "choice": choice, "rt_ms": rt_ms, "input": "keyboard"}
        )
    return {
        "format": "xplique_lens.human/responses",
        "version": 1,
        "experiment_id": experiment.experiment_id_,
        "participant": participant,
        "condition": condition,
        "assignment": "url",
        "training": [],
        "responses": answers,
    }


@pytest.fixture
def handmade(stub_experiment):
    # 8 test trials; baseline participants 4/8 and 2/8 (mean .375), explainer 6/8 twice (.75)
    return [
        respond(stub_experiment, "baseline", "b1", 4),
        respond(stub_experiment, "baseline", "b2", 2, rt_ms=700.0),
        respond(stub_experiment, "counting", "c1", 6),
        respond(stub_experiment, "counting", "c2", 6),
    ]


def test_accuracy_and_utility_by_hand(stub_experiment, handmade):
    scores = score_responses(stub_experiment, handmade)
    base, explained = scores.conditions["baseline"], scores.conditions["counting"]
    assert scores.baseline == "baseline" and base.is_baseline
    assert base.accuracy == pytest.approx(0.375) and explained.accuracy == pytest.approx(0.75)
    assert explained.utility == pytest.approx((0.75 - 0.375) / 0.375)  # = +100%
    assert math.isnan(base.utility)
    assert base.n_participants == 2 and base.n_responses == 16
    assert base.mean_rt_ms == pytest.approx(600.0)
    # bootstrap over participants: the baseline's two accuracies bound its interval
    assert 0.25 <= base.accuracy_ci[0] <= 0.375 <= base.accuracy_ci[1] <= 0.5
    assert explained.accuracy_ci == pytest.approx((0.75, 0.75))
    assert explained.utility_ci == pytest.approx(((0.75 - 0.5) / 0.5, (0.75 - 0.25) / 0.25))
    # round 0 holds the first 4 test trials: all right for c1 and c2, 2/4 wrong for b2
    assert explained.accuracy_by_round == (1.0, 0.5)
    assert base.accuracy_by_round == pytest.approx((0.75, 0.0))
    tests = stub_experiment.test_trials_
    right = [i for i, t in enumerate(tests) if t.correct]
    assert explained.accuracy_model_right == pytest.approx(np.mean([i < 6 for i in right]))
    decisions = [t.decision for t in tests]
    assert scores.chance == max(decisions.count(d) for d in set(decisions)) / len(decisions)
    again = score_responses(stub_experiment, handmade, seed=0)
    assert again.conditions["baseline"].accuracy_ci == base.accuracy_ci  # seeded bootstrap
    text = str(scores)
    assert "counting" in text and "+100.0%" in text and "baseline (baseline)" in text


def test_wilson_interval():
    low, high = wilson_interval(8, 10, 0.95)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))  # no trials


def test_wilson_on_pooled_answers(stub_experiment, handmade):
    scores = score_responses(stub_experiment, handmade, interval="wilson", confidence=0.9)
    assert scores.conditions["baseline"].accuracy_ci == pytest.approx(wilson_interval(6, 16, 0.9))


def test_json_files_round_trip(stub_experiment, handmade, tmp_path):
    site = tmp_path / "site"
    stub_experiment.build_site(site, verbose=False)
    folder = tmp_path / "responses"
    folder.mkdir()
    for item in handmade:
        name = f"responses_{item['condition']}_{item['participant']}.json"
        (folder / name).write_text(json.dumps(item))
    key_file = tmp_path / "site.key.json"
    from_files = score_responses(key_file, folder)
    from_dicts = score_responses(stub_experiment, handmade)
    assert from_files.table() == from_dicts.table()
    assert len(load_responses([folder, handmade[0]])) == 5
    assert json.loads(json.dumps(from_files.to_dict()))["baseline"] == "baseline"


def test_incomplete_sessions(stub_experiment, handmade):
    partial = respond(stub_experiment, "counting", "c3", 8)
    partial["responses"] = partial["responses"][:3]
    with pytest.raises(ValueError, match=r"5 of the 8 test trials are not answered"):
        score_responses(stub_experiment, handmade + [partial])
    scores = score_responses(stub_experiment, handmade + [partial], allow_incomplete=True)
    assert scores.conditions["counting"].n_participants == 3
    assert scores.conditions["counting"].accuracy == pytest.approx((0.75 + 0.75 + 1.0) / 3)


def test_no_baseline_and_chosen_baseline(stub_experiment, handmade):
    key = stub_experiment.answer_key()
    key["conditions"] = [dict(c, baseline=False) for c in key["conditions"]]
    scores = score_responses(key, handmade)
    assert scores.baseline is None
    assert all(math.isnan(s.utility) for s in scores.conditions.values())
    swapped = score_responses(stub_experiment, handmade, baseline="counting")
    assert swapped.conditions["baseline"].utility == pytest.approx(-0.5)


def _broken(handmade, path, value):
    item = json.loads(json.dumps(handmade[0]))
    target = item
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return [item]


@pytest.mark.parametrize(
    "path, value, match",
    [
        (("format",), "something", "expected 'format'"),
        (("version",), 2, "expected 'version' 1"),
        (("experiment_id",), "abc", "is not this experiment's"),
        (("condition",), "<script>", r"unknown 'condition' '<script>'"),
        (("participant",), "", "'participant' must be a non-empty string"),
        (("responses",), {"a": 1}, "'responses' must be a list"),
        (("responses", 0, "trial"), "r9-test-00", "unknown test 'trial'"),
        (("responses", 1, "trial"), "r0-test-00", "answered twice"),
        (("responses", 0, "choice"), 7, r"'choice' 7 is not a class of the experiment"),
        (("responses", 0, "choice"), "1", "'choice' must be a class id"),
        (("responses", 0, "rt_ms"), -3, "'rt_ms' must be a number >= 0"),
        (("responses", 0), "yes", r"responses\[0\] must be an object"),
        (("condition",), KeyError, "unknown 'condition' None"),
    ],
)
def test_malformed_responses(stub_experiment, handmade, path, value, match):
    with pytest.raises(ValueError, match=match):
        score_responses(stub_experiment, _broken(handmade, path, value), allow_incomplete=True)


def test_bad_sources_and_settings(stub_experiment, handmade, tmp_path):
    with pytest.raises(ValueError, match="appears twice"):
        score_responses(stub_experiment, [handmade[0], handmade[0]])
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        score_responses(stub_experiment, tmp_path / "bad.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no .json file"):
        score_responses(stub_experiment, tmp_path / "empty")
    with pytest.raises(ValueError, match="does not exist"):
        score_responses(stub_experiment, tmp_path / "missing.json")
    with pytest.raises(TypeError, match="must be a response dict"):
        score_responses(stub_experiment, 3)
    with pytest.raises(TypeError, match=r"`responses\[0\]` must be a dict or a path"):
        score_responses(stub_experiment, [[1, 2]])
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(TypeError, match="must hold a JSON object"):
        score_responses(stub_experiment, tmp_path / "list.json")
    with pytest.raises(ValueError, match="is not an answer key"):
        score_responses({"format": "other"}, handmade)
    with pytest.raises(ValueError, match="`baseline` must be one of"):
        score_responses(stub_experiment, handmade, baseline="nope")
    with pytest.raises(ValueError, match="`interval`"):
        score_responses(stub_experiment, handmade, interval="normal")
    with pytest.raises(ValueError, match="`confidence`"):
        score_responses(stub_experiment, handmade, confidence=1.5)
