import pytest

from xplique_lens import __version__
from xplique_lens.cli import main


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
def test_demo_end_to_end(tmp_path, capsys, reference_model):
    out = tmp_path / "site"
    small = ["--images-per-class", "4", "--nb-concepts", "3", "--maco-steps", "4"]
    assert main(["demo", "--out", str(out), *small, "--maco-size", "32", "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    index = (out / "index.html").read_text()
    assert index.count("class='card'") == 6
    for slug in range(6):
        assert (out / "classes" / f"{slug:05d}" / "index.html").exists()


def test_build_requires_inputs(tmp_path):
    with pytest.raises(SystemExit, match="--model"):
        main(["build", "--out", str(tmp_path)])
