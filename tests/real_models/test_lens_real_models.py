"""A Lens build on real models: the ViT (GELU tokens, signed policy) and, with
``XPLIQUE_LENS_REAL_MODELS=all``, the nested transfer model (a build traces the model about ten
times: 10-20 s on 2 CPU cores for the MobileNetV2 base)."""

from __future__ import annotations

import numpy as np
import pytest

from xplique_lens.lens import LensOptions, build_lens

from .conftest import CASES, FULL, concept_layer, images_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", ["vit", "transfer"])
def test_lens_build(real_models, tmp_path, name):
    if name != "vit" and not FULL:
        pytest.skip("budgeted out of the default run: set XPLIQUE_LENS_REAL_MODELS=all")
    case = CASES[name]
    model = real_models[name]
    images = images_for(model, case, n=4, seed=1)
    options = LensOptions.preset(
        "tiny",
        images_per_class=4,
        patch_size=16,
        sobol_grid=2,
        sobol_design=2,
        maco_steps=2,
        maco_crops=1,
        metric_steps=2,
        values_range=case.values_range,
        activation_policy="clamp" if case.policy == "error" else case.policy,
    )
    report = build_lens(
        model,
        images,
        ["a", "b", "c"],
        concept_layer(model, case),
        tmp_path,
        labels=np.zeros(4, np.int64),
        classes=[0],
        options=options,
        verbose=False,
    )
    assert report.index.is_file()
    assert set(report.stages[0].values()) == {"computed"}
    for stage in ("concepts", "maco_class", "attributions", "metrics"):
        with np.load(tmp_path / "cache" / "00000" / f"{stage}.npz", allow_pickle=False) as data:
            for key in data.files:
                if data[key].dtype.kind == "f":
                    assert np.all(np.isfinite(data[key])), (stage, key)
    with np.load(tmp_path / "cache" / "00000" / "concepts.npz") as concepts:
        assert concepts["maps"].shape == (1, *images.shape[1:3], 2)
        assert concepts["importances"].shape == (2,)
