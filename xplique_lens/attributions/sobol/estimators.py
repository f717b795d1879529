"""Estimators of Sobol' indices from the function values on a design.

Notation: ``f_A = f(A)`` ``(..., n)``, ``f_C = f(C_i)`` ``(..., d, n)`` where ``C_i`` is ``A``
with its column ``i`` taken from ``B`` (so ``A`` and ``C_i`` share every factor but ``i``), and
``f_B = f(B)`` ``(..., n)``. Leading dimensions are batch dimensions (one set of indices per
image, per concept code, ...). Every estimator here is a pure TensorFlow function: call it on
scores of any origin (an image model, ``h`` on concept codes, an analytic test function).

Total-order indices need only ``f_A`` and ``f_C``: ``n * (d + 1)`` evaluations. Only
:class:`SaltelliEstimator` (``needs_b = True``) also needs ``f_B`` (``n`` more evaluations): it
estimates the variance and ``f0**2`` from both ``A`` and ``B``, and it is the one that also gives
first-order indices (:func:`sobol_first_order_indices`).

Estimators built on ``E[f_A * f_C]`` (Homma, Janon, Saltelli) are evaluated on centred outputs:
the indices of ``f + c`` equal those of ``f``, and so do the estimates, whereas the textbook
formulas (and Xplique's) cancel catastrophically when ``|mean(f)| >> std(f)``, e.g. on logits.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import tensorflow as tf

EPSILON = 1e-12


def _variance(values: tf.Tensor, axis: int = -1) -> tf.Tensor:
    """Unbiased variance (ddof = 1) along ``axis``, floored at ``EPSILON``."""
    n = tf.cast(tf.shape(values)[axis], values.dtype)
    mean = tf.reduce_mean(values, axis=axis, keepdims=True)
    ssd = tf.reduce_sum(tf.square(values - mean), axis=axis)
    return tf.maximum(ssd / tf.maximum(n - 1.0, 1.0), EPSILON)


class SobolEstimator(ABC):
    """Estimator of total-order Sobol' indices from ``f(A)``, ``f(C_i)`` (and ``f(B)``).

    Call :meth:`total_indices` with batched scores; instances are also callable with Xplique's
    contract ``estimator(masks, outputs, nb_design)`` (outputs stacked as ``[A; B; C]``).
    """

    #: whether :meth:`total_indices` needs ``f(B)`` (``n`` more model evaluations)
    needs_b: bool = False

    @abstractmethod
    def _total(self, fa: tf.Tensor, fc: tf.Tensor, fb: tf.Tensor | None) -> tf.Tensor:
        """``fa (..., 1, n)``, ``fc (..., d, n)``, ``fb (..., 1, n)`` -> ``(..., d)``."""

    def total_indices(
        self, scores_a: tf.Tensor, scores_c: tf.Tensor, scores_b: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Total-order indices ``(..., d)`` from ``f(A)`` ``(..., n)`` and ``f(C)`` ``(..., d, n)``.

        ``scores_b`` ``(..., n)`` is required when :attr:`needs_b`, ignored otherwise.
        """
        fa = tf.cast(tf.convert_to_tensor(scores_a), tf.float32)
        fc = tf.cast(tf.convert_to_tensor(scores_c), tf.float32)
        ranks = (fa.shape.rank, fc.shape.rank)
        if None not in ranks and ranks[1] != ranks[0] + 1:
            raise ValueError(
                f"`scores_c` must have one more dimension (d) than `scores_a`: got shapes "
                f"{tuple(fa.shape)} and {tuple(fc.shape)}; expected (..., n) and (..., d, n)."
            )
        fb = None
        if self.needs_b:
            if scores_b is None:
                raise ValueError(f"{type(self).__name__} needs `scores_b`, the scores of f(B).")
            fb = tf.cast(tf.convert_to_tensor(scores_b), tf.float32)[..., None, :]
        return self._total(fa[..., None, :], fc, fb)

    def __call__(self, masks: Any, outputs: Any, nb_design: int) -> tf.Tensor:
        """Xplique's contract: ``outputs`` stacked as ``[A; B; C_1; ...; C_d]``; returns the
        indices reshaped like one (low-resolution) mask, ``masks.shape[1:]``."""
        masks = tf.convert_to_tensor(masks)
        outputs = tf.reshape(tf.cast(outputs, tf.float32), (-1,))
        shape = masks.shape[1:]
        d = int(tf.reduce_prod(shape))
        if outputs.shape[0] != nb_design * (d + 2):
            raise ValueError(
                f"`outputs` must hold nb_design * (d + 2) = {nb_design * (d + 2)} values "
                f"(A, B then C), got {outputs.shape[0]}."
            )
        fa, fb = outputs[:nb_design], outputs[nb_design : 2 * nb_design]
        fc = tf.reshape(outputs[2 * nb_design :], (d, nb_design))
        return tf.reshape(self.total_indices(fa, fc, fb), shape)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class JansenEstimator(SobolEstimator):
    """Jansen (1999): ``ST_i = sum_j (f(A_j) - f(C_ij))**2 / (2 n Var[f(A)])``.

    The estimator of the paper and the default: unbiased numerator, insensitive to an offset of
    ``f``, the lowest error of the family on the Ishigami function.

    Ref. M. Jansen, *Analysis of variance designs for model output* (1999).
    """

    def _total(self, fa, fc, fb):
        n = tf.cast(tf.shape(fa)[-1], fa.dtype)
        return tf.reduce_sum(tf.square(fa - fc), -1) / (2.0 * n * _variance(fa))


class HommaEstimator(SobolEstimator):
    """Homma & Saltelli (1996): ``ST_i = 1 - (mean(f_A f_Ci) - mean(f_A)**2) / Var[f(A)]``.

    Evaluated on outputs centred by ``mean(f_A)`` (see the module docstring).

    Ref. T. Homma, A. Saltelli, *Importance measures in global sensitivity analysis of
    nonlinear models* (1996).
    """

    def _total(self, fa, fc, fb):
        mean = tf.reduce_mean(fa, -1, keepdims=True)
        fa, fc = fa - mean, fc - mean
        return 1.0 - tf.reduce_mean(fa * fc, -1) / _variance(fa)


class JanonEstimator(SobolEstimator):
    """Janon et al. (2014): mean and variance estimated from both ``f(A)`` and ``f(C_i)``.

    ``ST_i = 1 - (mean(f_A f_Ci) - m_i**2) / V_i`` with ``m_i = mean((f_A + f_Ci) / 2)`` and
    ``V_i = mean((f_A**2 + f_Ci**2) / 2) - m_i**2`` (asymptotically efficient).

    Ref. A. Janon et al., *Asymptotic normality and efficiency of two Sobol index estimators*
    (2014).
    """

    def _total(self, fa, fc, fb):
        centre = tf.reduce_mean(fa, -1, keepdims=True)
        fa, fc = fa - centre, fc - centre
        mean = tf.reduce_mean(0.5 * (fa + fc), -1)
        variance = tf.reduce_mean(0.5 * (tf.square(fa) + tf.square(fc)), -1) - tf.square(mean)
        covariance = tf.reduce_mean(fa * fc, -1) - tf.square(mean)
        return 1.0 - covariance / tf.maximum(variance, EPSILON)


class GlenEstimator(SobolEstimator):
    """Glen & Isaacs (2012): ``ST_i = 1 - corr(f(A), f(C_i))`` (Pearson correlation).

    Ref. G. Glen, K. Isaacs, *Estimating Sobol sensitivity indices using correlations* (2012).
    """

    def _total(self, fa, fc, fb):
        fa = fa - tf.reduce_mean(fa, -1, keepdims=True)
        fc = fc - tf.reduce_mean(fc, -1, keepdims=True)
        covariance = tf.reduce_sum(fa * fc, -1)
        norms = tf.sqrt(tf.reduce_sum(tf.square(fa), -1) * tf.reduce_sum(tf.square(fc), -1))
        return 1.0 - covariance / tf.maximum(norms, EPSILON)


class SaltelliEstimator(SobolEstimator):
    """Saltelli (2002): ``ST_i = 1 - mean(f_A (f_Ci - f_B)) / V``, ``V = Var[f(A), f(B)]``.

    Uses ``f(B)`` (``needs_b``): ``mean(f_A f_B)`` estimates ``f0**2`` and the variance pools
    ``A`` and ``B``. The only estimator here that costs ``n * (d + 2)`` evaluations; use it when
    the first-order indices (:func:`sobol_first_order_indices`) are wanted too.

    Ref. A. Saltelli, *Making best use of model evaluations to compute sensitivity indices*
    (2002); Saltelli et al., *Global Sensitivity Analysis. The Primer* (2008).
    """

    needs_b = True

    def _total(self, fa, fc, fb):
        centre = tf.reduce_mean(tf.concat([fa, fb], -1), -1, keepdims=True)
        fa, fb, fc = fa - centre, fb - centre, fc - centre
        variance = _variance(tf.concat([fa, fb], -1))
        return 1.0 - tf.reduce_mean(fa * (fc - fb), -1) / variance


ESTIMATORS = {
    "jansen": JansenEstimator,
    "homma": HommaEstimator,
    "janon": JanonEstimator,
    "glen": GlenEstimator,
    "saltelli": SaltelliEstimator,
}


def get_estimator(estimator: Any = None) -> SobolEstimator:
    """Resolve ``estimator``: ``None`` (Jansen), a name, or a :class:`SobolEstimator`.

    Xplique's estimator objects are accepted too and replaced by ours of the same name.
    """
    if estimator is None:
        return JansenEstimator()
    if isinstance(estimator, SobolEstimator):
        return estimator
    if isinstance(estimator, str):
        key = estimator.lower()
        if key not in ESTIMATORS:
            raise ValueError(
                f"`estimator` must be one of {sorted(ESTIMATORS)} or a SobolEstimator, got "
                f"{estimator!r}."
            )
        return ESTIMATORS[key]()
    by_class_name = {cls.__name__: cls for cls in ESTIMATORS.values()}
    name = type(estimator).__name__
    if name in by_class_name:  # e.g. xplique's JansenEstimator(): same formula, batched here
        return by_class_name[name]()
    raise TypeError(
        f"`estimator` must be None, one of {sorted(ESTIMATORS)} or a SobolEstimator, got "
        f"{type(estimator).__name__}."
    )


def sobol_total_indices(
    scores_a: Any,
    scores_c: Any,
    estimator: Any = None,
    scores_b: Any = None,
) -> tf.Tensor:
    """Total-order Sobol' indices ``(..., d)`` from the scores on a design.

    Parameters
    ----------
    scores_a
        ``f(A)``, shape ``(..., n)``.
    scores_c
        ``f(C_i)``, shape ``(..., d, n)``: ``C_i`` is ``A`` with column ``i`` from ``B``.
    estimator
        ``None`` (Jansen), a name (``"jansen"``, ``"homma"``, ``"janon"``, ``"glen"``,
        ``"saltelli"``) or a :class:`SobolEstimator`.
    scores_b
        ``f(B)`` ``(..., n)``, needed only by estimators with ``needs_b`` (Saltelli).
    """
    return get_estimator(estimator).total_indices(scores_a, scores_c, scores_b)


def sobol_first_order_indices(scores_a: Any, scores_b: Any, scores_c: Any) -> tf.Tensor:
    """First-order Sobol' indices ``(..., d)``, Saltelli et al. (2010):
    ``S_i = mean(f_B (f_Ci - f_A)) / V`` with ``V = Var[f(A), f(B)]`` (outputs centred).

    Needs ``f(B)``: ``n * (d + 2)`` evaluations in all.
    """
    fa = tf.cast(tf.convert_to_tensor(scores_a), tf.float32)[..., None, :]
    fb = tf.cast(tf.convert_to_tensor(scores_b), tf.float32)[..., None, :]
    fc = tf.cast(tf.convert_to_tensor(scores_c), tf.float32)
    centre = tf.reduce_mean(tf.concat([fa, fb], -1), -1, keepdims=True)
    fa, fb, fc = fa - centre, fb - centre, fc - centre
    return tf.reduce_mean(fb * (fc - fa), -1) / _variance(tf.concat([fa, fb], -1))
