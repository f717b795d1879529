"""Perturbations applied to inputs according to masks with values in [0, 1].

A perturbation is a batched function ``perturb(inputs, masks, *extras) -> perturbed`` where
``inputs`` is ``(B, ...)``, ``masks`` broadcasts against it (``(B, H, W, 1)`` for images after
upsampling, ``(B, r)`` for concept codes) and ``extras`` are per-sample tensors computed once per
call by ``perturbation.prepare(inputs)`` (e.g. the blurred images). A mask value of 1 keeps the
input, 0 removes it. All of them are TF-native, so they run inside the compiled Sobol kernel.

Ref. Fel et al. 2021, https://arxiv.org/abs/2111.04138, section 3.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from ...commons.validation import check_positive_int


class Perturbation:
    """Base class: ``prepare(inputs) -> tuple`` of per-sample tensors, ``__call__`` perturbs.

    ``broadcasts = True`` declares ``__call__`` element-wise (it also works on broadcasting
    shapes, inputs ``(p, 1, ...)`` against masks ``(1, q, ...)``): the kernel then builds the
    ``p * q`` perturbed inputs of a chunk in one pass instead of repeating the inputs first.
    """

    broadcasts: bool = False

    def prepare(self, inputs: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """Per-sample tensors the perturbation needs (none by default)."""
        return ()

    def __call__(self, inputs: tf.Tensor, masks: tf.Tensor, *extras: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError


class Inpainting(Perturbation):
    """``x * M + (1 - M) * baseline_value``; Xplique's default with baseline 0.

    Parameters
    ----------
    baseline_value
        Value that replaces removed inputs (0: black images / zero codes).
    """

    broadcasts = True

    def __init__(self, baseline_value: float = 0.0):
        self.baseline_value = float(baseline_value)

    def __call__(self, inputs, masks, *extras):
        if self.baseline_value == 0.0:
            return inputs * masks
        return (inputs - self.baseline_value) * masks + self.baseline_value

    def __repr__(self) -> str:
        return f"Inpainting(baseline_value={self.baseline_value})"


def box_blur(images: tf.Tensor, size: int) -> tf.Tensor:
    """Mean filter of ``size x size`` with mirrored borders (OpenCV's ``cv2.blur``), TF-native.

    ``images`` is ``(N, H, W, C)``; the anchor is the kernel centre as in OpenCV.
    """
    before, after = size // 2, size - 1 - size // 2
    height, width = images.shape[1], images.shape[2]
    if height is not None and width is not None and (before >= height or before >= width):
        raise ValueError(
            f"`sigma` (blur size {size}) must be smaller than twice the image size, got images "
            f"of size {height}x{width}."
        )
    padded = tf.pad(images, [[0, 0], [before, after], [before, after], [0, 0]], mode="REFLECT")
    return tf.nn.avg_pool2d(padded, ksize=size, strides=1, padding="VALID")


class Blurring(Perturbation):
    """``x * M + (1 - M) * blur(x)``, a box blur of size ``sigma`` (as Xplique's ``cv2.blur``),
    computed once per image and per call with TF ops (no OpenCV).
    """

    broadcasts = True

    def __init__(self, sigma: int = 10):
        self.sigma = check_positive_int(sigma, "sigma")

    def prepare(self, inputs):
        if inputs.shape.rank != 4:
            raise ValueError(
                f"`blurring` needs images (N, H, W, C), got inputs of shape {tuple(inputs.shape)}."
            )
        return (box_blur(inputs, self.sigma),)

    def __call__(self, inputs, masks, blurred):
        return (inputs - blurred) * masks + blurred

    def __repr__(self) -> str:
        return f"Blurring(sigma={self.sigma})"


class Amplitude(Perturbation):
    """``x * (1 + sigma * (M - 0.5))``: the amplitude of the input is modulated around itself.

    Xplique 2.0.2 computes ``x * (M - 0.5) * sigma``, which never reproduces the image (it is at
    most half its amplitude, and sign-flipped where ``M < 0.5``) although its docstring states
    ``x + (M - 0.5) * sigma``; here ``M = 0.5`` leaves the input unchanged.
    """

    broadcasts = True

    def __init__(self, sigma: float = 1.0):
        self.sigma = float(sigma)

    def __call__(self, inputs, masks, *extras):
        return inputs * (1.0 + self.sigma * (masks - 0.5))

    def __repr__(self) -> str:
        return f"Amplitude(sigma={self.sigma})"


class XpliqueAmplitude(Perturbation):
    """Xplique 2.0.2's amplitude formula ``x * (M - 0.5) * sigma``, for parity only.

    Used when Xplique's own ``amplitude`` function is passed as ``perturbation_function``, so
    that ported code gives Xplique's maps; :class:`Amplitude` (``"amplitude"``) is the corrected
    perturbation.
    """

    broadcasts = True

    def __init__(self, sigma: float = 1.0):
        self.sigma = float(sigma)

    def __call__(self, inputs, masks, *extras):
        return inputs * (masks - 0.5) * self.sigma

    def __repr__(self) -> str:
        return f"XpliqueAmplitude(sigma={self.sigma})"


class PerImagePerturbation(Perturbation):
    """Adapter for Xplique's per-image perturbation factories ``fn(x) -> (masks -> perturbed)``.

    Xplique builds one perturbation function per image, ``fn(x)``, and calls it on the upsampled
    masks ``(M, H, W, c)``. Here the pairs of a chunk are input-major (each input repeated for
    consecutive masks): the factory is called once per run of equal inputs, in Python through
    ``tf.py_function``, so any factory works (TensorFlow, NumPy or OpenCV code), at the cost of
    leaving the compiled graph for each chunk. Wrap a factory explicitly,
    ``perturbation_function=PerImagePerturbation(fn)``; Xplique's own ``inpainting``,
    ``blurring`` and ``amplitude`` need no wrapping: :func:`get_perturbation` maps them to the
    TF-native perturbations.

    Parameters
    ----------
    factory
        ``fn(x (H, W, C)) -> (masks (M, H, W, c) -> perturbed (M, H, W, C))``.
    """

    def __init__(self, factory: Callable):
        if not callable(factory):
            raise TypeError(
                f"`factory` must be callable fn(x) -> (masks -> perturbed), got "
                f"{type(factory).__name__}."
            )
        self.factory = factory

    def _run(self, inputs: tf.Tensor, masks: tf.Tensor) -> np.ndarray:
        x, m = inputs.numpy(), masks.numpy()
        out = None
        start = 0
        while start < len(x):
            stop = start + 1
            while stop < len(x) and np.array_equal(x[stop], x[start]):
                stop += 1
            perturbed = np.asarray(self.factory(tf.constant(x[start]))(tf.constant(m[start:stop])))
            if out is None:
                out = np.empty((len(x), *perturbed.shape[1:]), np.float32)
            out[start:stop] = perturbed
            start = stop
        return np.zeros((0, *x.shape[1:]), np.float32) if out is None else out

    def __call__(self, inputs, masks, *extras):
        perturbed = tf.py_function(self._run, [inputs, masks], tf.float32)
        perturbed.set_shape(inputs.shape)
        return perturbed

    def __repr__(self) -> str:
        return f"PerImagePerturbation({getattr(self.factory, '__name__', self.factory)!r})"


XPLIQUE_PERTURBATIONS_MODULE = "xplique.attributions.global_sensitivity_analysis.perturbations"


def from_xplique(function: Callable) -> Perturbation | None:
    """The TF-native equivalent of Xplique's ``inpainting``, ``blurring`` or ``amplitude``
    (also as a ``functools.partial`` with ``sigma=...``); None for any other callable.

    ``inpainting`` -> :class:`Inpainting` (baseline 0), ``blurring`` -> :class:`Blurring` (same
    box blur as its ``cv2.blur``), ``amplitude`` -> :class:`XpliqueAmplitude` (its formula).
    """
    keywords: dict = {}
    if isinstance(function, functools.partial):
        if function.args:
            return None
        keywords = dict(function.keywords)
        function = function.func
    if getattr(function, "__module__", None) != XPLIQUE_PERTURBATIONS_MODULE:
        return None
    name = getattr(function, "__name__", "")
    if name == "inpainting" and not keywords:
        return Inpainting()
    if name == "blurring" and set(keywords) <= {"sigma"}:
        return Blurring(keywords.get("sigma", 10))
    if name == "amplitude" and set(keywords) <= {"sigma"}:
        return XpliqueAmplitude(keywords.get("sigma", 1.0))
    return None


class CallablePerturbation(Perturbation):
    """Wrap a batched user function ``fn(inputs, masks) -> perturbed``."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, inputs, masks, *extras):
        return self.fn(inputs, masks)

    def __repr__(self) -> str:
        return f"CallablePerturbation({getattr(self.fn, '__name__', self.fn)!r})"


PERTURBATIONS = {"inpainting": Inpainting, "blurring": Blurring, "amplitude": Amplitude}


def get_perturbation(perturbation: str | Callable | Perturbation | None) -> Perturbation:
    """Resolve a name (``"inpainting"``, ``"blurring"``, ``"amplitude"``), a :class:`Perturbation`,
    a batched callable ``fn(inputs, masks) -> perturbed`` (masks ``(B, H, W, 1)`` for images), or
    Xplique's per-image ``inpainting``, ``blurring`` and ``amplitude`` functions (also as
    ``functools.partial(blurring, sigma=...)``), which become their TF-native equivalents
    (:func:`from_xplique`). Any other per-image factory ``fn(x) -> (masks -> perturbed)`` must be
    wrapped, ``PerImagePerturbation(fn)``: a one-argument callable is otherwise refused (it cannot
    be told from a batched function with a missing argument).
    """
    if perturbation is None:
        return Inpainting()
    if isinstance(perturbation, Perturbation):
        return perturbation
    if isinstance(perturbation, str):
        if perturbation not in PERTURBATIONS:
            raise ValueError(
                f"`perturbation_function` must be one of {sorted(PERTURBATIONS)} or a callable "
                f"(inputs, masks) -> perturbed, got {perturbation!r}."
            )
        return PERTURBATIONS[perturbation]()
    if not callable(perturbation):
        raise TypeError(
            "`perturbation_function` must be a name, a Perturbation or a callable "
            f"(inputs, masks) -> perturbed, got {type(perturbation).__name__}."
        )
    native = from_xplique(perturbation)
    if native is not None:
        return native
    try:
        nb_params = len(
            [
                p
                for p in inspect.signature(perturbation).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        )
    except (TypeError, ValueError):
        nb_params = 2
    if nb_params != 2:
        raise TypeError(
            "`perturbation_function` must be batched, fn(inputs (B, H, W, C), masks (B, H, W, 1)) "
            f"-> perturbed inputs; got a callable with {nb_params} required argument(s). An "
            "Xplique-style per-image factory fn(x) -> (masks -> perturbed) runs when wrapped: "
            "`PerImagePerturbation(fn)` (Xplique's own inpainting, blurring and amplitude are "
            "recognised as they are)."
        )
    return CallablePerturbation(perturbation)
