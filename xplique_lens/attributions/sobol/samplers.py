"""Quasi-Monte-Carlo designs for Sobol indices: the two independent matrices ``A`` and ``B``.

A *design* is a pair ``(A, B)`` of ``(nb_design, d)`` matrices with rows in ``[0, 1)^d``, drawn
as the two halves of one ``2d``-dimensional low-discrepancy sequence. The estimators of
:mod:`.estimators` evaluate the function on ``A`` and on ``C_i`` (``A`` with column ``i`` taken
from ``B``), see :func:`replicated_design`.

A design is drawn once per explanation call (never per image), off the compiled hot path, so the
randomised samplers are ``scipy.stats.qmc``'s (tested there) rather than code of our own; the
default unscrambled Sobol' sequence is TensorFlow's, as Xplique draws it. The unscrambled
sequences have no randomness; the randomised samplers take a ``seed``: an int gives the same
design every time, ``None`` a fresh one (numpy / scikit-learn meaning).

Each name of :data:`SAMPLERS` has exactly one meaning (see :func:`get_sampler`); in particular
``"halton"`` is the scrambled Halton sequence (``scipy.stats.qmc.Halton``'s default) and
``"halton_unscrambled"`` the plain one.

Samplers are also callable the way Xplique's ``ReplicatedSampler`` objects are,
``sampler(dimension, nb_design) -> [A; B; C]`` of shape ``(nb_design * (dimension + 2),
dimension)``, so that code written against Xplique keeps working.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf
from scipy.stats import qmc

from ...commons.validation import check_flag, check_positive_int, check_power_of_two, check_seed


class Design(NamedTuple):
    """The two independent sample matrices of a Sobol design, each ``(nb_design, dimension)``."""

    a: tf.Tensor
    b: tf.Tensor

    @property
    def nb_design(self) -> int:
        """Number of rows of ``A`` (and of ``B``)."""
        return int(self.a.shape[0])

    @property
    def dimension(self) -> int:
        """Number of factors ``d`` (columns)."""
        return int(self.a.shape[1])


def replicated_design(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    """The ``d`` matrices ``C_i``: ``A`` whose column ``i`` is taken from ``B``.

    Parameters
    ----------
    a, b
        ``(nb_design, d)`` sample matrices.

    Returns
    -------
    c
        ``(d, nb_design, d)``: ``c[i, j] = a[j]`` except ``c[i, j, i] = b[j, i]``. Its size grows
        as ``d**2``: the explainers never build it whole, they build the rows they need
        chunk by chunk (:func:`design_rows`).
    """
    a = tf.convert_to_tensor(a, tf.float32)
    b = tf.convert_to_tensor(b, tf.float32)
    eye = tf.eye(tf.shape(a)[1], dtype=a.dtype)[:, None, :]  # (d, 1, d)
    return a[None] * (1.0 - eye) + b[None] * eye


def design_rows(design: Design, indices: tf.Tensor) -> tf.Tensor:
    """Rows ``indices`` of the stacked design ``[A; C_1; ...; C_d; B]``, shape ``(k, d)``.

    Row ``r < n`` is ``A[r]``; row ``n + i * n + j`` is ``C_i[j]``; rows ``n * (d + 1) + j`` are
    ``B[j]``. Building rows on demand keeps memory at ``O(k * d)`` instead of the ``O(n * d**2)``
    of the full replicated design.
    """
    a, b = design.a, design.b
    n = tf.shape(a, out_type=indices.dtype)[0]
    d = tf.shape(a, out_type=indices.dtype)[1]
    block = indices // n  # 0: A, 1..d: C_{block-1}, d+1: B
    j = indices % n
    rows_a = tf.gather(a, j)
    rows_b = tf.gather(b, j)
    column = tf.one_hot(block - 1, d, dtype=a.dtype)  # all zeros for A and B rows
    from_b = tf.cast(tf.equal(block, d + 1), a.dtype)[:, None]
    take_b = tf.maximum(column, from_b)
    return rows_a * (1.0 - take_b) + rows_b * take_b


class Sampler(ABC):
    """Draws a design ``(A, B)``: the two halves of a ``2d``-dimensional point set.

    Subclasses implement :meth:`points`. ``sample(d, n)`` returns a :class:`Design`;
    ``sampler(d, n)`` returns Xplique's stacked ``[A; B; C]`` layout.
    """

    #: whether ``nb_design`` must be a power of two for the point set to be balanced
    needs_power_of_two: bool = True

    @abstractmethod
    def points(self, dimension: int, nb_points: int) -> tf.Tensor:
        """``(nb_points, dimension)`` float32 points in ``[0, 1)``."""

    def sample(self, dimension: int, nb_design: int) -> Design:
        """Draw the design ``(A, B)`` of ``nb_design`` rows for ``dimension`` factors."""
        dimension = check_positive_int(dimension, "dimension")
        if self.needs_power_of_two:
            nb_design = check_power_of_two(nb_design, "nb_design")
        else:
            nb_design = check_positive_int(nb_design, "nb_design", minimum=2)
        points = tf.cast(self.points(2 * dimension, nb_design), tf.float32)
        return Design(points[:, :dimension], points[:, dimension:])

    def __call__(self, dimension: int, nb_design: int) -> tf.Tensor:
        """Xplique's layout: ``[A; B; C_1; ...; C_d]``, shape ``(nb_design * (d + 2), d)``."""
        design = self.sample(dimension, nb_design)
        c = tf.reshape(replicated_design(design.a, design.b), (-1, dimension))
        return tf.concat([design.a, design.b, c], axis=0)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class SobolSampler(Sampler):
    """Sobol' LP-tau sequence, optionally scrambled.

    Ref. I. M. Sobol', *The distribution of points in a cube and the approximate evaluation of
    integrals* (1967).

    Parameters
    ----------
    scramble
        ``False`` (default): the deterministic sequence exactly as Xplique's
        ``TFSobolSequenceRS`` draws it (``tf.math.sobol_sample``, which skips the all-zero first
        point). ``True``: ``scipy.stats.qmc.Sobol(scramble=True)``, the first ``n`` points
        randomised by a linear matrix scramble plus a digital shift (Matoušek 1998): they keep
        the low discrepancy and give unbiased estimates.
    seed : int or None, default 0
        Seed of the scramble (ignored when ``scramble=False``); None draws fresh randomness.
    """

    def __init__(self, scramble: bool = False, seed: int | None = 0):
        self.scramble = check_flag(scramble, "scramble")
        self.seed = check_seed(seed)

    def points(self, dimension: int, nb_points: int) -> tf.Tensor:
        if not self.scramble:
            return tf.math.sobol_sample(dimension, nb_points, dtype=tf.float32)
        sequence = qmc.Sobol(dimension, scramble=True, rng=self.seed)
        return tf.constant(sequence.random(nb_points), tf.float32)


class ScrambledSobolSampler(SobolSampler):
    """:class:`SobolSampler` with ``scramble=True``: randomised (seeded) Sobol' points.

    Parameters
    ----------
    seed : int or None, default 0
        Seed of the scramble; None draws fresh randomness.
    """

    def __init__(self, seed: int | None = 0):
        super().__init__(scramble=True, seed=seed)


class HaltonSampler(Sampler):
    """Halton sequence: radical inverses of the point index in the first ``d`` prime bases.

    Ref. J. H. Halton, *On the efficiency of certain quasi-random sequences of points in
    evaluating multi-dimensional integrals* (1960).

    Parameters
    ----------
    scramble
        ``True`` (default): ``scipy.stats.qmc.Halton(scramble=True)``, digits permuted at
        random. The plain sequence is badly correlated in high bases when there are few
        points: with 32 points, the coordinates in base 719 (the 128th prime, reached with an
        8x8 grid) all lie below 0.05, so the masks never open those cells. ``False`` gives the
        plain sequence from index 1 (Xplique's ``HaltonSequenceRS`` starts at index 0, the
        all-zero point).
    seed : int or None, default 0
        Seed of the scramble (ignored when ``scramble=False``); None draws fresh randomness.
    """

    needs_power_of_two = False

    def __init__(self, scramble: bool = True, seed: int | None = 0):
        self.scramble = check_flag(scramble, "scramble")
        self.seed = check_seed(seed)

    def points(self, dimension: int, nb_points: int) -> tf.Tensor:
        sequence = qmc.Halton(dimension, scramble=self.scramble, rng=self.seed)
        if not self.scramble:
            sequence.fast_forward(1)  # index 0 is the all-zero point
        return tf.constant(np.minimum(sequence.random(nb_points), 1.0 - 1e-7), tf.float32)


class LatinHypercubeSampler(Sampler):
    """Latin hypercube (``scipy.stats.qmc.LatinHypercube``): each column puts exactly one point
    in each of ``n`` equal strata, jittered inside it.

    Ref. McKay et al., *A comparison of three methods for selecting values of input variables
    in the analysis of output from a computer code* (1979).

    Parameters
    ----------
    seed : int or None, default 0
        Seed of the strata permutations and of the jitter inside each stratum; None draws fresh
        randomness.
    """

    needs_power_of_two = False

    def __init__(self, seed: int | None = 0):
        self.seed = check_seed(seed)

    def points(self, dimension: int, nb_points: int) -> tf.Tensor:
        sequence = qmc.LatinHypercube(dimension, rng=self.seed)
        return tf.constant(sequence.random(nb_points), tf.float32)


#: Xplique's names for the same samplers (``xplique.attributions.global_sensitivity_analysis``).
TFSobolSequenceRS = SobolSampler
ScipySobolSequenceRS = SobolSampler
HaltonSequenceRS = HaltonSampler
LatinHypercubeRS = LatinHypercubeSampler


class UnscrambledHaltonSampler(HaltonSampler):
    """:class:`HaltonSampler` with ``scramble=False``: the plain Halton sequence from index 1
    (deterministic; Xplique's CRAFT design). ``seed`` is accepted and ignored."""

    def __init__(self, seed: int | None = 0):
        super().__init__(scramble=False, seed=seed)


#: one meaning per name; the unscrambled sequences are deterministic, the others take ``seed``
SAMPLERS = {
    "sobol": SobolSampler,
    "scrambled_sobol": ScrambledSobolSampler,
    "halton": HaltonSampler,
    "halton_unscrambled": UnscrambledHaltonSampler,
    "latin_hypercube": LatinHypercubeSampler,
}


class _CallableSampler(Sampler):
    """Wrap a foreign replicated sampler ``f(d, n) -> [A; B; C]`` (e.g. one of Xplique's)."""

    def __init__(self, fn: Any):
        self.fn = fn

    def points(self, dimension: int, nb_points: int) -> tf.Tensor:  # pragma: no cover - unused
        raise NotImplementedError

    def sample(self, dimension: int, nb_design: int) -> Design:
        stacked = tf.convert_to_tensor(self.fn(dimension, nb_design), tf.float32)
        if stacked.shape.rank != 2 or stacked.shape[0] < 2 * nb_design:
            raise ValueError(
                f"`sampler` {self.fn!r} must return the stacked design [A; B; ...] with at least "
                f"{2 * nb_design} rows of {dimension} columns, got shape {tuple(stacked.shape)}."
            )
        return Design(stacked[:nb_design], stacked[nb_design : 2 * nb_design])


def get_sampler(sampler: Any = None, seed: int | None = 0) -> Sampler:
    """Resolve ``sampler``: ``None`` (deterministic Sobol'), a name, a :class:`Sampler`, or any
    callable ``(dimension, nb_design) -> [A; B; ...]`` such as Xplique's replicated samplers.

    Each name has exactly one meaning:

    ========================  ==============================================================
    ``"sobol"``               unscrambled Sobol' (``tf.math.sobol_sample``, as Xplique's
                              ``TFSobolSequenceRS``); deterministic, ``seed`` ignored
    ``"scrambled_sobol"``     ``scipy.stats.qmc.Sobol(scramble=True)``: matrix scramble plus
                              digital shift, seeded
    ``"halton"``              ``scipy.stats.qmc.Halton(scramble=True)``, seeded (scipy's
                              default; the plain sequence is badly correlated in high bases)
    ``"halton_unscrambled"``  the plain Halton sequence from index 1; deterministic, ``seed``
                              ignored (Xplique's CRAFT design)
    ``"latin_hypercube"``     ``scipy.stats.qmc.LatinHypercube``, seeded
    ========================  ==============================================================

    Parameters
    ----------
    sampler
        ``None``, a name above, a :class:`Sampler` (returned as is, with its own seed) or a
        callable ``(dimension, nb_design) -> [A; B; ...]``.
    seed : int or None, default 0
        Seed of a randomised sampler given by name; None draws fresh randomness.
    """
    seed = check_seed(seed)
    if sampler is None:
        return SobolSampler()
    if isinstance(sampler, Sampler):
        return sampler
    if isinstance(sampler, str):
        if sampler not in SAMPLERS:
            raise ValueError(
                f"`sampler` must be one of {sorted(SAMPLERS)}, a Sampler or a callable "
                f"(dimension, nb_design) -> design, got {sampler!r}."
            )
        return SAMPLERS[sampler](seed=seed)
    if callable(sampler):
        return _CallableSampler(sampler)
    raise TypeError(
        f"`sampler` must be None, a name, a Sampler or a callable, got {type(sampler).__name__}."
    )
