"""A stage of a Lens class page: a computation, the settings it reads, and its cache key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

from ..code_hash import code_fingerprint
from ..options import LensOptions, stage_options
from ..store import fingerprint
from .context import ClassContext


@dataclass(frozen=True)
class Stage:
    """A named computation of a class page with what its cache key depends on.

    Parameters
    ----------
    name
        Name of the stage (of its cache file, and of its results for the stages after it).
    run
        ``run(ctx, upstream) -> dict`` of arrays; ``ctx.options`` is an ``options`` object and
        ``upstream`` maps the names in ``needs`` to their results.
    options
        A dataclass type whose fields are the :class:`~xplique_lens.lens.LensOptions` fields
        the stage reads; the stage sees nothing else, so its cache key cannot miss a setting.
    needs
        Names of the stages whose results ``run`` reads (computed before it).

    Notes
    -----
    The cache key of a stage (:meth:`key`) hashes its name, the values of its options, the
    hash of its code (:func:`~xplique_lens.lens.code_hash.code_fingerprint`: the module of
    ``run`` and the ``xplique_lens`` modules it imports), what the class's computations start
    from (model weights, layer, class, images) and the keys of the stages it needs. No list of
    option names and no version number is kept by hand.
    """

    name: str
    run: Callable[[ClassContext, dict], dict]
    options: type
    needs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"`name` must be a non-empty str, got {self.name!r}.")
        if not callable(self.run):
            raise TypeError(f"`run` must be callable, got {self.run!r}.")
        if not isinstance(self.options, type) or not is_dataclass(self.options):
            raise TypeError(f"`options` must be a dataclass type, got {self.options!r}.")
        if isinstance(self.needs, str) or not all(isinstance(n, str) for n in self.needs):
            raise TypeError(f"`needs` must be a tuple of stage names, got {self.needs!r}.")
        object.__setattr__(self, "needs", tuple(self.needs))

    def options_of(self, options: LensOptions) -> Any:
        """The settings this stage reads, out of the build's ``options``."""
        return stage_options(options, self.options)

    @property
    def code(self) -> str:
        """Hash of the code this stage runs (see :mod:`xplique_lens.lens.code_hash`)."""
        return code_fingerprint(self.run)

    def key(self, options: LensOptions, context_key: str, upstream_keys: Sequence[str]) -> str:
        """The cache key of this stage.

        Parameters
        ----------
        options
            The settings of the build (only this stage's fields count).
        context_key
            Hash of what the class's computations start from (model, layer, class, images).
        upstream_keys
            Keys of the stages in ``needs``, in that order.
        """
        return fingerprint(
            self.name,
            self.code,
            asdict(self.options_of(options)),
            context_key,
            list(upstream_keys),
        )


def stage_keys(stages: Sequence[Stage], options: LensOptions, context_key: str) -> dict[str, str]:
    """The cache key of every stage of ``stages`` (in order: a stage after those it needs).

    Parameters
    ----------
    stages
        The stages of a class page, e.g. :data:`~xplique_lens.lens.stages.STAGES`.
    options
        The settings of the build.
    context_key
        Hash of what the class's computations start from (model, layer, class, images).

    Returns
    -------
    dict
        Stage name to cache key.

    Raises
    ------
    ValueError
        If a stage needs a stage that does not come before it.
    """
    keys: dict[str, str] = {}
    for stage in stages:
        missing = [name for name in stage.needs if name not in keys]
        if missing:
            raise ValueError(
                f"stage {stage.name!r} needs {missing}, which must come before it in `stages`."
            )
        keys[stage.name] = stage.key(options, context_key, [keys[n] for n in stage.needs])
    return keys
