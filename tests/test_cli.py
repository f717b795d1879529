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
    assert main(["demo", "--out", str(tmp_path / "site"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert (tmp_path / "site" / "saliency.png").stat().st_size > 10_000
    summary = (tmp_path / "site" / "summary.txt").read_text()
    accuracy = float(summary.split("accuracy on these images: ")[1].split()[0])
    assert accuracy >= 0.9
