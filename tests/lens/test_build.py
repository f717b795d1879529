import json
from dataclasses import replace

import numpy as np
import pytest

from xplique_lens.cli import main
from xplique_lens.datasets import FEATURE_LAYER
from xplique_lens.lens import build_lens, merge_lens, parse_shard
from xplique_lens.lens.site import render_class, render_index
from xplique_lens.lens.stages import STAGES

from .conftest import NAMES, SMALL

STAGE_NAMES = [stage.name for stage in STAGES]


def test_user_strings_are_escaped():
    name = "<script>alert(1)</script>"
    manifest = {"class_id": 0, "slug": "00000", "name": name, "n_images": 1, "layer": "<b>"}
    graph = {"points": [{"x": 0, "y": 0, "concept": 0, "label": name, "image": "a.png"}]}
    for page in (render_index([manifest]), render_class(dict(manifest, cluster_graph=graph))):
        assert "<script>alert" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or "\\u003cscript" in page
    assert "<b>" not in render_class(manifest)


def test_built_site_escapes_class_names(small_site):
    index = small_site.index.read_text()
    assert "<script>alert" not in index and "&lt;script&gt;" in index
    assert "yellow &amp; cross" in index
    page = (small_site.out_dir / "classes" / "00002" / "index.html").read_text()
    assert "<script>alert" not in page


def test_rebuild_uses_cache_and_option_change_recomputes_only_dependents(
    tmp_path, reference_model, lens_data
):
    def build(options):
        return build_lens(
            reference_model,
            lens_data.images,
            NAMES,
            FEATURE_LAYER,
            tmp_path,
            labels=lens_data.labels,
            classes=[1],
            options=options,
            verbose=False,
        )

    first = build(SMALL)
    assert set(first.stages[1].values()) == {"computed"}
    again = build(SMALL)
    assert set(again.stages[1].values()) == {"cached"}
    changed = build(replace(SMALL, nb_examples=1))
    concepts = {"concepts", "maco_concepts", "cluster_graph"}  # and what reads them
    assert _computed(changed) == {"attributions", *concepts}
    # every stage drawing random numbers reads the seed (the concepts stage once did not)
    reseeded = build(replace(SMALL, nb_examples=1, seed=1))
    assert _computed(reseeded) == set(STAGE_NAMES) - {"overview"}


def _computed(report) -> set[str]:
    """The stages of class 1 that a build computed (the others were loaded)."""
    return {name for name, status in report.stages[1].items() if status == "computed"}


def test_interrupted_build_resumes(tmp_path, reference_model, lens_data, monkeypatch):
    """Interrupted before the last stage of class 3 is stored: class 0 is loaded whole, and
    class 3 computes only what is missing. (The interruption patches the store, not the
    stage: a stage's cache key hashes its code, so a wrapped stage would be another stage.)"""
    from xplique_lens.lens import builder

    last = builder.STAGES[-1].name
    save = builder.StageStore.save

    def crash_on_class_3(self, class_id, stage, key, arrays):
        if (class_id, stage) == (3, last):
            raise KeyboardInterrupt
        return save(self, class_id, stage, key, arrays)

    monkeypatch.setattr(builder.StageStore, "save", crash_on_class_3)
    kwargs = dict(labels=lens_data.labels, classes=[0, 3], options=SMALL, verbose=False)
    with pytest.raises(KeyboardInterrupt):
        build_lens(reference_model, lens_data.images, NAMES, FEATURE_LAYER, tmp_path, **kwargs)
    assert (tmp_path / "manifests" / "00000.json").exists()
    assert not (tmp_path / "manifests" / "00003.json").exists()
    monkeypatch.undo()
    report = build_lens(reference_model, lens_data.images, NAMES, FEATURE_LAYER, tmp_path, **kwargs)
    assert set(report.stages[0].values()) == {"cached"}
    assert report.stages[3] == {
        stage.name: "computed" if stage.name == last else "cached" for stage in builder.STAGES
    }


@pytest.mark.parametrize("shard", ["3/2", "0/4", "a/b", "1-2"])
def test_bad_shard(shard):
    with pytest.raises(ValueError, match="shard"):
        parse_shard(shard)


def test_bad_arguments(tmp_path, reference_model, lens_data):
    with pytest.raises(ValueError, match="does not exist"):
        build_lens(reference_model, lens_data.images, NAMES, "nope", tmp_path, verbose=False)
    with pytest.raises(ValueError, match="classes"):
        build_lens(reference_model, lens_data.images, NAMES, FEATURE_LAYER, tmp_path, classes=[9])


def test_cli_build_from_npz_with_shards_and_merge(tmp_path, reference_model, lens_data, capsys):
    """Two shards build disjoint classes (named by index or name), the merge indexes both."""
    model_path = tmp_path / "model.keras"
    reference_model.save(model_path)
    npz = tmp_path / "data.npz"
    np.savez(npz, images=lens_data.images, labels=lens_data.labels, class_names=np.array(NAMES))
    out = tmp_path / "site"
    common = ["build", "--model", str(model_path), "--images", str(npz), "--layer", FEATURE_LAYER]
    common += ["--out", str(out), "--preset", "tiny", "--classes", "red_disk,1"]
    assert main([*common, "--shard", "1/2"]) == 0
    assert "built classes: [0]" in capsys.readouterr().out
    assert main([*common, "--shard", "2/2"]) == 0
    assert "built classes: [1]" in capsys.readouterr().out
    assert main(["build", "--merge", "--out", str(out), "--quiet"]) == 0
    manifests = sorted(p.name for p in (out / "manifests").glob("*.json"))
    assert manifests == ["00000.json", "00001.json"]
    assert json.loads((out / "manifests" / "00001.json").read_text())["name"] == "green_square"
    assert merge_lens(out).read_text().count("class='card'") == 2
