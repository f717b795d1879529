"""LensOptions: presets, and every field checked when the options are made."""

from dataclasses import replace

import numpy as np
import pytest

from xplique_lens.lens import LensOptions


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        (dict(images_per_class=0), ValueError, "images_per_class"),
        (dict(nb_examples=1.5), TypeError, "nb_examples"),
        (dict(nb_concepts=True), TypeError, "nb_concepts"),
        (dict(patch_size=-3), ValueError, "patch_size"),
        (dict(nb_crops_shown="8"), TypeError, "nb_crops_shown"),
        (dict(refine_top=-1), ValueError, "refine_top"),
        (dict(refine_layer=2.0), TypeError, "refine_layer"),
        (dict(maco_steps=0), ValueError, "maco_steps"),
        (dict(maco_size=None), TypeError, "maco_size"),
        (dict(maco_crops=0), ValueError, "maco_crops"),
        (dict(sobol_grid=1), ValueError, "sobol_grid"),
        (dict(sobol_design=12), ValueError, "sobol_design"),
        (dict(metric_images=0), ValueError, "metric_images"),
        (dict(metric_steps=0), ValueError, "metric_steps"),
        (dict(values_range=(1, 0)), ValueError, "values_range"),
        (dict(values_range="0,255"), ValueError, "values_range"),
        (dict(seed=None), TypeError, "seed"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(preprocess="keras"), ValueError, "preprocess"),
        (dict(activation_policy="relu"), ValueError, "activation_policy"),
    ],
)
def test_bad_fields_raise_when_made(overrides, error, match):
    with pytest.raises(error, match=match):
        LensOptions(**overrides)
    with pytest.raises(error, match=match):  # replace and presets check too
        replace(LensOptions(), **overrides)
    with pytest.raises(error, match=match):
        LensOptions.preset("tiny", **overrides)


def test_fields_are_normalised_without_changing_their_meaning():
    options = LensOptions(
        nb_concepts=np.int64(3), values_range=[0, 255], refine_layer=np.int32(2), seed=np.uint8(4)
    )
    assert type(options.nb_concepts) is int and options.nb_concepts == 3
    assert options.values_range == (0.0, 255.0) and isinstance(options.values_range, tuple)
    assert type(options.refine_layer) is int and type(options.seed) is int
    assert LensOptions(values_range=(0, 1)) == LensOptions()
    assert LensOptions(refine_layer="conv2", refine_top=1).refine_layer == "conv2"


def test_every_preset_is_valid():
    for name in ("tiny", "fast", "default", "paper"):
        assert isinstance(LensOptions.preset(name), LensOptions)
