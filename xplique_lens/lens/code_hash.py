"""What a Lens stage's cache key knows of its code: a hash of the code it runs.

A stage's results depend on its options, its inputs and its code. The code part is hashed
here, so that a cache made by an older version of a stage is recomputed without anyone
bumping a version number by hand. What is hashed, for a stage function ``run``:

- the module that defines ``run`` (one stage per module in :mod:`xplique_lens.lens.stages`);
- every ``xplique_lens`` module it imports, transitively, wherever the import stands (module
  top or inside a function): the library code the stage calls (``Craft``, ``maco``, the
  metrics, ``commons``...).

Each module counts by its syntax tree without docstrings (``ast.dump``), so comments,
docstrings and formatting do not invalidate a cache, while any change of code does.
Third-party libraries (TensorFlow, scikit-learn...) are not hashed. The hash is conservative:
a change in a module a stage imports recomputes the stage even when the change does not touch
what the stage uses.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

#: The package whose modules are followed through imports.
PACKAGE = __name__.split(".")[0]
#: Folder of that package.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def module_file(name: str) -> Path | None:
    """Source file of the ``xplique_lens`` module ``name`` (``None``: not a package module)."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` without the docstrings of its module, classes and functions (in place)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            if isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _imported(tree: ast.AST, name: str, is_package: bool) -> set[str]:
    """The ``xplique_lens`` modules that the module ``name`` imports anywhere in ``tree``."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            # ``from package import module`` imports a module, not only a name
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {module for module in found if module_file(module) is not None}


@cache
def _parse(name: str) -> tuple[str, frozenset[str]]:
    """The docstring-free syntax tree of a package module (as text) and what it imports."""
    path = module_file(name)
    if path is None:
        raise ValueError(f"`name` must be a module of {PACKAGE}, got {name!r}.")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imports = _imported(tree, name, path.name == "__init__.py")
    return ast.dump(_strip_docstrings(tree)), frozenset(imports)


def module_closure(name: str) -> list[str]:
    """``name`` and every ``xplique_lens`` module it imports, transitively, sorted."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or module_file(current) is None:
            continue
        seen.add(current)
        todo.extend(_parse(current)[1])
    return sorted(seen)


@cache
def module_fingerprint(name: str) -> str:
    """Hash of the code of the package module ``name`` and of the package modules it imports,
    transitively (docstrings, comments and formatting excluded)."""
    if module_file(name) is None:
        raise ValueError(f"`name` must be a module of {PACKAGE}, got {name!r}.")
    digest = hashlib.sha1()
    for module in module_closure(name):
        digest.update(module.encode())
        digest.update(_parse(module)[0].encode())
    return digest.hexdigest()[:16]


def code_fingerprint(function: Callable) -> str:
    """Hash of the code ``function`` runs (see the module docstring for what counts).

    Parameters
    ----------
    function
        A stage function. Defined in a module of ``xplique_lens``: that module and the package
        modules it imports are hashed. Defined elsewhere (a user's own stage): the source of
        the function itself, with the package modules its module imports.

    Returns
    -------
    str
        A short hexadecimal hash.
    """
    if not callable(function):
        raise TypeError(f"`function` must be callable, got {function!r}.")
    name = getattr(function, "__module__", None) or ""
    if module_file(name) is not None:
        return module_fingerprint(name)
    digest = hashlib.sha1(getattr(function, "__qualname__", repr(function)).encode())
    try:
        digest.update(inspect.getsource(function).encode())
    except (OSError, TypeError):  # no source (built-in, interactive): its name only
        pass
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if path is not None and Path(path).is_file():
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        for imported in sorted(_imported(tree, name, Path(path).name == "__init__.py")):
            digest.update(module_fingerprint(imported).encode())
    return digest.hexdigest()[:16]
