"""Griffe extension (mkdocs.yml): Sphinx roles in docstrings shown as plain code.

The docstrings name other objects the Sphinx way, ``:func:`sobol_explain``` or
``:class:`~xplique_lens.commons.find_layer```; Markdown would show the role itself. This turns
each into inline code of the name (the last dotted part when the target starts with ``~``).
"""

from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|obj|exc|const):`(~?)([^`]+)`")


def _name(match: re.Match) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`target``` into ```target``` in every docstring."""

    def on_object(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = _ROLE.sub(_name, obj.docstring.value)
