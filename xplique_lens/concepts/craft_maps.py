"""Kernels of CRAFT's concept attribution maps: where each concept is in each image.

The code of an activation vector ``a`` is the NNLS solution ``u*(a) = argmin_{u >= 0}
||a - u W||``; its Jacobian follows from the KKT conditions on the active set ``S``:
``d u*_S / d a = (W_S W_S^T)^{-1} W_S`` (implicit differentiation, see ``extractors.nnls``).
Two maps use it (:meth:`~xplique_lens.concepts.Craft.concept_attribution_maps`):

- :func:`layer_maps`: activation x implicit gradient at the layer, which equals the code
  ``u*_k`` at each position (Euler's identity, ``u*`` is positively homogeneous), upsampled to
  the image size;
- :func:`integrated_gradients_maps`: Integrated Gradients (Sundararajan et al. 2017) of the
  total code ``U_k(x)`` through ``g`` and the implicit NNLS gradient, from a baseline given by
  :func:`map_baselines`.

Why these choices, with the benchmark figures: ``docs/concepts.md``, section "Concept
attribution maps".

References
----------
Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability", CVPR 2023.
Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep Networks", ICML 2017.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.batching import batch_apply, batch_slices
from ..commons.validation import check_choice, check_finite, to_float_tensor
from .craft_layout import patch_tokens, spatial_codes

MAP_METHODS = ("input", "layer")
MAP_BASELINES = ("mean", "zero")


def map_baselines(images: tf.Tensor, baseline: Any) -> tf.Tensor:
    """The baseline images of the Integrated Gradients maps, same shape as ``images``.

    Parameters
    ----------
    images
        Images ``(N, H, W, C)``.
    baseline
        ``"mean"`` (each image's mean colour as a constant image), ``"zero"`` (black), or images
        broadcastable to ``images``.

    Raises
    ------
    ValueError
        For an unknown name, a shape that does not broadcast, or non-finite values.
    TypeError
        For None.
    """
    if isinstance(baseline, str):
        check_choice(baseline, "baseline", MAP_BASELINES)
        if baseline == "zero":
            return tf.zeros_like(images)
        return tf.zeros_like(images) + tf.reduce_mean(images, axis=(1, 2), keepdims=True)
    if baseline is None:
        raise TypeError(
            f"`baseline` must be one of {list(MAP_BASELINES)} or an array of images, got None."
        )
    values = to_float_tensor(baseline, "baseline")
    try:
        values = tf.broadcast_to(values, tf.shape(images))
    except (ValueError, tf.errors.InvalidArgumentError):
        raise ValueError(
            f"`baseline` of shape {tuple(values.shape)} does not broadcast to the inputs "
            f"{tuple(images.shape)}; give (H, W, C), (N, H, W, C) or (C,)."
        ) from None
    check_finite(values, "baseline")
    return values


def make_input_maps_fn(encode: Callable, number_of_concepts: int) -> Callable:
    """``(points, deltas) -> (P, H, W, r)``: ``sum_c dU_k/dx_c (point) * delta_c``.

    One term of the Integrated Gradients sum for each point of a path, traced once (the caller
    keeps it per fit: the concept bank is captured when it is traced). One forward and ``r``
    backward passes per call.

    Parameters
    ----------
    encode
        ``images -> codes`` ``(P, [h, w | T,] r)``, differentiable in TensorFlow (``g``, the
        activation policy and the extractor's ``tf_transform``, whose NNLS gradient is the
        implicit one).
    number_of_concepts
        ``r``.
    """
    r = number_of_concepts

    @tf.function(reduce_retracing=True)
    def maps(points: tf.Tensor, deltas: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(points)
            codes = encode(points)
            if codes.shape.rank == 3:  # tokens: the patch tokens (as the crops' means)
                codes = patch_tokens(codes)
            axes = list(range(1, codes.shape.rank - 1))
            totals = tf.reduce_sum(codes, axis=axes) if axes else codes  # (P, r)
        out = []
        for k in range(r):
            seed = tf.zeros_like(totals) + tf.one_hot(k, r)[None]
            gradient = tape.gradient(totals, points, output_gradients=seed)
            out.append(tf.reduce_sum(gradient * deltas, axis=-1))
        del tape
        return tf.stack(out, axis=-1)

    return maps


def integrated_gradients_maps(
    maps_fn: Callable,
    images: tf.Tensor,
    baselines: tf.Tensor,
    steps: int,
    batch_size: int | None,
    verbose: bool = False,
) -> tf.Tensor:
    """Integrated Gradients maps ``(N, H, W, r)`` by the midpoint rule.

    ``(x - x0) * mean_s grad U_k(x0 + a_s (x - x0))`` with ``a_s = (s + 1/2) / steps``.

    Parameters
    ----------
    maps_fn
        The function of :func:`make_input_maps_fn`.
    images, baselines
        ``x`` and ``x0``, ``(N, H, W, C)`` each.
    steps
        Points of the path.
    batch_size
        Path points per call of ``maps_fn`` (whole images are grouped; None: all at once).
    verbose
        Show a progress bar.
    """
    alphas = tf.constant((np.arange(steps) + 0.5) / steps, tf.float32)
    per_call = len(images) * steps if not batch_size else batch_size
    group = max(1, per_call // steps)  # whole images per group of path points
    outs = []
    for s in tqdm(list(batch_slices(len(images), group)), disable=not verbose, desc="maps"):
        x, x0 = images[s], baselines[s]
        deltas = tf.repeat(x - x0, steps, axis=0)  # image-major, then path step
        points = (
            tf.repeat(x0, steps, axis=0) + tf.tile(alphas, [len(x)])[:, None, None, None] * deltas
        )
        maps = batch_apply(maps_fn, (points, deltas), per_call)
        outs.append(tf.reduce_mean(tf.reshape(maps, (len(x), steps, *maps.shape[1:])), 1))
    return tf.concat(outs, 0)


def layer_maps(
    codes_of: Callable, images: tf.Tensor, batch_size: int | None, verbose: bool = False
) -> tf.Tensor:
    """The codes on the layer's grid, upsampled (bilinear) to the image size: ``(N, H, W, r)``.

    Parameters
    ----------
    codes_of
        ``images -> codes`` at the layer, ``(n, h, w, r)`` or tokens ``(n, T, r)``.
    images
        ``(N, H, W, C)``.
    batch_size
        Images per call of ``codes_of`` (None: all at once).
    verbose
        Show a progress bar.
    """
    size = tuple(images.shape[1:3])
    outs = [
        tf.image.resize(spatial_codes(codes_of(images[s])), size, method="bilinear")
        for s in tqdm(list(batch_slices(len(images), batch_size)), disable=not verbose, desc="maps")
    ]
    return tf.concat(outs, 0)
