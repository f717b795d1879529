"""Settings of a Lens build, and which stage depends on which setting."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

#: Named settings for ``LensOptions.preset``: what changes from the defaults, and why.
PRESETS: dict[str, dict[str, Any]] = {
    # smoke test of a pipeline on a new model: every section computed, nothing worth reading
    "tiny": dict(
        images_per_class=4,
        nb_examples=1,
        nb_concepts=2,
        nb_crops_shown=2,
        maco_steps=4,
        maco_size=32,
        maco_crops=2,
        sobol_grid=4,
        sobol_design=8,
        metric_images=2,
        metric_steps=4,
    ),
    # `xplique-lens demo`: readable pages in seconds per class on 2 CPU cores
    "fast": dict(
        images_per_class=16,
        nb_examples=3,
        nb_crops_shown=6,
        maco_steps=48,
        maco_size=64,
        maco_crops=8,
        sobol_design=16,
        metric_images=4,
        metric_steps=8,
    ),
    # the defaults below
    "default": {},
    # the papers' settings (MACO: 256 steps at 512 px; CRAFT: 10 concepts, nb_design 32)
    "paper": dict(
        images_per_class=100,
        nb_concepts=10,
        nb_crops_shown=10,
        maco_steps=256,
        maco_size=512,
        maco_crops=16,
        sobol_grid=11,
        sobol_design=32,
        metric_images=32,
        metric_steps=20,
    ),
}


@dataclass(frozen=True)
class LensOptions:
    """Everything a Lens build computes with (all have defaults sized for the built-in model).

    Parameters
    ----------
    images_per_class
        At most this many images of each class are used (the first ones).
    nb_examples
        Images per class shown with attribution and concept maps.
    nb_concepts
        Number of CRAFT concepts per class.
    patch_size
        Size of CRAFT crops, in input pixels.
    nb_crops_shown
        Top crops shown per concept.
    refine_top
        Number of most important concepts refined into sub-concepts (0: no recursion).
    refine_layer
        Layer of the recursion (``None``: no recursion).
    maco_steps, maco_size, maco_crops
        MACO optimisation steps, image size and random crops per step.
    sobol_grid, sobol_design
        Grid size and design size of the Sobol attribution examples.
    metric_images
        Images per class on which the Deletion / Insertion of the explainers are measured.
    metric_steps
        Steps of the Deletion / Insertion curves.
    values_range
        Range of the images the model is fed, e.g. ``(0, 255)`` for a model that expects 0-255
        pixels: images read from a folder are scaled to it, MACO images are made in it, and
        pictures are shown mapped back to [0, 1].
    preprocess
        ``None``, or the ``keras.applications`` preprocessing the model expects: ``"caffe"``
        (VGG, ResNet v1), ``"tf"`` (MobileNet, Inception, Xception, ResNet v2) or ``"torch"``
        (DenseNet). The Lens then explains ``model(preprocess(x))`` on images ``x`` in
        ``values_range`` (see :func:`xplique_lens.commons.preprocessing.with_preprocessing`),
        so that crops, maps and MACO images stay in image space.
    seed
        Seed of every random component.
    activation_policy
        What CRAFT does with a concept layer that is not non-negative (swish, GELU, residual
        sums): ``"clamp"`` (default: ``max(a, 0)``, then NMF), ``"signed"`` (semi-NMF: codes
        ``>= 0``, signed concepts) or ``"error"``; see :class:`~xplique_lens.concepts.Craft`.
    """

    images_per_class: int = 48
    nb_examples: int = 4
    nb_concepts: int = 6
    patch_size: int = 24
    nb_crops_shown: int = 8
    refine_top: int = 0
    refine_layer: str | None = None
    maco_steps: int = 128
    maco_size: int = 128
    maco_crops: int = 16
    sobol_grid: int = 8
    sobol_design: int = 32
    metric_images: int = 8
    metric_steps: int = 10
    values_range: tuple[float, float] = (0.0, 1.0)
    seed: int = 0
    preprocess: str | None = None
    activation_policy: str = "clamp"

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> LensOptions:
        """Options of a named preset, with ``overrides`` on top.

        Presets trade cost for fidelity (their measured cost per class is in the README:
        ``python benchmarks/bench_lens_real.py --real-presets "" --presets ""
        --builtin-presets tiny,fast,default,paper``):

        - ``"tiny"``: every section computed with minimal sizes, to check that a pipeline runs
          on a new model before paying for a real build;
        - ``"fast"``: what ``xplique-lens demo`` uses (16 images, MACO 48 steps at 64 px);
        - ``"default"``: ``LensOptions()``;
        - ``"paper"``: the papers' settings (MACO 256 steps at 512 px, 10 concepts, 100 images
          per class), the costliest.

        Parameters
        ----------
        name
            One of ``"tiny"``, ``"fast"``, ``"default"``, ``"paper"``.
        **overrides
            Options set on top of the preset.
        """
        if name not in PRESETS:
            raise ValueError(f"`name` must be one of {sorted(PRESETS)}, got {name!r}.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown LensOptions field(s) {unknown}; known: {sorted(known)}.")
        return replace(cls(), **{**PRESETS[name], **overrides})

    def subset(self, names: tuple[str, ...]) -> dict:
        """The options named in ``names`` (what a stage's cache key depends on)."""
        values = asdict(self)
        return {name: values[name] for name in names}
