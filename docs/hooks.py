"""MkDocs hooks (``mkdocs.yml``: ``hooks``): the repository URL comes from ``setup.cfg`` only.

- ``repo_url`` / ``repo_name`` are set from ``url`` in the ``[metadata]`` of ``setup.cfg`` (the
  same source as the tutorials' Colab badges, ``tools/notebooks.py``);
- in a page, ``{{ colab:NAME }}`` becomes the "Open in Colab" badge of ``tutorials/NAME.ipynb``
  (an unknown notebook fails the build), ``{{ repo }}`` the repository URL,
  ``{{ tutorials_table }}`` the table of every notebook (``tools/notebooks.py``) and
  ``{{ cli_help }}`` the ``--help`` of ``xplique-lens`` and of each of its commands, from the
  parser itself (``xplique_lens.cli.build_parser``), so the page never goes stale;
- ``porting.md`` ("Porting from Xplique") is put in the navigation when it exists.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[1]
_TOKEN = re.compile(
    r"\{\{\s*(colab:\s*(?P<name>[\w-]+)|(?P<word>repo|cli_help|tutorials_table))\s*\}\}"
)


def _notebooks_tool():
    spec = importlib.util.spec_from_file_location("notebooks", ROOT / "tools" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TOOL = _notebooks_tool()


def on_config(config, **kwargs):
    url = _TOOL.repository_url()
    config["repo_url"] = url
    config["repo_name"] = _TOOL.owner_repo(url)
    if (Path(config["docs_dir"]) / "porting.md").exists():
        entry = {"Porting from Xplique": "porting.md"}
        nav = config["nav"]
        at = next((i for i, item in enumerate(nav) if "Benchmarks" in item), len(nav))
        if entry not in nav:
            nav.insert(at, entry)
    return config


def _cli_help() -> str:
    sys.path.insert(0, str(ROOT))
    try:
        from xplique_lens.cli import build_parser
    finally:
        sys.path.remove(str(ROOT))
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: a fixed width here
    try:
        parser = build_parser()
        commands = next(
            a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
        ).choices
        blocks = [("xplique-lens --help", parser.format_help())]
        blocks += [(f"xplique-lens {n} --help", p.format_help()) for n, p in commands.items()]
    finally:
        if saved is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = saved
    return "\n".join(f"### `{title}`\n\n```text\n{text.rstrip()}\n```\n" for title, text in blocks)


def on_page_markdown(markdown, page, **kwargs):
    def replace(match):
        name = match.group("name")
        if match.group("word") == "repo":
            return _TOOL.repository_url()
        if match.group("word") == "cli_help":
            return _cli_help()
        if match.group("word") == "tutorials_table":
            return _TOOL.tutorials_table()
        if not (ROOT / "tutorials" / f"{name}.ipynb").exists():
            raise PluginError(f"{page.file.src_path}: no tutorials/{name}.ipynb for colab:{name}")
        return (
            "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({_TOOL.colab_url(name)})"
        )

    return _TOKEN.sub(replace, markdown)
