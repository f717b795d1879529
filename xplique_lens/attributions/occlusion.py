"""Occlusion sensitivity: score drop when a sliding patch is replaced by a constant."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..commons.operators import OperatorSignature
from ..commons.tf_functions import batched
from ..commons.validation import check_positive_int, check_real
from .base import BlackBoxExplainer
from .streaming import partial_sums, stream_sums


def _pair(value: Any, name: str) -> tuple[int, int]:
    values = tuple(value) if isinstance(value, tuple | list) else (value, value)
    if len(values) != 2:
        raise ValueError(f"`{name}` must be an int or a pair of ints, got {value!r}.")
    return tuple(check_positive_int(v, name) for v in values)


def occlusion_anchors(size: tuple[int, ...], patch: tuple[int, ...], stride: tuple[int, ...]):
    """Top-left corners of the patches, ``(M, len(size))`` int32, in Xplique's order."""
    axes = []
    for length, p, s in zip(size, patch, stride, strict=True):
        count = math.ceil((length - p + 1) / s)
        if count < 1:
            raise ValueError(f"`patch_size` {p} is larger than the input size {length}.")
        axes.append(tf.range(count) * s)
    grids = tf.meshgrid(*axes, indexing="ij")
    return tf.stack([tf.reshape(g, (-1,)) for g in grids], axis=1)


def _occluded(anchors: tf.Tensor, patch: tf.Tensor, size: tuple[int, ...]) -> tf.Tensor:
    """``(b, *size)`` float masks, 1 inside the patch at each anchor."""
    masks = None
    for axis, length in enumerate(size):
        positions = tf.range(length)[None, :]
        start = anchors[:, axis : axis + 1]
        inside = tf.cast((positions >= start) & (positions < start + patch[axis]), tf.float32)
        shape = [-1] + [1] * len(size)
        shape[axis + 1] = length
        inside = tf.reshape(inside, shape)
        masks = inside if masks is None else masks * inside
    return masks


class Occlusion(BlackBoxExplainer):
    """Slide a patch of ``occlusion_value`` over the input; each pixel gets the sum of the score
    drops ``f(x) - f(x_occluded)`` of the patches that cover it (as Xplique).

    All ``inputs x patches`` stream in chunks of ``batch_size`` forward passes (Xplique loops
    over inputs in Python); patches are built inside the compiled chunk from their anchors.
    Works on images ``(N, H, W, C)`` and on flat inputs ``(N, F)`` (e.g. concept codes).
    Drop-in for ``xplique.attributions.Occlusion``.

    Ref. Zeiler & Fergus, *Visualizing and Understanding Convolutional Networks* (2013),
    https://arxiv.org/abs/1311.2901.

    Parameters
    ----------
    model, batch_size, operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    patch_size, patch_stride
        Patch size and stride (int, or a pair for images).
    occlusion_value
        Value written inside the patch.
    """

    def __init__(
        self,
        model: Callable,
        batch_size: int | None = 32,
        operator: str | OperatorSignature | None = None,
        patch_size: int | tuple[int, int] = 3,
        patch_stride: int | tuple[int, int] = 3,
        occlusion_value: float = 0.0,
    ):
        super().__init__(model, batch_size, operator)
        self.patch_size = _pair(patch_size, "patch_size")
        self.patch_stride = _pair(patch_stride, "patch_stride")
        self.occlusion_value = check_real(occlusion_value, "occlusion_value")
        operator_fn, model_fn = self.operator, self.model

        @tf.function(reduce_retracing=True)
        def chunk(inputs, targets, base, anchors, patch, value, per_input, start, size):
            index = start + tf.range(size)
            sample = index // per_input
            x, y = tf.gather(inputs, sample), tf.gather(targets, sample)
            extent = tuple(anchors_size(inputs))
            occluded = _occluded(tf.gather(anchors, index % per_input), patch, extent)
            keep = occluded[..., None] if inputs.shape.rank == 4 else occluded
            scores = operator_fn(model_fn, x * (1.0 - keep) + keep * value, y)
            delta = tf.gather(base, sample) - scores
            delta = tf.reshape(delta, (-1, *([1] * len(extent))))
            return partial_sums(sample, (delta * occluded,))

        def anchors_size(inputs):
            return inputs.shape[1:3] if inputs.shape.rank == 4 else inputs.shape[1:2]

        self._chunk = chunk

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Occlusion maps: ``(N, H, W, 1)`` for images, ``(N, F)`` for flat inputs."""
        inputs, targets = self._sanitize(inputs, targets)
        if inputs.shape.rank == 4:
            size, patch, stride = tuple(inputs.shape[1:3]), self.patch_size, self.patch_stride
        elif inputs.shape.rank == 2:
            size, patch, stride = (inputs.shape[1],), self.patch_size[:1], self.patch_stride[:1]
        else:
            raise ValueError(
                f"`inputs` must be images (N, H, W, C) or flat (N, F), got {tuple(inputs.shape)}."
            )
        anchors = occlusion_anchors(size, patch, stride)
        base = batched(self.score_function, self.batch_size)(inputs, targets)
        (maps,) = stream_sums(
            self._chunk,
            (inputs, targets, base, anchors, tf.constant(patch), tf.constant(self.occlusion_value)),
            int(inputs.shape[0]),
            int(anchors.shape[0]),
            self.batch_size,
            verbose,
            "occlusion",
        )
        return maps[..., None] if inputs.shape.rank == 4 else maps
