"""Execute every tutorial notebook, offline, with small settings.

Notebooks read ``XPLIQUE_LENS_TUTORIAL_SMALL`` (set to "1" here) to shrink their workloads.
They run one after the other in one kernel, which starts and imports TensorFlow once; each
starts from an empty namespace (``%reset -f``), so a notebook that forgets an import still
fails.
"""

import base64
import os
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).parents[1] / "tutorials").glob("*.ipynb"))


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    pytest.importorskip("nbclient")
    from jupyter_client.manager import KernelManager

    env = dict(
        os.environ,
        XPLIQUE_LENS_TUTORIAL_SMALL="1",
        # the inline backend, as in Jupyter: figures become image/png outputs to check
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env, cwd=str(tmp_path_factory.mktemp("tutorials")))
    yield manager
    manager.shutdown_kernel(now=True)


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(path, kernel):
    nbformat = pytest.importorskip("nbformat")
    import nbclient

    notebook = nbformat.read(path, as_version=4)
    reset = nbformat.v4.new_code_cell(
        "%reset -f\nimport matplotlib.pyplot\nmatplotlib.pyplot.close('all')"
    )
    notebook.cells.insert(0, reset)
    client = nbclient.NotebookClient(notebook, km=kernel, timeout=600)
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    code_cells = [cell for cell in notebook.cells[1:] if cell.cell_type == "code"]
    assert code_cells and all(cell.execution_count for cell in code_cells)
    outputs = [output for cell in code_cells for output in cell.get("outputs", [])]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} drew no figure"
    for figure in figures:  # a real picture, not an empty canvas
        assert len(base64.b64decode(figure["data"]["image/png"])) > 2000
