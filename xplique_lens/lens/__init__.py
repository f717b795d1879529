"""The Lens: a static web report of a whole model, class by class."""

from .builder import BuildReport, build_lens, merge_lens, parse_shard
from .options import LensOptions

__all__ = ["BuildReport", "LensOptions", "build_lens", "merge_lens", "parse_shard"]
