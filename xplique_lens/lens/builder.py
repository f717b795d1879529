"""``build_lens``: run the stages of every class, cache their results, render the site."""

from __future__ import annotations

import contextlib
import json
import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.inputs import sanitize_inputs
from ..commons.model_splitting import find_layer
from ..commons.preprocessing import check_preprocess_mode, check_values_range, with_preprocessing
from ..commons.tf_functions import make_forward_function
from .loading import ArrayImages, ImageSource
from .options import LensOptions
from .render import render_class_files
from .sharding import parse_shard, resolve_shard, select_shard
from .site import copy_assets, render_index
from .stages import STAGES, ClassContext
from .store import StageStore, atomic_write_text, fingerprint, model_fingerprint

__all__ = ["BuildReport", "build_lens", "merge_lens", "parse_shard"]


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
    progress
        Show a progress bar over classes.

    Returns
    -------
    BuildReport
        Which stages were computed or loaded, with timings; ``report.index`` is the index page.
    """
    options = options or LensOptions()
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

    store = StageStore(out)
    report = BuildReport(out)
    copy_assets(out)
    bar = tqdm(selected, desc="lens classes", disable=not progress, unit="class")
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
