"""Execute every tutorial notebook, offline, with small settings.

Notebooks read ``XPLIQUE_LENS_TUTORIAL_SMALL`` (set to "1" here) to shrink their workloads.
"""

import base64
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parents[1] / "tutorials").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("XPLIQUE_LENS_TUTORIAL_SMALL", "1")
    # the inline backend, as in Jupyter: figures become image/png outputs the test can check
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells and all(cell.execution_count for cell in code_cells)
    outputs = [output for cell in code_cells for output in cell.get("outputs", [])]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} drew no figure"
    for figure in figures:  # a real picture, not an empty canvas
        assert len(base64.b64decode(figure["data"]["image/png"])) > 2000
