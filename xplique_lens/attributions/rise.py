"""RISE: score-weighted average of random smooth masks."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..commons.operators import OperatorSignature
from ..commons.validation import check_positive_int, check_real, check_seed, resolve_seed
from .base import BlackBoxExplainer
from .streaming import partial_sums, stream_sums


def _check_grid_size(grid_size: Any) -> int | tuple[int, int]:
    """A positive int, or a ``(rows, cols)`` pair of positive ints (kept as a tuple)."""
    if isinstance(grid_size, tuple | list):
        if len(grid_size) != 2 or not all(
            isinstance(g, numbers.Integral) and not isinstance(g, bool) for g in grid_size
        ):
            raise TypeError(
                f"`grid_size` must be an int or a (rows, cols) pair of ints, got {grid_size!r}."
            )
        rows, cols = (check_positive_int(g, "grid_size") for g in grid_size)
        return (rows, cols)
    return check_positive_int(grid_size, "grid_size")


class Rise(BlackBoxExplainer):
    """RISE: ``map = sum_m f(x * M_m) M_m / sum_m M_m`` over random masks.

    Masks: binary ``grid_size x grid_size`` grids (or ``rows x cols`` for a tuple ``grid_size``,
    as Xplique's non-square grids), cells kept with ``preservation_probability``, upsampled
    bilinearly to ``(H + H / rows, W + W / cols)`` and cropped at a random shift, as in the paper
    and Xplique. The grids and shifts are drawn once per call from ``seed`` (Xplique: unseeded);
    masks are built inside the compiled chunk, so all ``inputs x masks`` stream in chunks of
    ``batch_size`` forward passes without storing ``nb_samples`` full-size masks. Flat inputs
    ``(N, F)`` (e.g. concept codes) use binary masks over the features. Drop-in for
    ``xplique.attributions.Rise`` (plus ``seed``).

    Ref. Petsiuk et al., *RISE: Randomized Input Sampling for Explanation of Black-box Models*
    (2018), https://arxiv.org/abs/1806.07421.

    Parameters
    ----------
    model, batch_size, operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    nb_samples
        Number of masks.
    grid_size
        Cells per side of the low-resolution grid, or ``(rows, cols)`` for a non-square grid
        (Xplique's tuple form).
    preservation_probability
        Probability that a cell is kept.
    mask_value
        Value of the removed parts.
    seed : int or None, default 0
        Seed of the masks; None draws fresh randomness (new masks at each call).
    """

    EPSILON = 1e-4

    def __init__(
        self,
        model: Callable,
        batch_size: int | None = 32,
        operator: str | OperatorSignature | None = None,
        nb_samples: int = 4000,
        grid_size: int | tuple[int, int] = 7,
        preservation_probability: float = 0.5,
        mask_value: float = 0.0,
        seed: int | None = 0,
    ):
        super().__init__(model, batch_size, operator)
        self.nb_samples = check_positive_int(nb_samples, "nb_samples")
        self.grid_size = _check_grid_size(grid_size)
        self.preservation_probability = check_real(
            preservation_probability, "preservation_probability", 0.0, 1.0, strict=True
        )
        self.mask_value = check_real(mask_value, "mask_value")
        self.seed = check_seed(seed)
        operator_fn, model_fn = self.operator, self.model

        @tf.function(reduce_retracing=True)
        def chunk(inputs, targets, grids, shifts, value, per_input, start, size):
            index = start + tf.range(size)
            sample = index // per_input
            j = index % per_input
            x, y = tf.gather(inputs, sample), tf.gather(targets, sample)
            masks = tf.gather(grids, j)
            if inputs.shape.rank == 4:
                height, width = inputs.shape[1], inputs.shape[2]
                rows_grid, cols_grid = grids.shape[1], grids.shape[2]
                up = (height + -(-height // rows_grid), width + -(-width // cols_grid))
                masks = tf.image.resize(masks, up, method="bilinear")
                shift = tf.gather(shifts, j)
                rows = shift[:, :1] + tf.range(height)[None]
                cols = shift[:, 1:] + tf.range(width)[None]
                masks = tf.gather(masks, rows, axis=1, batch_dims=1)
                masks = tf.gather(masks, cols, axis=2, batch_dims=1)
            scores = operator_fn(model_fn, x * masks + (1.0 - masks) * value, y)
            weights = tf.reshape(scores, (-1, *([1] * (masks.shape.rank - 1))))
            return partial_sums(sample, (weights * masks, masks))

        self._chunk = chunk

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """RISE maps: ``(N, H, W, 1)`` for images, ``(N, F)`` for flat inputs."""
        inputs, targets = self._sanitize(inputs, targets)
        keep, seed = self.preservation_probability, resolve_seed(self.seed)
        if inputs.shape.rank == 4:
            rows, cols = (
                (self.grid_size, self.grid_size)
                if isinstance(self.grid_size, int)
                else self.grid_size
            )
            height, width = inputs.shape[1:3]
            uniform = tf.random.stateless_uniform((self.nb_samples, rows, cols, 1), [seed, 0])
            grids = tf.cast(uniform < keep, tf.float32)
            max_shift = tf.constant([[-(-height // rows), -(-width // cols)]])
            shifts = tf.random.stateless_uniform(
                (self.nb_samples, 2), [seed, 1], maxval=2**30, dtype=tf.int32
            ) % (max_shift + 1)
        elif inputs.shape.rank == 2:
            uniform = tf.random.stateless_uniform((self.nb_samples, inputs.shape[1]), [seed, 0])
            grids = tf.cast(uniform < keep, tf.float32)
            shifts = tf.zeros((self.nb_samples, 2), tf.int32)
        else:
            raise ValueError(
                f"`inputs` must be images (N, H, W, C) or flat (N, F), got {tuple(inputs.shape)}."
            )
        numerator, denominator = stream_sums(
            self._chunk,
            (inputs, targets, grids, shifts, tf.constant(self.mask_value)),
            int(inputs.shape[0]),
            self.nb_samples,
            self.batch_size,
            verbose,
            "rise",
        )
        return numerator / (denominator + self.EPSILON)
