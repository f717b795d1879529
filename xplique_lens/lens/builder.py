"""``build_lens``: run the stages of every class, cache their results, render the site."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.batching import batch_apply
from ..commons.inputs import sanitize_inputs
from ..commons.model_splitting import find_layer
from ..commons.tf_functions import make_forward_function
from .options import LensOptions
from .render import render_class_files
from .site import copy_assets, render_index
from .stages import STAGES, ClassContext
from .store import StageStore, atomic_write_text, fingerprint, model_fingerprint


@dataclass
class BuildReport:
    """What a build did: per class and stage, ``"computed"`` or ``"cached"``, and the seconds."""

    out_dir: Path
    stages: dict[int, dict[str, str]] = field(default_factory=dict)
    seconds: dict[int, dict[str, float]] = field(default_factory=dict)

    @property
    def index(self) -> Path:
        """Path of the site's index page."""
        return self.out_dir / "index.html"


def parse_shard(shard: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"I/N"`` (1-based) or ``(I, N)`` to ``(I, N)``, with a clear error for anything else."""
    if shard is None:
        return None
    if isinstance(shard, str):
        try:
            index, total = (int(part) for part in shard.split("/"))
        except ValueError:
            raise ValueError(f"`shard` must look like 'I/N' (e.g. '2/4'), got {shard!r}.") from None
    else:
        index, total = shard
    if not 1 <= index <= total:
        raise ValueError(f"`shard` must satisfy 1 <= I <= N, got {index}/{total}.")
    return index, total


def _group_by_class(
    model: keras.Model, images: Any, labels: Any, nb_classes: int, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    inputs, targets = sanitize_inputs(images, labels, expected_rank=4)
    if targets is None:
        logits = batch_apply(make_forward_function(model), (inputs,), batch_size)
        labels = np.argmax(logits.numpy(), axis=-1)
    else:
        targets = targets.numpy()
        labels = targets.argmax(-1) if targets.ndim == 2 else targets.astype(np.int64)
    if labels.min() < 0 or labels.max() >= nb_classes:
        raise ValueError(
            f"labels must lie in [0, {nb_classes}) for {nb_classes} class names, got "
            f"[{labels.min()}, {labels.max()}]."
        )
    return inputs.numpy(), labels


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
    progress: bool = True,
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
        Keras classifier (logits or probabilities).
    images_or_dataset
        Images ``(N, H, W, C)`` float, or a ``tf.data.Dataset`` of ``(image, label)``.
    class_names
        Name of each output of the model (user strings: escaped in the pages).
    layer
        Layer of the concepts (non-negative activations, e.g. after a ReLU).
    out_dir
        Folder of the site (created).
    labels
        Labels of the images when they are an array; ``None`` groups images by the model's
        predicted class.
    classes
        Class indices to build (default: all).
    shard
        ``"I/N"``: build only the I-th of N interleaved parts of the classes, so N processes or
        machines can share the work; merge with :func:`merge_lens` (or ``--merge``).
    options
        :class:`LensOptions`.
    title
        Title of the site.
    progress
        Show a progress bar over classes.

    Returns
    -------
    BuildReport
        Which stages were computed or loaded, with timings; ``report.index`` is the index page.
    """
    options = options or LensOptions()
    class_names = [str(name) for name in class_names]
    find_layer(model, layer)
    out = Path(out_dir)
    images, labels = _group_by_class(model, images_or_dataset, labels, len(class_names), 64)
    selected = list(range(len(class_names))) if classes is None else [int(c) for c in classes]
    for c in selected:
        if not 0 <= c < len(class_names):
            raise ValueError(f"`classes` must hold indices in [0, {len(class_names)}), got {c}.")
    parsed = parse_shard(shard)
    if parsed is not None:
        index, total = parsed
        selected = selected[index - 1 :: total]

    store = StageStore(out)
    model_key = model_fingerprint(model)
    report = BuildReport(out)
    copy_assets(out)
    bar = tqdm(selected, desc="lens classes", disable=not progress, unit="class")
    with _quiet_retracing_warnings():
        for class_id in bar:
            bar.set_postfix_str(class_names[class_id][:24])
            class_images = images[labels == class_id][: options.images_per_class]
            if len(class_images) == 0:
                continue
            ctx = ClassContext(model, layer, class_id, class_names[class_id], class_images, options)
            results = _build_class(ctx, store, model_key, report)
            manifest = render_class_files(out, ctx, results)
            atomic_write_text(out / "manifests" / f"{class_id:05d}.json", json.dumps(manifest))
    merge_lens(out, title=title)
    return report


def _build_class(ctx: ClassContext, store: StageStore, model_key: str, report: BuildReport) -> dict:
    """Run (or load) every stage of one class; record what was done in ``report``."""
    results: dict[str, dict[str, np.ndarray]] = {}
    keys: dict[str, str] = {}
    report.stages[ctx.class_id], report.seconds[ctx.class_id] = {}, {}
    for stage in STAGES:
        key = fingerprint(
            stage.name,
            stage.version,
            ctx.options.subset(stage.options),
            model_key,
            str(ctx.layer),
            ctx.class_id,
            ctx.images,
            [keys[name] for name in stage.needs],
        )
        keys[stage.name] = key
        start = time.perf_counter()
        cached = store.load(ctx.class_id, stage.name, key)
        if cached is None:
            cached = stage.run(ctx, {name: results[name] for name in stage.needs})
            store.save(ctx.class_id, stage.name, key, cached)
            report.stages[ctx.class_id][stage.name] = "computed"
        else:
            report.stages[ctx.class_id][stage.name] = "cached"
        report.seconds[ctx.class_id][stage.name] = time.perf_counter() - start
        results[stage.name] = cached
    return results


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
    atomic_write_text(out / "index.html", render_index(manifests, title))
    return out / "index.html"
