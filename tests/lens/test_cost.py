"""Cost of a Lens build: exact pass counts per stage, stored in the site, printed by the CLI."""

import json
import shutil

import keras
import numpy as np
import pytest

from xplique_lens.attributions import Saliency, SobolAttributionMethod
from xplique_lens.cli import _print_stage_times
from xplique_lens.commons.cost import PassCounter, StageCost, count_passes, counted_layer
from xplique_lens.commons.model_splitting import split_model
from xplique_lens.datasets import FEATURE_LAYER
from xplique_lens.lens import build_lens

from .conftest import NAMES, SMALL


def _sobol_forwards(nb_images: int, grid: int, nb_design: int, with_b: bool = False) -> int:
    """``make_sobol_kernel``: ``nb_design * (d + 1 + needs_b)`` masks per image, ``d = grid**2``
    (f(A) and the d f(C_i); f(B) only for an estimator that needs it)."""
    return nb_images * nb_design * (grid**2 + 1 + int(with_b))


def test_counts_are_exact_inside_compiled_loops_and_split_models(tiny_functional_model, rng):
    model = tiny_functional_model
    counted, counter = count_passes(model)
    images = rng.random((3, 16, 16, 3), dtype=np.float32)
    labels = np.array([0, 1, 2])
    np.testing.assert_allclose(counted(images), model(images), rtol=1e-6)
    # the in-graph Sobol kernel (tf.while_loop over chunks of 7, traced once)
    sobol = SobolAttributionMethod(counted, grid_size=3, nb_design=4, batch_size=7)
    for _ in range(2):  # the second call runs the trace: counted again, not only when traced
        with counter.measure() as cost:
            sobol(images, labels)
        assert (cost["forwards"], cost["backwards"]) == (_sobol_forwards(3, 3, 4), 0)
    with counter.measure() as cost:
        SobolAttributionMethod(counted, grid_size=2, nb_design=4, estimator="saltelli")(
            images, labels
        )
    assert cost["forwards"] == _sobol_forwards(3, 2, 4, with_b=True)
    with counter.measure() as cost:
        Saliency(counted, batch_size=2)(images, labels)
    assert (cost["forwards"], cost["backwards"]) == (3, 3)
    with counter.measure() as cost:
        counted.predict(images, batch_size=2, verbose=0)
    assert (cost["forwards"], cost["backwards"]) == (3, 0)
    # g starts at the input (counted); h starts at the layer and feeds no image (not counted)
    g, h = split_model(counted, counted_layer(model, "conv"))
    with counter.measure() as cost:
        h(g(images))
    assert (cost["forwards"], cost["backwards"]) == (3, 0) and cost["seconds"] >= 0
    everything = (3, 2 * _sobol_forwards(3, 3, 4), _sobol_forwards(3, 2, 4, True), 3, 3, 3)
    assert (counter.forwards, counter.backwards) == (sum(everything), 3)
    counter.reset()
    assert (counter.forwards, counter.backwards) == (0, 0)


def test_bad_models_and_costs_are_rejected(tiny_functional_model):
    with pytest.raises(TypeError, match="keras.Model"):
        count_passes(lambda x: x)
    two = [keras.Input((4,)), keras.Input((4,))]
    with pytest.raises(ValueError, match="2 inputs"):
        count_passes(keras.Model(two, keras.layers.Add()(two)))
    with pytest.raises(ValueError, match="does not exist"):
        counted_layer(tiny_functional_model, "nope")
    assert StageCost.from_json(StageCost(1.23456, 4, 2).to_json()) == StageCost(1.235, 4, 2)
    with pytest.raises(ValueError, match="seconds"):
        StageCost.from_json({"forwards": 3})
    with pytest.raises(ValueError, match="unknown"):
        StageCost.from_json({"seconds": 1.0, "forward": 3})
    with pytest.raises(TypeError, match="PassCounter"):
        from xplique_lens.commons.cost import CountingLayer

        CountingLayer(counter=None)
    assert "forwards=0" in repr(PassCounter())


def test_stage_costs_match_their_formulas_and_are_written(small_site):
    """Each stage's passes against its known cost, for the SMALL options of the test site."""
    o = SMALL
    for class_id, cost in small_site.cost.items():
        manifest = json.loads(
            (small_site.out_dir / "manifests" / f"{class_id:05d}.json").read_text()
        )
        assert manifest["layer"] == FEATURE_LAYER  # the counting wrapper is not shown
        n = manifest["n_images"]
        examples = min(o.nb_examples, n)
        passes = {stage: (c.forwards, c.backwards) for stage, c in cost.items()}
        assert passes["overview"] == (n, 0)  # one prediction per image
        # Sobol (the kernel's masks) + Saliency + GradientInput on the examples
        sobol = _sobol_forwards(examples, o.sobol_grid, o.sobol_design)
        assert passes["attributions"] == (sobol + 2 * examples, 2 * examples)
        # MACO: one forward and one backward pass per crop and step, for each objective
        assert passes["maco_class"] == (o.maco_steps * o.maco_crops,) * 2
        assert passes["maco_concepts"] == (o.nb_concepts * o.maco_steps * o.maco_crops,) * 2
        assert passes["cluster_graph"] == (0, 0)
        # the explainers again on the metric images, plus the Deletion / Insertion curves
        scored = min(o.metric_images, n)
        explainers = _sobol_forwards(scored, o.sobol_grid, o.sobol_design) + 2 * scored
        assert passes["metrics"][0] > explainers and passes["metrics"][1] == 2 * scored
        # CRAFT: crops and images through g; input-space maps have backward passes
        assert passes["concepts"][0] > n and passes["concepts"][1] > 0
        assert manifest["cost"] == {stage: c.to_json() for stage, c in cost.items()}
    site = json.loads((small_site.out_dir / "cost.json").read_text())
    assert sorted(site["classes"]) == sorted(str(c) for c in small_site.cost)
    totals = site["stages"]["attributions"]
    assert totals["forwards"] == sum(c["attributions"].forwards for c in small_site.cost.values())
    assert site["total"]["backwards"] == sum(
        c.backwards for cost in small_site.cost.values() for c in cost.values()
    )
    page = (small_site.out_dir / "classes" / "00000" / "index.html").read_text()
    assert "Cost of this page" in page


def test_cached_rebuild_keeps_the_cost_and_the_cli_prints_it(
    small_site, tmp_path, reference_model, lens_data, capsys
):
    out = tmp_path / "site"
    shutil.copytree(small_site.out_dir, out)
    report = build_lens(
        reference_model,
        lens_data.images,
        NAMES,
        FEATURE_LAYER,
        out,
        labels=lens_data.labels,
        classes=[0],
        options=SMALL,
        verbose=False,
    )
    assert set(report.stages[0].values()) == {"cached"}
    for stage, cost in report.cost[0].items():  # what computing it cost, read from the cache
        original = small_site.cost[0][stage]
        assert (cost.forwards, cost.backwards) == (original.forwards, original.backwards)
        assert cost.seconds == pytest.approx(original.seconds, abs=1e-3)
        assert report.passes(0, stage) == (0, 0)  # this build ran none
    _print_stage_times(small_site, quiet=False)
    printed = capsys.readouterr().out
    assert "seconds per stage" in printed and "forwards" in printed and "backwards" in printed
    attributions = next(line for line in printed.splitlines() if "attributions" in line)
    forwards = sum(small_site.cost[c]["attributions"].forwards for c in small_site.cost)
    assert f"{forwards:,}" in attributions
    _print_stage_times(report, quiet=False)
    assert "0 class(es)" in capsys.readouterr().out
