"""Which stages recompute when each option changes, and what a stage's code hash covers."""

from dataclasses import fields, replace

import pytest

from xplique_lens.lens import LensOptions
from xplique_lens.lens.code_hash import code_fingerprint, module_closure, module_fingerprint
from xplique_lens.lens.options import stage_options
from xplique_lens.lens.stages import STAGES, MacoOptions, Stage, stage_keys

ALL = {stage.name for stage in STAGES}
CONCEPTS = {"concepts", "maco_concepts", "cluster_graph"}  # the concepts and what reads them
MACO = {"maco_class", "maco_concepts"}

#: option -> (another value, the stages whose cache key it changes)
EXPECTED = {
    "images_per_class": (5, set()),  # enters through the images themselves
    "nb_examples": (2, {"attributions"} | CONCEPTS),
    "nb_concepts": (3, CONCEPTS),
    "patch_size": (16, CONCEPTS),
    "nb_crops_shown": (3, CONCEPTS),
    "refine_top": (1, CONCEPTS),
    "refine_layer": ("conv2", CONCEPTS),
    "maco_steps": (5, MACO),
    "maco_size": (24, MACO),
    "maco_crops": (3, MACO),
    "sobol_grid": (5, {"attributions", "metrics"}),
    "sobol_design": (16, {"attributions", "metrics"} | CONCEPTS),
    "metric_images": (3, {"metrics"}),
    "metric_steps": (5, {"metrics"}),
    "values_range": ((0.0, 255.0), MACO),  # the images and, with preprocess, the model too
    "seed": (1, ALL - {"overview"}),
    "preprocess": ("caffe", set()),  # enters through the model's fingerprint
    "activation_policy": ("signed", CONCEPTS),
}


def test_every_option_is_classified():
    assert set(EXPECTED) == {option.name for option in fields(LensOptions)}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_option_change_recomputes_exactly_the_stages_reading_it(name):
    """The concepts stage once read ``seed`` without its key depending on it: a rebuild with
    another ``--seed`` reused stale concept metrics. Now each key is made of the fields of the
    options dataclass that is all the stage sees."""
    value, expected = EXPECTED[name]
    base = LensOptions.preset("tiny")
    assert getattr(base, name) != value
    before = stage_keys(STAGES, base, "class")
    after = stage_keys(STAGES, replace(base, **{name: value}), "class")
    assert {stage for stage in ALL if before[stage] != after[stage]} == expected


def test_keys_depend_on_the_context_and_on_equal_values_only():
    options = LensOptions.preset("tiny")
    keys = stage_keys(STAGES, options, "class")
    assert keys == stage_keys(STAGES, LensOptions.preset("tiny"), "class")
    assert len(set(keys.values())) == len(STAGES)
    other = stage_keys(STAGES, options, "another class")
    assert all(keys[name] != other[name] for name in keys)
    # the same values given as numpy / int types give the same keys
    import numpy as np

    same = replace(options, maco_steps=np.int64(options.maco_steps), values_range=(0, 1))
    assert stage_keys(STAGES, same, "class") == keys


def test_stage_options_are_lens_options_fields():
    known = {option.name for option in fields(LensOptions)}
    for stage in STAGES:
        assert {option.name for option in fields(stage.options)} <= known, stage.name
    maco = stage_options(LensOptions(maco_steps=7), MacoOptions)
    assert maco == MacoOptions(7, 128, 16, (0.0, 1.0), 0)


def test_stage_options_and_stage_reject_bad_declarations():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Typo:
        maco_stepz: int

    with pytest.raises(TypeError, match="maco_stepz"):
        stage_options(LensOptions(), Typo)
    with pytest.raises(TypeError, match="options_type"):
        stage_options(LensOptions(), dict)
    with pytest.raises(TypeError, match="options"):
        Stage("x", print, options=("seed",))
    with pytest.raises(TypeError, match="run"):
        Stage("x", None, MacoOptions)
    with pytest.raises(TypeError, match="needs"):
        Stage("x", print, MacoOptions, needs="concepts")
    late = [Stage("a", print, MacoOptions, needs=("b",)), Stage("b", print, MacoOptions)]
    with pytest.raises(ValueError, match="before"):
        stage_keys(late, LensOptions(), "class")


def test_stage_sees_only_its_options():
    stage = next(s for s in STAGES if s.name == "cluster_graph")
    seen = stage.options_of(LensOptions(seed=4))
    assert seen.seed == 4
    assert not hasattr(seen, "maco_steps")


def test_code_hash_covers_the_stage_module_and_the_library_it_imports():
    by_name = {stage.name: stage for stage in STAGES}
    concepts = module_closure(by_name["concepts"].run.__module__)
    assert "xplique_lens.lens.stages.context" in concepts
    assert any(name.startswith("xplique_lens.concepts.") for name in concepts)
    assert "xplique_lens.lens.options" not in concepts  # presets do not invalidate caches
    overview = module_closure(by_name["overview"].run.__module__)
    assert overview == ["xplique_lens.lens.stages.context", "xplique_lens.lens.stages.overview"]
    # the two MACO stages share their module; the others differ
    assert by_name["maco_class"].code == by_name["maco_concepts"].code
    assert len({stage.code for stage in STAGES}) == len(STAGES) - 1
    assert module_fingerprint("xplique_lens.lens.stages.maco") == by_name["maco_class"].code
    with pytest.raises(ValueError, match="module"):
        module_fingerprint("numpy")


def _one(ctx, upstream):
    """A stage defined outside the package."""
    return {"value": 1}


def _two(ctx, upstream):
    """A stage defined outside the package."""
    return {"value": 2}


def test_code_hash_of_a_stage_outside_the_package_follows_its_source():
    assert code_fingerprint(_one) == code_fingerprint(_one)
    assert code_fingerprint(_one) != code_fingerprint(_two)
    with pytest.raises(TypeError, match="callable"):
        code_fingerprint(3)
