"""The two criteria of a good baseline, and the comparison of explainers across baselines.

A baseline should (1) remove the information the model uses: along the deletion path, the sum
of the sigmoid of the target logit goes down (:func:`information_removal`, lower is better), and
(2) stay in distribution: the perturbed images stay close, in the penultimate features, to real
images (:func:`ood_score`, the mean k-NN distance to a bank of real images, lower is better).
:func:`compare_baselines` scores explainers with Deletion, Insertion and SRG = Insertion -
Deletion under each baseline, next to the baseline's criteria: the ranking of explainers changes
with the baseline.

Ref. Picard, Boissin, Subhash, Cadène, Fel, *Back to the Baseline: Examining Baseline Effects on
Explainability Metrics* (2025), arXiv 2512.11433.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.batching import batch_slices
from ..commons.inputs import sanitize_for_model
from ..commons.model_splitting import split_model
from ..commons.stats import knn_distances
from ..commons.tf_functions import make_forward_function
from ..commons.validation import check_batch_size, check_positive_int, check_seed, to_float_tensor
from .fidelity import Deletion, Insertion
from .perturbation import random_key


def random_explanations(inputs: tf.Tensor, seed: int | None = 0) -> tf.Tensor:
    """Uniform random scores ``(N, H, W)``: a random deletion order, explainer-independent.

    Drawn from :func:`~xplique_lens.metrics.perturbation.random_key` ``(seed, 0)``; ``None``
    draws fresh randomness.
    """
    shape = (inputs.shape[0], *inputs.shape[1:3]) if inputs.shape.rank == 4 else inputs.shape
    return tf.random.stateless_uniform(shape, random_key(seed))


def baseline_name(baseline_mode: Any) -> str:
    """A readable name for a baseline (a name, a number, a function, a partial or an object)."""
    if isinstance(baseline_mode, str):
        return baseline_mode
    if isinstance(baseline_mode, int | float):
        return f"constant {baseline_mode:g}"
    if isinstance(baseline_mode, functools.partial):
        args = ", ".join(f"{k}={v}" for k, v in baseline_mode.keywords.items())
        return f"{baseline_name(baseline_mode.func)}({args})"
    name = getattr(baseline_mode, "__name__", type(baseline_mode).__name__)
    return name.removesuffix("_baseline")


class BaselineCriteria:
    """Evaluates baselines against the two criteria, on fixed inputs and a fixed bank.

    Parameters
    ----------
    model
        Keras model returning logits.
    inputs
        Images ``(N, H, W, C)`` whose deletion paths are examined.
    targets
        One-hot or labels; ``None`` for the predicted classes.
    bank
        Real images the perturbed ones are compared to (``None``: ``inputs``; give held-out
        images for an unbiased figure).
    layer
        Penultimate layer (name or index) whose flattened activations are the features.
    k
        Number of nearest neighbours averaged.
    steps
        Points of the deletion path (as in :class:`~xplique_lens.metrics.Deletion`).
    batch_size
        Forward passes at once.
    seed : int or None, default 0
        Seed of the random deletion order used when no explanations are given; None draws
        fresh randomness.
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any = None,
        bank: Any = None,
        layer: str | int = -2,
        k: int = 1,
        steps: int = 10,
        batch_size: int | None = 64,
        seed: int | None = 0,
    ):
        if isinstance(steps, bool) or not isinstance(steps, int) or (steps < 1 and steps != -1):
            raise ValueError(f"`steps` must be a positive integer or -1, got {steps!r}.")
        self.model = model
        self.batch_size = check_batch_size(batch_size)
        self.steps = steps
        self.seed = check_seed(seed)
        self.k = check_positive_int(k, "k")
        self.inputs, self.targets = sanitize_for_model(
            model, inputs, targets, make_forward_function(model), batch_size
        )
        self.features_model, _ = split_model(model, layer)
        self._features = make_forward_function(self.features_model)
        bank = self.inputs if bank is None else to_float_tensor(bank, "bank")
        if tuple(bank.shape[1:]) != tuple(self.inputs.shape[1:]):
            raise ValueError(
                f"`bank` must hold images shaped like the inputs {tuple(self.inputs.shape[1:])}, "
                f"got {tuple(bank.shape)}."
            )
        if bank.shape[0] < self.k:
            raise ValueError(f"`bank` must hold at least k={self.k} images, got {bank.shape[0]}.")
        self.bank_features_ = self.features(bank)

    def features(self, images: tf.Tensor) -> tf.Tensor:
        """Flattened penultimate features ``(N, D)``, batched."""
        out = []
        for rows in batch_slices(int(images.shape[0]), self.batch_size):
            batch = images[rows]
            out.append(tf.reshape(self._features(batch), (batch.shape[0], -1)))
        return tf.concat(out, axis=0)

    def knn_distance(self, images: tf.Tensor) -> tf.Tensor:
        """Mean Euclidean distance of each image's features to its ``k`` nearest bank features
        (:func:`~xplique_lens.commons.stats.knn_distances`, float64)."""
        return knn_distances(self.features(images), self.bank_features_, self.k)

    def _explanations(self, explanations: Any) -> tf.Tensor:
        if explanations is None:
            return random_explanations(self.inputs, self.seed)
        return explanations

    def information_removal(self, baseline_mode: Any, explanations: Any = None) -> float:
        """Sum over the deletion path of the sigmoid of the target logit, averaged over inputs.

        Lower is better: the baseline removes the information the model uses. ``explanations``
        set the deletion order (default: a random order, seeded).
        """
        metric = Deletion(
            self.model,
            self.inputs,
            self.targets,
            self.batch_size,
            baseline_mode,
            self.steps,
            activation="sigmoid",
        )
        return float(metric.curves(self._explanations(explanations)).sum(axis=1).mean())

    def ood_curve(self, baseline_mode: Any, explanations: Any = None) -> np.ndarray:
        """Mean k-NN distance at each point of the deletion path, ``(steps + 1,)``."""
        metric = Deletion(
            self.model, self.inputs, self.targets, self.batch_size, baseline_mode, self.steps
        )
        nb_points = len(metric.steps_)
        distances = []
        for _, images in metric.perturbed_path(self._explanations(explanations)):
            feats = tf.reshape(self._features(images), (images.shape[0], -1))
            distances.append(knn_distances(feats, self.bank_features_, self.k))
        return tf.reshape(tf.concat(distances, 0), (-1, nb_points)).numpy().mean(axis=0)

    def ood_score(self, baseline_mode: Any, explanations: Any = None) -> float:
        """Mean k-NN distance of the perturbed images (steps 1..S) to the bank; lower is better."""
        return float(self.ood_curve(baseline_mode, explanations)[1:].mean())

    def evaluate(self, baseline_mode: Any, explanations: Any = None) -> dict[str, float]:
        """``{"information_removal": ..., "ood": ...}`` for one baseline."""
        return {
            "information_removal": self.information_removal(baseline_mode, explanations),
            "ood": self.ood_score(baseline_mode, explanations),
        }


def information_removal(
    model: Callable,
    inputs: Any,
    targets: Any = None,
    baseline_mode: Any = 0.0,
    explanations: Any = None,
    steps: int = 10,
    batch_size: int | None = 64,
    seed: int | None = 0,
) -> float:
    """Sum of the sigmoid of the target logit along the deletion path (lower: more removed).

    See :class:`BaselineCriteria`; ``explanations=None`` uses a random deletion order.
    """
    metric = Deletion(
        model, inputs, targets, batch_size, baseline_mode, steps, activation="sigmoid"
    )
    if explanations is None:
        explanations = random_explanations(metric.inputs, seed)
    return float(metric.curves(explanations).sum(axis=1).mean())


def ood_score(
    model: Callable,
    inputs: Any,
    targets: Any = None,
    baseline_mode: Any = 0.0,
    bank: Any = None,
    explanations: Any = None,
    layer: str | int = -2,
    k: int = 1,
    steps: int = 10,
    batch_size: int | None = 64,
    seed: int | None = 0,
) -> float:
    """Mean k-NN distance, in the features of ``layer``, of the images along the deletion path
    to a bank of real images (lower: more in distribution). See :class:`BaselineCriteria`."""
    criteria = BaselineCriteria(model, inputs, targets, bank, layer, k, steps, batch_size, seed)
    return criteria.ood_score(baseline_mode, explanations)


# --------------------------------------------------------------------------- comparison

LOWER_IS_BETTER = {"deletion": True, "insertion": False, "srg": False}


@dataclass
class BaselineComparison:
    """Table of :func:`compare_baselines`: one row per (baseline, explainer).

    Each row holds ``baseline``, ``explainer``, ``information_removal``, ``ood`` (the baseline's
    criteria, shared by its rows), ``deletion``, ``insertion`` and ``srg``.
    """

    rows: list[dict[str, Any]]
    baselines: list[str] = field(default_factory=list)
    explainers: list[str] = field(default_factory=list)

    def value(self, baseline: str, explainer: str, metric: str) -> float:
        """One cell of the table."""
        for row in self.rows:
            if row["baseline"] == baseline and row["explainer"] == explainer:
                return float(row[metric])
        raise KeyError(f"No row for baseline {baseline!r} and explainer {explainer!r}.")

    def criteria(self) -> dict[str, dict[str, float]]:
        """``{baseline: {"information_removal": ..., "ood": ...}}``."""
        out = {}
        for row in self.rows:
            out[row["baseline"]] = {
                "information_removal": row["information_removal"],
                "ood": row["ood"],
            }
        return out

    def ranking(self, metric: str = "deletion") -> dict[str, list[str]]:
        """Explainers from best to worst under each baseline, for ``metric``."""
        if metric not in LOWER_IS_BETTER:
            raise ValueError(f"`metric` must be one of {list(LOWER_IS_BETTER)}, got {metric!r}.")
        sign = 1.0 if LOWER_IS_BETTER[metric] else -1.0
        return {
            b: sorted(self.explainers, key=lambda e, b=b: sign * self.value(b, e, metric))
            for b in self.baselines
        }

    def ranking_changes(self, metric: str = "deletion") -> bool:
        """Whether at least two baselines rank the explainers differently."""
        rankings = {tuple(r) for r in self.ranking(metric).values()}
        return len(rankings) > 1

    def to_markdown(self, digits: int = 3) -> str:
        """The table as Markdown text."""
        cols = ["baseline", "explainer", "information_removal", "ood", "deletion", "insertion"]
        cols.append("srg")
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in self.rows:
            cells = [
                f"{row[c]:.{digits}f}" if isinstance(row[c], float) else str(row[c]) for c in cols
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()


def _named(items: Any, namer: Callable[[Any], str]) -> list[tuple[str, Any]]:
    if isinstance(items, Mapping):
        return [(str(k), v) for k, v in items.items()]
    return [(namer(item), item) for item in items]


def compare_baselines(
    model: Callable,
    inputs: Any,
    targets: Any,
    explainers: Mapping[str, Callable] | Sequence[Callable],
    baselines: Mapping[str, Any] | Sequence[Any] = ("zero", "uniform", "blur", "mean"),
    steps: int = 10,
    batch_size: int | None = 64,
    bank: Any = None,
    layer: str | int = -2,
    k: int = 1,
    activation: str | None = "softmax",
    patch_size: int | None = None,
    seed: int | None = 0,
    verbose: bool = False,
) -> BaselineComparison:
    """Deletion, Insertion and SRG of each explainer under each baseline, with the criteria.

    Parameters
    ----------
    model
        Keras model returning logits.
    inputs, targets
        Evaluation images and their targets (``None``: predicted classes).
    explainers
        ``{name: explainer}`` or a list of explainers; an explainer is any callable
        ``(inputs, targets) -> explanations`` (ours or Xplique's). Each explains once.
    baselines
        ``{name: baseline_mode}`` or a list of baseline modes (names, numbers, callables).
    steps, patch_size, activation
        Settings of Deletion and Insertion (``activation`` applies to them, not to the
        information-removal criterion, which is defined on the sigmoid of the logits).
    batch_size
        Forward passes at once.
    bank, layer, k, seed
        Settings of :class:`BaselineCriteria` (criteria use a random deletion order).
    verbose
        Progress bar over the baselines.

    Returns
    -------
    BaselineComparison
        The table; draw it with :func:`xplique_lens.plots.plot_baseline_tradeoff`.
    """
    criteria = BaselineCriteria(model, inputs, targets, bank, layer, k, steps, batch_size, seed)
    x, y = criteria.inputs, criteria.targets
    named_explainers = _named(
        explainers, lambda e: getattr(e, "__name__", None) or type(e).__name__
    )
    named_baselines = _named(baselines, baseline_name)
    if not named_explainers:
        raise ValueError("`explainers` must hold at least one explainer.")
    if not named_baselines:
        raise ValueError("`baselines` must hold at least one baseline.")
    explanations = {name: explainer(x, y) for name, explainer in named_explainers}
    rows = []
    for b_name, mode in tqdm(named_baselines, disable=not verbose, desc="baselines"):
        crit = criteria.evaluate(mode)
        settings = dict(
            batch_size=batch_size,
            baseline_mode=mode,
            steps=steps,
            activation=activation,
            patch_size=patch_size,
        )
        deletion = Deletion(model, x, y, **settings)
        insertion = Insertion(model, x, y, **settings)
        deletion._baselines = insertion._baselines = deletion.baselines_  # computed once
        for e_name, phi in explanations.items():
            d = deletion.evaluate(phi)
            i = insertion.evaluate(phi)
            rows.append(
                {"baseline": b_name, "explainer": e_name, **crit, "deletion": d, "insertion": i}
                | {"srg": i - d}
            )
    return BaselineComparison(
        rows, [n for n, _ in named_baselines], [n for n, _ in named_explainers]
    )
