"""``xplique-lens experiment build | score``."""

import json

import pytest

from xplique_lens.cli import main


def test_build_then_score(reference_model, tmp_path, capsys):
    out = tmp_path / "site"
    argv = [
        "experiment",
        "build",
        "--out",
        str(out),
        "--rounds",
        "1",
        "--train",
        "2",
        "--test",
        "2",
        "--n-per-class",
        "4",
        "--conditions",
        "baseline,saliency,oracle",
        "--title",
        "<Study>",
        "--quiet",
    ]
    assert main(argv) == 0
    page = (out / "index.html").read_text()
    assert "&lt;Study&gt;" in page and (out / "assets" / "experiment.js").is_file()
    key = tmp_path / "site.key.json"
    data = json.loads(key.read_text())
    assert [c["name"] for c in data["conditions"]] == ["baseline", "saliency", "oracle"]
    tests = [t for t in data["trials"] if t["phase"] == "test"]
    assert sum(t["correct"] for t in tests) == 1  # balanced on the cue-conflict images
    response = {
        "format": "xplique_lens.human/responses",
        "version": 1,
        "experiment_id": data["experiment_id"],
        "participant": "p1",
        "condition": "saliency",
        "responses": [{"trial": t["trial"], "choice": t["decision"], "rt_ms": 900} for t in tests],
    }
    (tmp_path / "r.json").write_text(json.dumps(response))
    capsys.readouterr()
    assert (
        main(
            [
                "experiment",
                "score",
                "--key",
                str(key),
                str(tmp_path / "r.json"),
                "--json",
                str(tmp_path / "scores.json"),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "saliency" in printed and "1.000" in printed
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["conditions"][1]["accuracy"] == 1.0


def test_errors(tmp_path):
    with pytest.raises(SystemExit, match="unknown condition 'magic'"):
        main(
            [
                "experiment",
                "build",
                "--out",
                str(tmp_path / "s"),
                "--conditions",
                "magic",
                "--n-per-class",
                "2",
                "--quiet",
            ]
        )
    with pytest.raises(SystemExit, match="craft needs --layer"):
        main(["experiment", "build", "--conditions", "baseline,craft"])
    with pytest.raises(SystemExit, match="oracle .* built-in default only"):
        main(["experiment", "build", "--conditions", "oracle", "--model", "m.keras"])
    with pytest.raises(SystemExit, match="needs both --model and --images"):
        main(["experiment", "build", "--out", str(tmp_path / "s"), "--model", "m.keras"])
    with pytest.raises(SystemExit, match="experiment score: The answer key"):
        main(["experiment", "score", "--key", str(tmp_path / "none.json"), "r.json"])
    with pytest.raises(SystemExit):  # argparse: a fraction outside [0, 1]
        main(["experiment", "build", "--correct-fraction", "3"])
