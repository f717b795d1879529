"""Keep the tutorial notebooks Colab-ready: badge, install cell, stored outputs, small figures.

The repository URL is written once, as ``url`` in the ``[metadata]`` of ``setup.cfg``. Every
notebook of ``tutorials/`` starts with two cells made from it:

1. a markdown cell with the "Open in Colab" badge of the notebook's own path (and, when its
   stored outputs come from a small-mode run, a note that says so);
2. a code cell that installs the package from the repository when it is missing (Colab, a
   fresh environment), then prints its version.

After a move of the repository, edit ``url`` in ``setup.cfg`` and run::

    .venv/bin/python tools/notebooks.py stamp

which refreshes those two cells in every notebook (the other cells and their outputs are kept).
To refresh the stored outputs::

    nice -n 10 .venv/bin/python tools/notebooks.py execute [NAME ...] [--small NAME ...]

runs the notebooks (all by default; NAME is the file stem) one by one in a fresh kernel, in full
mode unless listed after ``--small`` (then ``XPLIQUE_LENS_TUTORIAL_SMALL=1``, recorded in the
notebook's metadata and stated in its first cell), stamps them, shrinks their figures and saves
them. ``shrink`` alone recompresses the stored figures and cleans the stored streams (progress
bars, TensorFlow's start-up log). ``figures`` exports the figures of the documentation site
(``FIGURES``) into ``docs/img``. ``tests/test_notebook_format.py`` checks that every notebook is
stamped, executed and small.
"""

from __future__ import annotations

import argparse
import base64
import configparser
import io
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
BRANCH = "main"
#: Cell metadata key marking the cells this script owns (their content is regenerated).
KEY = "xplique_lens"
#: Stored figures wider than this many pixels are downscaled (then palette-quantised).
MAX_FIGURE_WIDTH = 900
#: Figures of the documentation site (docs/img/NAME): (notebook stem, index of the figure among
#: the notebook's stored figures), exported by ``figures``.
FIGURES = {
    "quickstart_sobol.png": ("quickstart", 0),
    "quickstart_maco.png": ("quickstart", 1),
    "quickstart_craft.png": ("quickstart", 2),
    "attributions_comparison.png": ("attributions", 0),
    "maco_classes.png": ("feature_visualization", 1),
    "fourier_classes.png": ("feature_visualization", 6),
    "craft_crops.png": ("craft", 1),
    "extractors.png": ("holistic_concepts", 0),
    "cluster_graph.png": ("holistic_concepts", 1),
    "fidelity_curves.png": ("metrics_and_baselines", 0),
    "baselines.png": ("metrics_and_baselines", 1),
    "baseline_tradeoff.png": ("metrics_and_baselines", 2),
    "mege_distances.png": ("stability_metrics", 0),
}


def repository_url(setup_cfg: Path = ROOT / "setup.cfg") -> str:
    """The GitHub URL of the repository: ``url`` in the ``[metadata]`` of ``setup.cfg``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(setup_cfg)
    url = parser.get("metadata", "url", fallback="").strip()
    parts = urlparse(url)
    if parts.netloc != "github.com" or len(parts.path.strip("/").split("/")) != 2:
        raise ValueError(
            f"setup.cfg [metadata] url must be https://github.com/OWNER/REPO (Colab opens "
            f"notebooks from GitHub), got {url!r}"
        )
    return url.rstrip("/").removesuffix(".git")


def owner_repo(url: str | None = None) -> str:
    """``"OWNER/REPO"`` of the repository URL."""
    return urlparse(url or repository_url()).path.strip("/")


def colab_url(notebook: str | Path, url: str | None = None) -> str:
    """The Colab address that opens ``tutorials/<notebook>.ipynb`` of the main branch."""
    name = Path(notebook).stem
    return (
        f"https://colab.research.google.com/github/{owner_repo(url)}/blob/{BRANCH}/"
        f"tutorials/{name}.ipynb"
    )


def badge_source(notebook: str | Path, small: bool = False, url: str | None = None) -> str:
    """Source of the first (markdown) cell: the badge, plus the small-mode note if ``small``."""
    badge = (
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_url(notebook, url)})"
    )
    if small:
        badge += (
            "\n\n> **Note**: the outputs stored in this notebook come from a run in small mode "
            "(`XPLIQUE_LENS_TUTORIAL_SMALL=1`: fewer images and samples, shorter "
            "optimisations), because the full run takes too long on a 2-core CPU. Unset the "
            "variable (the default) for the full run."
        )
    return badge


def install_source(url: str | None = None) -> str:
    """Source of the second (code) cell: install the package when it is missing."""
    url = url or repository_url()
    return (
        "# Installs xplique_lens when it is missing (Colab, a fresh environment).\n"
        "try:\n"
        "    import xplique_lens\n"
        "except ImportError:\n"
        f"    %pip install -q git+{url}.git\n"
        "    import xplique_lens\n"
        "%config InlineBackend.figure_format = 'png'\n"
        'print("xplique_lens", xplique_lens.__version__)'
    )


def is_small(notebook) -> bool:
    """Whether the stored outputs of ``notebook`` come from a small-mode run."""
    return notebook.metadata.get(KEY, {}).get("outputs_mode") == "small"


def _owned(cell, role: str) -> bool:
    if cell.metadata.get(KEY) == role:
        return True
    # a cell that lost its metadata (edited elsewhere) is still recognised by its content
    if role == "badge":
        return cell.cell_type == "markdown" and "colab-badge.svg" in cell.source
    return (
        cell.cell_type == "code"
        and "%pip install" in cell.source
        and "xplique_lens" in (cell.source)
    )


def stamp(notebook, path: Path, url: str | None = None):
    """Put the badge and install cells first in ``notebook`` (in place), from ``url``."""
    import nbformat

    url = url or repository_url()
    cells = list(notebook.cells)
    badge = next((c for c in cells[:3] if _owned(c, "badge")), None)
    install = next((c for c in cells[:3] if _owned(c, "install")), None)
    rest = [c for c in cells if c is not badge and c is not install]
    if badge is None:
        badge = nbformat.v4.new_markdown_cell()
    if install is None:
        install = nbformat.v4.new_code_cell()
    badge.source = badge_source(path, is_small(notebook), url)
    badge.metadata[KEY] = "badge"
    install.source = install_source(url)
    install.metadata[KEY] = "install"
    notebook.cells = [badge, install, *rest]
    # nbformat 4.5: every cell has an id; ours are fixed so that stamping is idempotent
    notebook.nbformat, notebook.nbformat_minor = 4, max(5, notebook.get("nbformat_minor", 0))
    badge.id, install.id = "colab-badge", "colab-install"
    for cell in rest:
        if not cell.get("id"):
            cell.id = nbformat.v4.nbbase.random_cell_id()
    notebook.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    return notebook


def shrink_png(data: str, max_width: int = MAX_FIGURE_WIDTH) -> str:
    """Recompress one base64 PNG: downscale past ``max_width``, palette, optimise."""
    from PIL import Image

    raw = base64.b64decode(data)
    image = Image.open(io.BytesIO(raw))
    image.load()
    if image.width > max_width:
        height = round(image.height * max_width / image.width)
        image = image.resize((max_width, height), Image.Resampling.LANCZOS)
    if image.mode != "P":
        image = image.convert("RGBA").quantize(256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() >= len(raw):
        return data
    return base64.b64encode(buffer.getvalue()).decode("ascii")


#: stderr lines that say nothing about the tutorial: TensorFlow's C++ start-up log (printed
#: whatever TF_CPP_MIN_LOG_LEVEL) and tqdm's notice that ipywidgets is missing
NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IWE]\d{4} [\d:.]+ +\d+ \S+:\d+\]"
    r"|.*TqdmWarning: IProgress not found"
    r"|  from \.autonotebook import tqdm as notebook_tqdm)"
)


def clean_stream(text: str) -> str:
    """What a terminal would show of ``text``: progress bars resolved (the part of each line
    after its last carriage return), blank lines and start-up noise dropped, and this checkout's
    path removed from warnings."""
    lines = []
    for line in text.split("\n"):
        line = line.rsplit("\r", 1)[-1]
        if line.strip() and not NOISE.match(line):
            lines.append(line.replace(f"{ROOT}/", ""))
    return "".join(f"{line}\n" for line in lines)


def shrink(notebook):
    """Recompress the stored figures and clean the streams of ``notebook`` (in place).

    Consecutive outputs of the same stream are merged (a progress bar is one output per update)
    and cleaned by :func:`clean_stream`; an output left empty is dropped.
    """
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.outputs:
            if "image/png" in output.get("data", {}):
                output["data"]["image/png"] = shrink_png(output["data"]["image/png"])
            previous = outputs[-1] if outputs else {}
            if output.get("output_type") == previous.get("output_type") == "stream" and output.get(
                "name"
            ) == previous.get("name"):
                previous["text"] += output["text"]
                continue
            outputs.append(output)
        for output in outputs:
            if output.get("output_type") == "stream":
                output["text"] = clean_stream(output["text"])
        cell.outputs = [o for o in outputs if o.get("output_type") != "stream" or o["text"]]
    return notebook


def execute(path: Path, small: bool, timeout: int = 1800):
    """Run ``path`` in a fresh kernel (full or small mode); return the executed notebook."""
    import nbclient
    import nbformat
    from jupyter_client.manager import KernelManager

    notebook = nbformat.read(path, as_version=4)
    notebook.metadata[KEY] = {"outputs_mode": "small" if small else "full"}
    stamp(notebook, path)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    env.pop("XPLIQUE_LENS_TUTORIAL_SMALL", None)
    env.pop("MPLBACKEND", None)
    if small:
        env["XPLIQUE_LENS_TUTORIAL_SMALL"] = "1"
    with tempfile.TemporaryDirectory(prefix="xplique_lens_notebook_") as cwd:
        manager = KernelManager(kernel_name="python3")
        manager.start_kernel(env=env, cwd=cwd)
        try:
            client = nbclient.NotebookClient(
                notebook, km=manager, timeout=timeout, record_timing=False
            )
            client.execute()
        finally:
            manager.shutdown_kernel(now=True)
    return notebook


def export_figures(folder: Path = ROOT / "docs" / "img", max_width: int = 800) -> list[Path]:
    """Write the stored figures listed in ``FIGURES`` into ``folder`` (the docs' images)."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    stored: dict[str, list[str]] = {}
    written = []
    for name, (stem, index) in FIGURES.items():
        if stem not in stored:
            notebook = nbformat.read(TUTORIALS / f"{stem}.ipynb", as_version=4)
            stored[stem] = [
                output["data"]["image/png"]
                for cell in notebook.cells
                if cell.cell_type == "code"
                for output in cell.outputs
                if "image/png" in output.get("data", {})
            ]
        if index >= len(stored[stem]):
            raise SystemExit(f"{stem}.ipynb stores {len(stored[stem])} figures, no figure {index}")
        path = folder / name
        path.write_bytes(base64.b64decode(shrink_png(stored[stem][index], max_width)))
        written.append(path)
    return written


def title(notebook) -> str:
    """The notebook's title: its first markdown heading after the badge, without the ``#``."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.metadata.get(KEY) != "badge":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return ""


def tutorials_table(url: str | None = None) -> str:
    """Markdown table of every notebook of ``tutorials/``: name, title, Colab badge.

    The documentation's tutorials page is made of it (``docs/hooks.py``), so a new notebook
    appears there without an edit.
    """
    import nbformat

    rows = ["| notebook | what | open |", "|---|---|---|"]
    for path in notebooks():
        notebook = nbformat.read(path, as_version=4)
        what = title(notebook).replace("|", "\\|")
        if is_small(notebook):
            what += " (outputs stored from a small-mode run)"
        badge = badge_source(path, url=url)
        rows.append(f"| `{path.name}` | {what} | {badge} |")
    return "\n".join(rows)


def notebooks(names: list[str] | None = None) -> list[Path]:
    paths = sorted(TUTORIALS.glob("*.ipynb"))
    if names:
        known = {p.stem: p for p in paths}
        missing = sorted(set(names) - set(known))
        if missing:
            raise SystemExit(f"no such notebook in tutorials/: {', '.join(missing)}")
        paths = [known[n] for n in names]
    return paths


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("stamp", help="refresh the badge and install cells from setup.cfg's url")
    commands.add_parser("shrink", help="recompress the stored figures, clean the streams")
    commands.add_parser("figures", help="export the figures of the docs into docs/img")
    run = commands.add_parser("execute", help="run notebooks and save them with their outputs")
    run.add_argument("names", nargs="*", help="notebook stems (default: all)")
    run.add_argument("--small", nargs="*", default=[], help="stems to run in small mode")
    run.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args(argv)

    if args.command == "figures":
        for path in export_figures():
            print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1e3:.0f} kB)")
        return 0
    if args.command == "execute":
        for path in notebooks(args.names or None):
            small = path.stem in args.small
            start = time.perf_counter()
            notebook = shrink(execute(path, small, args.timeout))
            nbformat.write(notebook, path)
            print(
                f"{path.name}: {'small' if small else 'full'} mode, "
                f"{time.perf_counter() - start:.0f} s, {path.stat().st_size / 1e3:.0f} kB",
                flush=True,
            )
        return 0
    for path in notebooks():
        notebook = nbformat.read(path, as_version=4)
        before = nbformat.writes(notebook)
        if args.command == "stamp":
            stamp(notebook, path)
        else:
            shrink(notebook)
        if nbformat.writes(notebook) != before:
            nbformat.write(notebook, path)
            print(f"updated {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
