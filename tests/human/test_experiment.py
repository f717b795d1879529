"""UtilityExperiment: explanations of the training trials, conditions, errors, no mutation."""

import copy

import numpy as np
import pytest

from xplique_lens.human import UtilityExperiment

from .conftest import CountingExplainer


def test_fit_explains_training_trials_only(stub_model, stub_images, stub_labels):
    explainer = CountingExplainer()
    maps = np.random.default_rng(0).uniform(size=(60, 8, 8))  # precomputed, other size
    experiment = UtilityExperiment(
        stub_model,
        stub_images,
        stub_labels,
        {"baseline": None, "counting": explainer, "maps": maps},
        n_rounds=2,
        n_train=6,
        n_test=4,
        batch_size=5,
    )
    assert experiment.fit() is experiment
    np.testing.assert_array_equal(experiment.decisions_, stub_model(stub_images).argmax(-1))
    assert experiment.explanations_["baseline"] is None
    train = experiment.train_trials_
    explained = experiment.explanations_["counting"]
    assert explained.maps.shape == (12, 16, 16, 1)
    assert [n for n, _ in explainer.calls] == [5, 5, 2]  # batches of batch_size
    targets = np.concatenate([t for _, t in explainer.calls])
    np.testing.assert_array_equal(targets.argmax(-1), [t.decision for t in train])  # one-hot
    images = experiment.trial_images(train)
    expected = np.abs(images - images.mean(axis=(1, 2), keepdims=True)).mean(-1)
    np.testing.assert_allclose(explained.maps[..., 0], expected, rtol=1e-6)
    resized = experiment.explanations_["maps"].maps
    assert resized.shape == (12, 16, 16, 1) and resized.dtype == np.float32
    assert experiment.choices_ == [0, 1, 2]
    assert experiment.class_names_ == ["0", "1", "2"]
    assert experiment.baselines_ == ["baseline"]


def test_nothing_passed_is_mutated(stub_model, stub_images, stub_labels):
    conditions = {"baseline": None, "counting": CountingExplainer()}
    before = (stub_images.copy(), stub_labels.copy(), dict(conditions))
    UtilityExperiment(stub_model, stub_images, stub_labels, conditions, n_rounds=1).fit()
    np.testing.assert_array_equal(stub_images, before[0])
    np.testing.assert_array_equal(stub_labels, before[1])
    assert conditions == before[2]


def test_progress_bar_is_off_by_default_and_verbose_turns_it_on(
    stub_model, stub_images, stub_labels, capsys
):
    def build(**kwargs):
        experiment = UtilityExperiment(
            stub_model, stub_images, stub_labels, {"counting": CountingExplainer()}, n_rounds=1
        )
        experiment.fit(**kwargs)
        return capsys.readouterr().err

    assert "explaining (counting)" in build(verbose=True)
    assert build(verbose=False) == ""
    assert build() == ""


def test_progress_is_a_deprecated_alias_of_verbose(stub_model, stub_images, stub_labels, capsys):
    experiment = UtilityExperiment(
        stub_model, stub_images, stub_labels, {"counting": CountingExplainer()}, n_rounds=1
    )
    with pytest.warns(DeprecationWarning, match="use `verbose`"):
        experiment.fit(progress=True)
    assert "explaining (counting)" in capsys.readouterr().err
    with pytest.warns(DeprecationWarning, match="use `verbose`"):
        old = UtilityExperiment(
            stub_model,
            stub_images,
            stub_labels,
            {"counting": CountingExplainer()},
            n_rounds=1,
            progress=False,
        )
    old.fit()
    assert capsys.readouterr().err == ""


def test_seed_none_draws_fresh_trials_and_records_the_seed(stub_model, stub_images, stub_labels):
    def build(seed):
        return UtilityExperiment(
            stub_model, stub_images, stub_labels, {"b": None}, n_rounds=1, seed=seed
        ).fit()

    assert build(0).seed_ == 0 and build(0).answer_key()["seed"] == 0
    fresh = [build(None) for _ in range(3)]
    assert len({e.seed_ for e in fresh}) == 3
    assert all(e.answer_key()["seed"] == e.seed_ for e in fresh)
    for bad, error in ((-1, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="`seed`"):
            UtilityExperiment(stub_model, stub_images, stub_labels, {"b": None}, seed=bad)


def test_craft_condition_shows_top_concepts_with_crops(reference_model, small_data):
    from xplique_lens.concepts import PCA, Craft

    craft = Craft.from_model(  # PCA: a fast extractor, the panels do not depend on it
        reference_model, "features", number_of_concepts=3, patch_size=32, extractor=PCA(3)
    )
    craft.fit(small_data.images[small_data.labels == 0], class_id=0)
    experiment = UtilityExperiment(
        reference_model,
        small_data.images,
        small_data.labels,
        {"craft": craft},
        n_rounds=1,
        n_train=4,
        n_test=4,
        concepts_shown=2,
        crops_shown=3,
        correct_fraction=None,
    ).fit()
    shown = experiment.explanations_["craft"]
    assert shown.kind == "concepts" and shown.maps.shape == (4, 64, 64, 2)
    assert all(
        len(keys) == 2 and all(k in shown.crops for k in keys) for keys in shown.concept_keys
    )
    assert all(c.shape == (3, 32, 32, 3) for c in shown.crops.values())
    assert shown.captions[0][0].startswith("concept ")
    assert shown.heatmaps().shape == (4, 64, 64)
    unfitted = Craft.from_model(reference_model, "features", number_of_concepts=3)
    with pytest.raises(ValueError, match="not fitted"):
        UtilityExperiment(
            reference_model,
            small_data.images,
            small_data.labels,
            {"c": unfitted},
            n_rounds=1,
            n_train=2,
            n_test=2,
            correct_fraction=None,
        ).fit()


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"model": "not a model"}, TypeError, "`model` must be callable"),
        ({"model": None}, TypeError, "`model` is None"),
        ({"images": np.zeros((60, 16, 16, 3), np.uint8)}, TypeError, "`images` must hold float"),
        ({"images": np.zeros((60, 16, 16), np.float32)}, ValueError, r"`images`.*\(N, H, W, C\)"),
        ({"images": np.full((60, 16, 16, 3), np.nan, np.float32)}, ValueError, "NaN"),
        ({"labels": np.zeros(59, int)}, ValueError, r"`labels` must hold one class per image"),
        ({"labels": np.full(60, "a")}, TypeError, "`labels` must be integer"),
        ({"labels": np.full(60, -1)}, ValueError, "non-negative integer"),
        ({"conditions": {}}, TypeError, "non-empty dict"),
        ({"conditions": {"x": 3}}, TypeError, r"`conditions\['x'\]` must be None"),
        ({"conditions": {"": None}}, TypeError, "non-empty strings"),
        ({"conditions": {"m": np.zeros((5, 16, 16))}}, ValueError, r"conditions\['m'\].*N=60"),
        ({"class_names": "cat"}, TypeError, "`class_names`"),
        ({"n_rounds": 0}, ValueError, "`n_rounds`"),
        ({"n_test": 2.5}, TypeError, "`n_test`"),
        ({"correct_fraction": 2}, ValueError, "`correct_fraction`"),
        ({"crops_shown": -1}, ValueError, "`crops_shown`"),
    ],
)
def test_bad_settings(stub_model, stub_images, stub_labels, change, error, match):
    kwargs = {
        "model": stub_model,
        "images": stub_images,
        "labels": stub_labels,
        "conditions": {"baseline": None},
    }
    kwargs.update(change)
    with pytest.raises(error, match=match):
        UtilityExperiment(**kwargs)


def test_errors_found_while_fitting(stub_model, stub_images, stub_labels):
    def fit(conditions, **kwargs):
        return UtilityExperiment(
            stub_model,
            stub_images,
            stub_labels,
            conditions,
            n_rounds=1,
            **kwargs,
        ).fit()

    with pytest.raises(ValueError, match="`class_names` has 2 names"):
        fit({"b": None}, class_names=["a", "b"])
    with pytest.raises(ValueError, match=r"returned 3 maps for 8 images"):
        fit({"few": lambda x, y: np.zeros((3, 16, 16))})
    with pytest.raises(ValueError, match="NaN"):
        fit({"nan": lambda x, y: np.full(np.shape(x)[:3], np.nan)})
    with pytest.raises(ValueError, match=r"conditions\['bad'\]` failed on the training images"):
        fit({"bad": lambda x, y: (_ for _ in ()).throw(ValueError("boom"))})
    with pytest.raises(ValueError, match=r"`model` must return scores \(N, C\)"):
        UtilityExperiment(lambda x: np.zeros(len(x)), stub_images, stub_labels, {"b": None}).fit()
    with pytest.raises(ValueError, match=r"not fitted yet .* call `fit\(\)`"):
        UtilityExperiment(stub_model, stub_images, stub_labels, {"b": None}).answer_key()
    decisions = copy.deepcopy(stub_labels)  # known decisions: the model is not called
    built = UtilityExperiment(
        None,
        stub_images,
        stub_labels,
        {"b": None},
        decisions=decisions,
        correct_fraction=None,
        n_rounds=1,
    ).fit()
    assert all(t.correct for t in built.trials_)
