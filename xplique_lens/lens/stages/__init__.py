"""The stages of a Lens class page: each computes arrays from the class's images.

A stage declares the settings it reads as a small options dataclass (e.g. :class:`MacoOptions`)
and the stages it needs; the builder keys its cache on exactly those settings plus a hash of
the stage's code (:mod:`xplique_lens.lens.code_hash`), so changing e.g. ``maco_steps``
recomputes only the MACO stages, and changing a stage's code recomputes it without any
version number to bump.

The stages, in the order they run, with their options and the stages they read:

- ``overview``: :class:`OverviewOptions`;
- ``attributions``: :class:`AttributionOptions`;
- ``maco_class``: :class:`MacoOptions`;
- ``concepts``: :class:`ConceptOptions`;
- ``maco_concepts``: :class:`MacoOptions`, reads ``concepts``;
- ``cluster_graph``: :class:`ClusterGraphOptions`, reads ``concepts``;
- ``metrics``: :class:`MetricOptions`.
"""

from .attributions import AttributionOptions, compute_attributions
from .cluster_graph import ClusterGraphOptions, compute_cluster_graph
from .concepts import ConceptOptions, compute_concepts
from .context import ClassContext
from .maco import MacoOptions, compute_maco_class, compute_maco_concepts
from .metrics import MetricOptions, compute_metrics
from .overview import OverviewOptions, compute_overview
from .stage import Stage, stage_keys

#: The stages of a class page, in the order they run.
STAGES: list[Stage] = [
    Stage("overview", compute_overview, OverviewOptions),
    Stage("attributions", compute_attributions, AttributionOptions),
    Stage("maco_class", compute_maco_class, MacoOptions),
    Stage("concepts", compute_concepts, ConceptOptions),
    Stage("maco_concepts", compute_maco_concepts, MacoOptions, needs=("concepts",)),
    Stage("cluster_graph", compute_cluster_graph, ClusterGraphOptions, needs=("concepts",)),
    Stage("metrics", compute_metrics, MetricOptions),
]

__all__ = [
    "STAGES",
    "AttributionOptions",
    "ClassContext",
    "ClusterGraphOptions",
    "ConceptOptions",
    "MacoOptions",
    "MetricOptions",
    "OverviewOptions",
    "Stage",
    "stage_keys",
]
