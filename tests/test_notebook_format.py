"""Every tutorial is Colab-ready and stored executed (fast: reads the files, runs nothing).

- its first cell is the "Open in Colab" badge of its own path in the repository of
  ``setup.cfg``'s ``url``, its second cell installs the package from there when it is missing;
- it was saved after one run from top to bottom: every code cell has outputs, no error, figures;
- its figures are small (all notebooks together under 3 MB);
- ``tools/notebooks.py stamp`` follows a change of ``url`` (a move is one edit, one command).

``tests/test_tutorials.py`` executes the notebooks (in memory, small mode).
"""

import configparser
import copy
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "tutorials").glob("*.ipynb"))
ids = [p.stem for p in NOTEBOOKS]


def _load_tool():
    spec = importlib.util.spec_from_file_location("notebooks_tool", ROOT / "tools" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def _url() -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg")
    return parser["metadata"]["url"]


def tool_read(path: Path):
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(path, as_version=4)


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def test_repository_url_is_a_github_repository():
    url = _url()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    assert tool.repository_url() == url


def test_the_six_tutorials_and_the_quick_start_are_there():
    expected = {"attributions", "craft", "feature_visualization", "holistic_concepts"}
    expected |= {"metrics_and_baselines", "stability_metrics", "quickstart"}
    assert expected <= set(ids)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_first_cell_is_the_colab_badge_of_this_notebook(path):
    cell = _read(path)["cells"][0]
    assert cell["cell_type"] == "markdown"
    owner_repo = _url().removeprefix("https://github.com/")
    colab = "https://colab.research.google.com/github"
    link = f"{colab}/{owner_repo}/blob/main/tutorials/{path.name}"
    badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})"
    assert _source(cell).splitlines()[0] == badge


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_second_cell_installs_the_package_when_missing(path):
    cell = _read(path)["cells"][1]
    assert cell["cell_type"] == "code"
    lines = _source(cell).splitlines()
    start = lines.index("try:")
    assert lines[start + 1] == "    import xplique_lens"
    assert lines[start + 2] == "except ImportError:"
    assert lines[start + 3] == f"    %pip install -q git+{_url()}.git"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_stamped_cells_are_up_to_date(path):
    notebook = _read(path)
    small = notebook["metadata"].get("xplique_lens", {}).get("outputs_mode") == "small"
    assert _source(notebook["cells"][0]) == tool.badge_source(path, small)
    assert _source(notebook["cells"][1]) == tool.install_source()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_saved_after_one_run_with_outputs_in_every_code_cell(path):
    notebook = _read(path)
    mode = notebook["metadata"].get("xplique_lens", {}).get("outputs_mode")
    assert mode in ("full", "small"), "run it with tools/notebooks.py execute"
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code] == list(range(1, len(code) + 1))
    for number, cell in enumerate(code, 1):
        assert cell["outputs"], f"code cell {number} of {path.name} has no output"
        for output in cell["outputs"]:
            assert output["output_type"] != "error", f"code cell {number}: {output['ename']}"
    figures = [o for c in code for o in c["outputs"] if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} stores no figure"
    noted = "small mode" in _source(notebook["cells"][0])
    assert noted == (mode == "small"), "the first cell says whether outputs are from small mode"


def test_all_notebooks_together_stay_small():
    total = sum(path.stat().st_size for path in NOTEBOOKS)
    assert total < 3_000_000, f"{total / 1e6:.2f} MB: run tools/notebooks.py shrink"


def test_stamp_follows_the_repository_url(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    path = ROOT / "tutorials" / "quickstart.ipynb"
    notebook = nbformat.read(path, as_version=4)
    original = copy.deepcopy(notebook)
    url = "https://github.com/someone/elsewhere"
    tool.stamp(notebook, path, url)
    assert "github/someone/elsewhere/blob/main/tutorials/quickstart.ipynb" in (
        notebook.cells[0].source
    )
    assert "%pip install -q git+https://github.com/someone/elsewhere.git" in (
        notebook.cells[1].source
    )
    assert notebook.cells[2:] == original.cells[2:]  # the tutorial itself is untouched
    tool.stamp(notebook, path)  # back to setup.cfg's url: the stored notebook again
    assert nbformat.writes(notebook) == nbformat.writes(original)


def test_repository_url_must_be_on_github(tmp_path):
    setup_cfg = tmp_path / "setup.cfg"
    setup_cfg.write_text("[metadata]\nurl = https://example.org/someone/elsewhere\n")
    with pytest.raises(ValueError, match="github.com"):
        tool.repository_url(setup_cfg)


def test_the_docs_list_every_tutorial():
    assert "{{ tutorials_table }}" in (ROOT / "docs" / "tutorials.md").read_text(encoding="utf-8")
    table = tool.tutorials_table().splitlines()
    assert len(table) == 2 + len(NOTEBOOKS)
    for path, row in zip(NOTEBOOKS, table[2:]):
        assert row.startswith(f"| `{path.name}` | ") and tool.colab_url(path) in row
        assert ("small-mode run" in row) == tool.is_small(tool_read(path))
