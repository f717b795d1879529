"""Trials of the protocol: balanced, disjoint, reproducible, shared by the conditions."""

import pytest

from xplique_lens.human import UtilityExperiment, select_trials

from .conftest import CountingExplainer


def _phases(trials):
    phases = {}
    for t in trials:
        phases.setdefault((t.round, t.phase), []).append(t)
    return phases


def test_balanced_disjoint_and_complete(stub_labels, stub_model, stub_images):
    decisions = stub_model(stub_images).argmax(-1)
    trials = select_trials(stub_labels, decisions, n_rounds=3, n_train=6, n_test=4, seed=5)
    assert len(trials) == 3 * (6 + 4)
    indices = [t.image_index for t in trials]
    assert len(set(indices)) == len(indices)  # every image at most once: tests are unseen
    assert len({t.trial_id for t in trials}) == len(trials)
    phases = _phases(trials)
    assert sorted(phases) == [(r, p) for r in range(3) for p in ("test", "train")]
    for (_, phase), members in phases.items():
        assert len(members) == (6 if phase == "train" else 4)
        assert sum(t.correct for t in members) == len(members) // 2  # 50/50 per phase
        assert [t.position for t in members] == list(range(len(members)))
    for t in trials:
        assert t.label == stub_labels[t.image_index] and t.decision == decisions[t.image_index]
        assert t.correct == (t.label == t.decision)


def test_decisions_spread_within_a_phase(stub_labels, stub_model, stub_images):
    decisions = stub_model(stub_images).argmax(-1)
    trials = select_trials(stub_labels, decisions, n_rounds=1, n_train=6, n_test=6, seed=0)
    for members in _phases(trials).values():
        for correct in (True, False):
            group = [t.decision for t in members if t.correct == correct]
            pool = decisions[(decisions == stub_labels) == correct]
            assert len(set(group)) == min(len(group), len(set(pool.tolist())))


def test_reproducible_from_seed(stub_labels, stub_model, stub_images):
    decisions = stub_model(stub_images).argmax(-1)
    first = select_trials(stub_labels, decisions, 2, 4, 4, seed=3)
    assert first == select_trials(stub_labels, decisions, 2, 4, 4, seed=3)
    other = select_trials(stub_labels, decisions, 2, 4, 4, seed=4)
    assert [t.image_index for t in first] != [t.image_index for t in other]


def test_other_fractions(stub_labels, stub_model, stub_images):
    decisions = stub_model(stub_images).argmax(-1)
    quarter = select_trials(stub_labels, decisions, 1, 4, 4, correct_fraction=0.25, seed=0)
    for members in _phases(quarter).values():
        assert sum(t.correct for t in members) == 1
    natural = select_trials(stub_labels, decisions, 2, 8, 8, correct_fraction=None, seed=0)
    assert len({t.image_index for t in natural}) == 32


def test_same_test_images_across_conditions(stub_model, stub_images, stub_labels):
    def build(conditions, n_train):
        return UtilityExperiment(
            stub_model,
            stub_images,
            stub_labels,
            conditions,
            n_rounds=2,
            n_train=n_train,
            n_test=4,
            seed=11,
        ).fit()

    a = build({"baseline": None}, n_train=4)
    b = build({"baseline": None, "x": CountingExplainer(), "y": CountingExplainer()}, n_train=6)
    assert a.test_trials_ == b.test_trials_  # whatever the conditions and the training size
    assert a.train_trials_ == build({"z": None}, n_train=4).train_trials_
    assert a.experiment_id_ != b.experiment_id_


def test_not_enough_errors_or_images(stub_labels):
    decisions = stub_labels.copy()
    decisions[:3] = (decisions[:3] + 1) % 3  # the model is wrong 3 times
    with pytest.raises(ValueError, match=r"needs 4 images on which the model is wrong.*wrong on 3"):
        select_trials(stub_labels, decisions, n_rounds=2, n_train=2, n_test=2)
    with pytest.raises(ValueError, match="need 64 distinct images"):
        select_trials(stub_labels, decisions, 4, 8, 8, correct_fraction=None)
    with pytest.raises(ValueError, match="correct_fraction"):
        select_trials(stub_labels, decisions, 1, 2, 2, correct_fraction=1.5)
    with pytest.raises(TypeError, match="correct_fraction"):
        select_trials(stub_labels, decisions, 1, 2, 2, correct_fraction="half")
    with pytest.raises(ValueError, match="n_train"):
        select_trials(stub_labels, decisions, 1, 0, 2)
