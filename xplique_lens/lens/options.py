"""Settings of a Lens build, validated when made.

Each stage of a class page reads only the settings its own options dataclass declares (e.g.
:class:`~xplique_lens.lens.stages.MacoOptions`), built from :class:`LensOptions` by
:func:`stage_options`; those fields are what its cache key depends on.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, TypeVar

from ..commons.preprocessing import check_preprocess_mode, check_values_range
from ..commons.validation import check_choice, check_positive_int, check_power_of_two

#: What CRAFT may do with a concept layer that is not non-negative.
ACTIVATION_POLICIES = ("clamp", "signed", "error")

T = TypeVar("T")


def _integer(default: int, minimum: int = 1, power_of_two: bool = False) -> Any:
    """A field holding an integer ``>= minimum`` (a power of two if asked)."""
    return field(default=default, metadata={"minimum": minimum, "power_of_two": power_of_two})


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
        Layer of the recursion, a name, path or top-level index (``None``: no recursion).
    maco_steps, maco_size, maco_crops
        MACO optimisation steps, image size and random crops per step.
    sobol_grid, sobol_design
        Grid size (at least 2) and design size (a power of two) of the Sobol attribution
        examples; ``sobol_design`` is also the design of CRAFT's Sobol concept importance.
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
        Seed of every random component (an integer ``>= 0``: a Lens is reproducible, and its
        cache reuses results computed with the same seed, so ``None`` is not accepted).
    activation_policy
        What CRAFT does with a concept layer that is not non-negative (swish, GELU, residual
        sums): ``"clamp"`` (default: ``max(a, 0)``, then NMF), ``"signed"`` (semi-NMF: codes
        ``>= 0``, signed concepts) or ``"error"``; see :class:`~xplique_lens.concepts.Craft`.

    Every count is an integer ``>= 1`` unless said otherwise (``refine_top`` and ``seed``
    ``>= 0``). A bad value raises ``TypeError`` / ``ValueError`` naming the field when the
    options are made, not when a build first reads it.
    """

    images_per_class: int = _integer(48)
    nb_examples: int = _integer(4)
    nb_concepts: int = _integer(6)
    patch_size: int = _integer(24)
    nb_crops_shown: int = _integer(8)
    refine_top: int = _integer(0, minimum=0)
    refine_layer: str | int | None = None
    maco_steps: int = _integer(128)
    maco_size: int = _integer(128)
    maco_crops: int = _integer(16)
    sobol_grid: int = _integer(8, minimum=2)
    sobol_design: int = _integer(32, power_of_two=True)
    metric_images: int = _integer(8)
    metric_steps: int = _integer(10)
    values_range: tuple[float, float] = (0.0, 1.0)
    seed: int = _integer(0, minimum=0)
    preprocess: str | None = None
    activation_policy: str = "clamp"

    def __post_init__(self) -> None:
        """Check every field; store integers as ``int`` and ``values_range`` as two floats (so
        equal settings give equal cache keys whatever numeric types they were given in)."""
        for option in fields(self):
            if "minimum" not in option.metadata:
                continue
            value = getattr(self, option.name)
            if option.metadata["power_of_two"]:
                value = check_power_of_two(value, option.name)
            else:
                value = check_positive_int(value, option.name, option.metadata["minimum"])
            object.__setattr__(self, option.name, value)
        object.__setattr__(self, "values_range", check_values_range(self.values_range))
        check_preprocess_mode(self.preprocess)
        check_choice(self.activation_policy, "activation_policy", ACTIVATION_POLICIES)
        layer = self.refine_layer
        if layer is not None and (
            isinstance(layer, bool) or not isinstance(layer, str | numbers.Integral)
        ):
            raise TypeError(
                "`refine_layer` must be None, a layer name or path (str) or a top-level index "
                f"(int), got {layer!r}."
            )
        if isinstance(layer, numbers.Integral):
            object.__setattr__(self, "refine_layer", int(layer))

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


def stage_options(options: LensOptions, options_type: type[T]) -> T:
    """The settings a stage reads: ``options_type`` (a dataclass whose fields are named as
    fields of :class:`LensOptions`) filled from ``options``.

    Parameters
    ----------
    options
        The settings of the build.
    options_type
        A stage's options dataclass, e.g. :class:`~xplique_lens.lens.stages.MacoOptions`.

    Returns
    -------
    T
        An ``options_type`` holding the values of ``options`` for its fields.

    Raises
    ------
    TypeError
        If ``options_type`` is not a dataclass or declares a field ``LensOptions`` lacks.
    """
    if not isinstance(options_type, type) or not is_dataclass(options_type):
        raise TypeError(f"`options_type` must be a dataclass type, got {options_type!r}.")
    known = {option.name for option in fields(LensOptions)}
    wanted = [option.name for option in fields(options_type)]
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise TypeError(
            f"`options_type` {options_type.__name__} declares {unknown}, which are not "
            f"LensOptions fields; known: {sorted(known)}."
        )
    return options_type(**{name: getattr(options, name) for name in wanted})
