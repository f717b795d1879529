import os
import subprocess
import sys

import pytest

from xplique_lens import __version__
from xplique_lens.cli import main
from xplique_lens.lens import LensOptions


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "demo" in capsys.readouterr().out


@pytest.mark.slow
def test_demo_end_to_end(tmp_path, reference_model):
    """The command, in its own process: a site, stage times, and none of TensorFlow's C++ log
    lines (the session's temporary model cache is inherited)."""
    out = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "xplique_lens.cli",
            "demo",
            "--out",
            str(out),
            "--preset",
            "tiny",
            "--classes",
            "0,cyan_diamond",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    index = (out / "index.html").read_text()
    assert index.count("class='card'") == 2 and "cyan_diamond" in index
    for slug in (0, 5):
        assert (out / "classes" / f"{slug:05d}" / "index.html").exists()
    assert "seconds per stage" in result.stdout and "maco_concepts" in result.stdout
    assert str((out / "index.html").resolve()) in result.stdout
    for noise in ("I0000", "E0000", "oneDNN", "cuda", "XLA"):
        assert noise not in result.stdout + result.stderr


def test_presets():
    assert LensOptions.preset("default") == LensOptions()
    tiny, paper = LensOptions.preset("tiny"), LensOptions.preset("paper")
    assert tiny.maco_steps < LensOptions().maco_steps < paper.maco_steps
    assert LensOptions.preset("fast", seed=3).seed == 3
    with pytest.raises(ValueError, match="name"):
        LensOptions.preset("quick")
    with pytest.raises(TypeError, match="maco_stepz"):
        LensOptions.preset("fast", maco_stepz=3)


def test_build_requires_inputs(tmp_path):
    with pytest.raises(SystemExit, match="--model"):
        main(["build", "--out", str(tmp_path)])


def test_parse_value_range():
    import argparse

    from xplique_lens.cli import parse_value_range

    assert parse_value_range("0,255") == (0.0, 255.0)
    with pytest.raises(argparse.ArgumentTypeError, match="LOW < HIGH"):
        parse_value_range("1,0")
    with pytest.raises(argparse.ArgumentTypeError, match="LOW,HIGH"):
        parse_value_range("0;1")


def test_bad_option_flag_is_a_clean_error(tmp_path):
    """Options are checked when made, before the model is loaded."""
    common = ["build", "--model", "missing.keras", "--images", "x.npz", "--layer", "c"]
    with pytest.raises(SystemExit, match="maco_steps"):
        main([*common, "--out", str(tmp_path), "--maco-steps", "0"])
