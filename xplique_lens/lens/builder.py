"""``build_lens``: run the stages of every class, cache their results, render the site."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.cost import PassCounter, StageCost, count_passes, counted_layer
from ..commons.inputs import sanitize_inputs
from ..commons.model_splitting import find_layer
from ..commons.preprocessing import check_preprocess_mode, check_values_range, with_preprocessing
from ..commons.tf_functions import make_forward_function
from ..commons.validation import resolve_verbose
from .loading import ArrayImages, ImageSource
from .options import LensOptions
from .render import render_class_files
from .sharding import parse_shard, resolve_shard, select_shard
from .site import copy_assets, render_index
from .stages import STAGES, ClassContext, Stage, stage_keys
from .store import StageStore, atomic_write_text, fingerprint, model_fingerprint

__all__ = ["BuildReport", "build_lens", "merge_lens", "parse_shard", "site_cost"]


#: Name of the stage cost in the stage cache files (the cost of computing the cached arrays).
_COST_KEY = "__cost__"
#: Name of the file of the site that gathers the cost of every class and stage.
COST_FILE = "cost.json"


@dataclass
class BuildReport:
    """What a build did, per class and stage.

    Attributes
    ----------
    out_dir
        Folder of the site.
    stages
        ``"computed"`` or ``"cached"``.
    seconds
        Wall time of the stage in this build (loading it, when cached).
    cost
        What computing the stage cost (:class:`~xplique_lens.commons.cost.StageCost`: seconds,
        forward and backward passes of images through the model), measured now when it was
        computed, read from the cache when it was loaded (absent for caches older than the
        counting).
    """

    out_dir: Path
    stages: dict[int, dict[str, str]] = field(default_factory=dict)
    seconds: dict[int, dict[str, float]] = field(default_factory=dict)
    cost: dict[int, dict[str, StageCost]] = field(default_factory=dict)

    def passes(self, class_id: int, stage: str) -> tuple[int | None, int | None]:
        """Forward and backward passes this build ran for a stage: 0 when it was loaded from
        the cache, ``None`` when they were not counted."""
        if self.stages[class_id][stage] == "cached":
            return 0, 0
        cost = self.cost.get(class_id, {}).get(stage)
        return (None, None) if cost is None else (cost.forwards, cost.backwards)

    @property
    def index(self) -> Path:
        """Path of the site's index page."""
        return self.out_dir / "index.html"


def _as_source(images_or_dataset: Any, labels: Any) -> ImageSource:
    """An :class:`ImageSource` as given, or arrays / tensors / datasets held in memory."""
    if isinstance(images_or_dataset, ImageSource):
        if labels is not None:
            raise ValueError(
                "`labels` must be None when `images_or_dataset` is an ImageSource (it gives "
                f"its own labels), got labels of type {type(labels).__name__}."
            )
        return images_or_dataset
    inputs, targets = sanitize_inputs(images_or_dataset, labels, expected_rank=4)
    return ArrayImages(inputs.numpy(), None if targets is None else targets.numpy())


def _class_labels(
    model: keras.Model, source: ImageSource, nb_classes: int, batch_size: int
) -> np.ndarray:
    """Label of every image: the source's, else the model's prediction (one batched pass)."""
    labels = source.labels()
    if labels is None:
        forward = make_forward_function(model)
        labels = np.concatenate(
            [
                np.argmax(forward(tf.constant(batch)).numpy(), axis=-1)
                for batch in source.batches(batch_size)
            ]
        )
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError("`images_or_dataset` holds no images; expected at least one.")
    if labels.ndim == 2:  # one-hot
        labels = labels.argmax(-1)
    labels = labels.astype(np.int64)
    if labels.min() < 0 or labels.max() >= nb_classes:
        raise ValueError(
            f"labels must lie in [0, {nb_classes}) for {nb_classes} class names, got "
            f"[{labels.min()}, {labels.max()}]."
        )
    return labels


def _warn_outside_range(images: np.ndarray, values_range: tuple[float, float], name: str) -> bool:
    """Warn (and return True) if ``images`` clearly leave ``values_range``."""
    low, high = values_range
    margin = 0.01 * (high - low)
    found_low, found_high = float(images.min()), float(images.max())
    if found_low < low - margin or found_high > high + margin:
        warnings.warn(
            f"images of class {name!r} lie in [{found_low:.3g}, {found_high:.3g}], outside "
            f"options.values_range={values_range}: give the range of the model's inputs "
            f"(e.g. LensOptions(values_range=(0, 255)), --value-range 0,255), or MACO images "
            f"and the preprocessing will be in the wrong range.",
            stacklevel=3,
        )
        return True
    return False


def build_lens(
    model: keras.Model,
    images_or_dataset: Any,
    class_names: Sequence[str],
    layer: str | int,
    out_dir: str | Path,
    labels: Any = None,
    classes: Sequence[int] | None = None,
    shard: str | tuple[int, int] | None = None,
    options: LensOptions | None = None,
    title: str = "Lens",
    verbose: bool = False,
    *,
    progress: bool | None = None,
) -> BuildReport:
    """Explain ``model`` class by class and write a static site into ``out_dir``.

    For each class: accuracy, attribution examples, CRAFT concepts at ``layer`` ranked by
    Sobol importance with their crops, concept attribution maps, MACO visualizations, the
    strategic cluster graph and metric tables (each stage as far as the installed families
    provide it). Results are cached per (class, stage) under ``out_dir/cache`` with a key of
    everything they depend on, written atomically: an interrupted build resumes, and a rebuild
    after changing an option recomputes only the stages that read it.

    Parameters
    ----------
    model
        Keras classifier (logits or probabilities). With ``options.preprocess`` set, the Lens
        explains ``with_preprocessing(model, options.preprocess, options.values_range)``
        (:func:`xplique_lens.commons.preprocessing.with_preprocessing`): images, crops, maps
        and MACO images stay in image space while the model gets what it was trained on.
    images_or_dataset
        Images ``(N, H, W, C)`` float in ``options.values_range``, a ``tf.data.Dataset`` of
        ``(image, label)`` (both held in memory), or an
        :class:`~xplique_lens.lens.loading.ImageSource` such as
        :func:`~xplique_lens.lens.loading.open_images` returns for a folder or an
        ``.npz`` / ``.npy`` file, read one class at a time (memory of one class, whatever the
        size of the dataset; what ``xplique-lens build`` uses).
    class_names
        Name of each output of the model (user strings: escaped in the pages).
    layer
        Layer of the concepts (non-negative activations, e.g. after a ReLU).
    out_dir
        Folder of the site (created).
    labels
        Labels of the images when they are an array; ``None`` groups images by the model's
        predicted class (for an ``ImageSource`` without labels: one batched pass of the model).
    classes
        Class indices to build (default: all).
    shard
        ``"I/N"``: build only the I-th of N interleaved parts of the classes, so N processes or
        machines can share the work; merge with :func:`merge_lens` (or ``--merge``).
        ``"auto"`` reads I and N from a Slurm job array or a Kubernetes Indexed Job
        (:func:`xplique_lens.lens.sharding.shard_from_environment`; ``docs/scaling.md``).
    options
        :class:`LensOptions`; ``values_range`` is the range of the images (MACO images are
        made in it, pictures are shown mapped to [0, 1]) and ``preprocess`` the
        ``keras.applications`` preprocessing mode the model expects, if any.
    title
        Title of the site.
    verbose
        Show a progress bar over classes (default: quiet, as every computation of the
        library; ``xplique-lens`` passes ``verbose=not --quiet``).
    progress
        Deprecated alias of ``verbose`` (keyword only; emits a ``DeprecationWarning``).

    Returns
    -------
    BuildReport
        Which stages were computed or loaded, with timings and costs (``report.cost``);
        ``report.index`` is the index page.

    Notes
    -----
    The cost of each stage (wall time, and forward / backward passes of images through the
    model, counted exactly by :func:`xplique_lens.commons.cost.count_passes`) is written into
    the class's manifest (``manifests/<class>.json``, key ``"cost"``), shown on its page, and
    gathered for the whole site in ``cost.json``.
    """
    verbose = resolve_verbose(verbose, progress, "build_lens")
    if options is None:
        options = LensOptions()
    elif not isinstance(options, LensOptions):
        raise TypeError(f"`options` must be a LensOptions or None, got {type(options).__name__}.")
    values_range = check_values_range(options.values_range)
    preprocess = check_preprocess_mode(options.preprocess)
    class_names = [str(name) for name in class_names]
    target = find_layer(model, layer)
    out = Path(out_dir)
    selected = list(range(len(class_names))) if classes is None else [int(c) for c in classes]
    for c in selected:
        if not 0 <= c < len(class_names):
            raise ValueError(f"`classes` must hold indices in [0, {len(class_names)}), got {c}.")
    selected = select_shard(selected, resolve_shard(shard))
    source = _as_source(images_or_dataset, labels)
    source_range = getattr(source, "values_range", None)
    if source_range is not None and tuple(source_range) != values_range:
        raise ValueError(
            f"`images_or_dataset` scales images to values_range={tuple(source_range)} but "
            f"options.values_range={values_range}; open the images with the options' range."
        )
    model_key = model_fingerprint(model)
    if preprocess is not None:
        if isinstance(layer, int):  # the preprocessing layer comes first in the wrapped model
            layer = target.name
        model = with_preprocessing(model, preprocess, values_range)
        model_key = fingerprint(model_key, preprocess, list(values_range))
    labels = _class_labels(model, source, len(class_names), 64)
    shown_layer = layer  # the layer as the cache keys and the pages name it
    counter: PassCounter | None = None
    try:  # the stages see the model behind a layer counting the images it gets
        counted, counter = count_passes(model)
    except ValueError:  # not built with one known input: wall times only
        pass
    else:
        layer, model = counted_layer(model, layer), counted

    store = StageStore(out)
    report = BuildReport(out)
    copy_assets(out)
    bar = tqdm(selected, desc="lens classes", disable=not verbose, unit="class")
    warned = False
    with _quiet_retracing_warnings():
        for class_id in bar:
            bar.set_postfix_str(class_names[class_id][:24])
            indices = np.flatnonzero(labels == class_id)[: options.images_per_class]
            if len(indices) == 0:
                continue
            class_images = source.read(indices)  # one class in memory at a time
            if not warned:
                warned = _warn_outside_range(class_images, values_range, class_names[class_id])
            ctx = ClassContext(model, layer, class_id, class_names[class_id], class_images, options)
            results = _build_class(ctx, store, model_key, report, shown_layer, counter)
            cost = {name: value.to_json() for name, value in report.cost[class_id].items()}
            manifest = render_class_files(out, replace(ctx, layer=shown_layer), results, cost)
            atomic_write_text(out / "manifests" / f"{class_id:05d}.json", json.dumps(manifest))
    merge_lens(out, title=title)
    return report


def _build_class(
    ctx: ClassContext,
    store: StageStore,
    model_key: str,
    report: BuildReport,
    layer_key: Any,
    counter: PassCounter | None,
) -> dict:
    """Run (or load) every stage of one class; record what was done, and its cost, in
    ``report``. ``layer_key`` is the layer as the user named it (part of the cache keys);
    ``counter`` counts the passes of ``ctx.model`` (``None``: not counted)."""
    results: dict[str, dict[str, np.ndarray]] = {}
    class_id = ctx.class_id
    report.stages[class_id], report.seconds[class_id], report.cost[class_id] = {}, {}, {}
    context_key = fingerprint(model_key, str(layer_key), class_id, ctx.images)
    keys = stage_keys(STAGES, ctx.options, context_key)
    for stage in STAGES:
        key = keys[stage.name]
        start = time.perf_counter()
        cached = store.load(class_id, stage.name, key)
        if cached is None:
            before = (0, 0) if counter is None else (counter.forwards, counter.backwards)
            cached = _run(stage, ctx, results)
            seconds = time.perf_counter() - start
            if counter is None:
                cost = StageCost(seconds)
            else:
                forwards, backwards = counter.forwards, counter.backwards
                cost = StageCost(seconds, forwards - before[0], backwards - before[1])
            stored = {**cached, _COST_KEY: np.asarray(json.dumps(cost.to_json()))}
            store.save(class_id, stage.name, key, stored)
            report.stages[class_id][stage.name] = "computed"
        else:
            cost = _stored_cost(cached.pop(_COST_KEY, None))
            report.stages[class_id][stage.name] = "cached"
        if cost is not None:
            report.cost[class_id][stage.name] = cost
        report.seconds[class_id][stage.name] = time.perf_counter() - start
        results[stage.name] = cached
    return results


def _run(stage: Stage, ctx: ClassContext, results: dict) -> dict:
    """Run ``stage`` on a context holding only its options, with the results it needs."""
    stage_ctx = ctx.with_options(stage.options_of(ctx.options))
    return stage.run(stage_ctx, {name: results[name] for name in stage.needs})


def _stored_cost(value: np.ndarray | None) -> StageCost | None:
    """The cost saved with a cached stage (``None``: none, or unreadable)."""
    if value is None:
        return None
    try:
        return StageCost.from_json(json.loads(str(value)))
    except (TypeError, ValueError):
        return None


@contextlib.contextmanager
def _quiet_retracing_warnings():
    """Hide TensorFlow's retracing warnings while classes build their own explainers."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def merge_lens(out_dir: str | Path, title: str = "Lens") -> Path:
    """Write the index of every class built so far into ``out_dir`` (after sharded builds)."""
    out = Path(out_dir)
    manifests = [json.loads(p.read_text()) for p in sorted((out / "manifests").glob("*.json"))]
    copy_assets(out)
    atomic_write_text(out / COST_FILE, json.dumps(site_cost(manifests), indent=1))
    atomic_write_text(out / "index.html", render_index(manifests, title))
    return out / "index.html"


def site_cost(manifests: Sequence[dict]) -> dict:
    """The cost of a site from its class manifests: per class and stage, and summed per stage.

    Parameters
    ----------
    manifests
        The manifests of the classes (``manifests/*.json``).

    Returns
    -------
    dict
        ``{"classes": {class_id: {stage: cost}}, "stages": {stage: totals}, "total": totals}``
        where a cost holds ``seconds``, ``forwards`` and ``backwards`` (passes of images
        through the model; ``None`` when not counted) and ``"classes_counted"`` says over how
        many classes each stage's totals run.
    """
    classes: dict[str, dict] = {}
    stages: dict[str, dict] = {}
    for manifest in manifests:
        cost = manifest.get("cost") or {}
        classes[str(manifest["class_id"])] = cost
        for stage, values in cost.items():
            totals = stages.setdefault(
                stage, {"seconds": 0.0, "forwards": 0, "backwards": 0, "classes_counted": 0}
            )
            totals["seconds"] = round(totals["seconds"] + float(values["seconds"]), 3)
            for name in ("forwards", "backwards"):
                value = values.get(name)
                totals[name] = (
                    None if value is None or totals[name] is None else (totals[name] + int(value))
                )
            totals["classes_counted"] += 1
    total: dict[str, Any] = {"seconds": 0.0, "forwards": 0, "backwards": 0}
    for totals in stages.values():
        total["seconds"] = round(total["seconds"] + totals["seconds"], 3)
        for name in ("forwards", "backwards"):
            if total[name] is not None:
                total[name] = None if totals[name] is None else total[name] + totals[name]
    return {
        "about": "Cost of computing each stage: wall seconds, and forward / backward passes of "
        "images through the model (xplique_lens.commons.cost).",
        "classes": classes,
        "stages": stages,
        "total": total,
    }
