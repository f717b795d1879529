"""The simulated participant: beats chance when the explanation shows the decisive part."""

import numpy as np
import pytest

from xplique_lens.human import (
    SimulatedParticipant,
    UtilityExperiment,
    make_cue_conflict_dataset,
    score_responses,
    simulate_responses,
)


@pytest.fixture(scope="module")
def planted(reference_model, small_data):
    """Built-in images; the oracle condition shows the planted parts (object and pattern)."""
    return UtilityExperiment(
        reference_model,
        small_data.images,
        small_data.labels,
        {"baseline": None, "planted parts": small_data.masks},
        class_names=list(small_data.class_names),
        n_rounds=2,
        n_train=6,
        n_test=6,
        correct_fraction=None,  # the reference CNN is right on all 24 images
    ).fit()


def test_beats_chance_with_the_planted_parts(planted):
    responses = planted.simulate(SimulatedParticipant(), n_participants=2)
    scores = score_responses(planted, responses)
    oracle, baseline = scores.conditions["planted parts"], scores.conditions["baseline"]
    assert scores.chance == pytest.approx(2 / 12)  # 12 test images, 6 classes spread evenly
    assert oracle.accuracy >= scores.chance + 0.4
    assert oracle.accuracy > baseline.accuracy + 0.3
    assert oracle.utility > 1.0
    # deterministic learner (memory 1, no lapse): the two participants agree
    assert oracle.accuracy_ci == pytest.approx((oracle.accuracy, oracle.accuracy))


def test_reproducible_and_individual_differences(planted):
    learner = SimulatedParticipant(memory=0.5, lapse=0.2, seed=3)
    first = simulate_responses(planted, learner, n_participants=3, conditions=["baseline"])
    assert first == simulate_responses(planted, learner, n_participants=3, conditions=["baseline"])
    answers = [[a["choice"] for a in r["responses"]] for r in first]
    assert answers[0] != answers[1] or answers[1] != answers[2]
    assert all(r["condition"] == "baseline" and r["assignment"] == "simulated" for r in first)


def test_learner_directly(small_data):
    images, labels, masks = small_data.images, small_data.labels, small_data.masks
    learner = SimulatedParticipant(grid_size=8).fit(images[:12], labels[:12], masks[:12])
    assert learner.features_.shape == (12, 64, 7) and learner.weights_.shape == (12, 64)
    np.testing.assert_allclose(learner.weights_.sum(axis=1), 1.0)
    assert np.count_nonzero(learner.weights_[0]) <= 64 // 10 + 2  # attends to ~10% of cells
    assert np.mean(learner.predict(images[12:]) == labels[12:]) > 0.5
    uniform = SimulatedParticipant().fit(images[:12], labels[:12])
    np.testing.assert_allclose(uniform.weights_, 1 / 64)
    noisy = SimulatedParticipant(lapse=1.0).fit(images[:12], labels[:12], masks[:12])
    assert set(noisy.predict(images, choices=[4, 5]).tolist()) <= {4, 5}


def test_cue_conflict_scenario():
    data = make_cue_conflict_dataset(n_per_class=2, image_size=32, seed=0)
    assert data.images.shape == (12, 32, 32, 3) and np.all(data.conflicting)
    assert not np.any(data.part_masks["object"] & data.part_masks["pattern"])
    decisive = data.decisive_masks(data.labels)
    np.testing.assert_array_equal(decisive, data.part_masks["object"])
    plain = make_cue_conflict_dataset(n_per_class=2, image_size=32, conflict_fraction=0.0)
    np.testing.assert_array_equal(plain.labels, plain.pattern_labels)
    np.testing.assert_array_equal(plain.decisive_masks(plain.labels), plain.masks)


def test_bad_input(planted, small_data):
    with pytest.raises(ValueError, match="`attention`"):
        SimulatedParticipant(attention=0)
    with pytest.raises(ValueError, match="`bandwidth`"):
        SimulatedParticipant(bandwidth=-1.0)
    with pytest.raises(TypeError, match="`lapse`"):
        SimulatedParticipant(lapse="often")
    with pytest.raises(ValueError, match="not fitted"):
        SimulatedParticipant().predict(small_data.images)
    with pytest.raises(ValueError, match="`explanations` must be maps"):
        SimulatedParticipant().fit(
            small_data.images[:4], small_data.labels[:4], small_data.masks[:3]
        )
    with pytest.raises(ValueError, match="smaller than `grid_size`"):
        SimulatedParticipant(grid_size=128).fit(small_data.images[:2], small_data.labels[:2])
    with pytest.raises(ValueError, match=r"`conditions` \['nope'\]"):
        simulate_responses(planted, conditions=["nope"])
    with pytest.raises(TypeError, match="`participant` must be a SimulatedParticipant"):
        simulate_responses(planted, participant="me")
    with pytest.raises(ValueError, match="conflict_fraction"):
        make_cue_conflict_dataset(2, conflict_fraction=2)
