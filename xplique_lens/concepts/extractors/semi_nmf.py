"""Semi-NMF ``A ~ U W`` with ``U >= 0`` and ``W`` signed, for activations that can be negative.

CRAFT factorises non-negative activations (after a ReLU) with NMF. Layers of modern networks are
often signed (swish in EfficientNet, GELU in ConvNeXt and ViTs, residual sums). Semi-NMF (Ding,
Li & Jordan 2010) keeps what makes CRAFT's concepts readable and its importance meaningful --
each activation is a non-negative *amount* of each concept, so masking a code removes a concept
-- while letting the concept directions ``W`` take any sign. Everything downstream of NMF in
CRAFT carries over unchanged: codes of new activations are the NNLS solution
``u*(a) = argmin_{u >= 0} ||a - u W||`` (NNLS needs no sign on ``W``), its implicit Jacobian and
Euler's identity ``J a = u*`` hold as for NMF (see ``nnls``), and ``h(U W)`` receives
reconstructions of the signed activations the model really computes.

Solver: alternating exact block minimisation, in one ``tf.function``. ``W`` given ``U`` is an
unconstrained least-squares problem, solved in closed form (``(U^T U + eps I)^{-1} U^T A``, a tiny
ridge for dead concepts); ``U`` given ``W`` is an NNLS problem, improved by HALS sweeps. Both
steps decrease the Frobenius error, so it decreases monotonically. Started from NNDSVDa, which
only needs the SVD of ``A`` (it is sign-invariant).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ...commons.validation import check_positive_int
from .base import as_activation_matrix
from .nmf import NNLSEncoded, hals_update, nndsvda_init


@tf.function(reduce_retracing=True)
def semi_nmf_solve(
    activations: tf.Tensor,
    codes: tf.Tensor,
    max_iter: tf.Tensor,
    tol: tf.Tensor,
    inner_sweeps: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """Alternate ``W = argmin ||A - U W||`` and HALS sweeps on ``U >= 0`` from ``codes``.

    Returns ``(U, W, n_iter, squared_error)``; stops when the relative decrease of the squared
    error over one iteration (divided by the first error) falls below ``tol``.
    """
    r = tf.shape(codes)[1]

    def solve_components(codes):
        gram = tf.matmul(codes, codes, transpose_a=True)  # U^T U (r, r)
        ridge = 1e-7 * tf.maximum(tf.linalg.trace(gram) / tf.cast(r, tf.float32), 1e-30)
        cross = tf.matmul(codes, activations, transpose_a=True)  # U^T A (r, p)
        return tf.linalg.solve(gram + ridge * tf.eye(r), cross)

    def error(codes, components):
        return tf.reduce_sum(tf.square(activations - tf.matmul(codes, components)))

    def step(i, codes, components, prev, first, decrease):
        gram_w = tf.matmul(components, components, transpose_b=True)  # W W^T
        cross_w = tf.matmul(components, activations, transpose_b=True)  # W A^T (r, n)
        codes = tf.transpose(hals_update(tf.transpose(codes), gram_w, cross_w, inner_sweeps))
        components = solve_components(codes)
        err = error(codes, components)
        first = tf.where(i == 0, err, first)
        return i + 1, codes, components, err, first, (prev - err) / tf.maximum(first, 1e-30)

    def cond(i, codes, components, prev, first, decrease):
        return tf.logical_and(i < max_iter, decrease > tol)

    inf = tf.constant(float("inf"))
    components = solve_components(codes)
    i, codes, components, err, _, _ = tf.while_loop(
        cond, step, (tf.constant(0), codes, components, inf, inf, inf)
    )
    return codes, components, i, err


class SemiNMF(NNLSEncoded):
    """Semi-non-negative matrix factorisation: codes ``U >= 0``, signed concept bank ``W``.

    ``A (n, p)`` of any sign is factorised as ``U (n, r) W (r, p)`` minimising the Frobenius
    error with ``U >= 0`` only. This is the extractor of ``Craft(activation_policy="signed")``:
    on a layer that is not non-negative, concepts keep non-negative codes (Sobol masks on the
    codes and the NNLS attribution maps mean what they mean with NMF), and the reconstructions
    ``U W`` that ``h`` receives are signed like the real activations (clamping them to zero
    would show ``h`` activations the model never computes). On non-negative data it is a
    relaxation of NMF (the error is at most NMF's at the same rank).

    Parameters
    ----------
    n_components
        Rank ``r`` (number of concepts).
    max_iter
        Maximum number of iterations (each: HALS sweeps on ``U``, then the exact ``W``).
    tol
        Stop when the relative decrease of the squared error over one iteration, divided by the
        first error, falls below ``tol``.
    inner_sweeps
        HALS sweeps on ``U`` per iteration.
    transform_max_iter, transform_tol
        Stopping rule of the exact NNLS solver of ``transform`` (as :class:`NMF`).

    Attributes
    ----------
    components_
        The concept bank ``W`` ``(r, p)``.
    n_iter_, reconstruction_err_
        Iterations run and the Frobenius error ``||A - U W||``.

    References
    ----------
    Ding, Li & Jordan, "Convex and Semi-Nonnegative Matrix Factorizations", IEEE TPAMI 2010.
    Fel et al., "CRAFT: Concept Recursive Activation FacTorization for Explainability", CVPR 2023.
    """

    non_negative = False  # the codes are, but the activations need not be
    differentiable = True

    def __init__(
        self,
        n_components: int = 10,
        max_iter: int = 300,
        tol: float = 1e-4,
        inner_sweeps: int = 3,
        transform_max_iter: int = 100,
        transform_tol: float = 1e-6,
    ):
        super().__init__(n_components)
        self.max_iter = check_positive_int(max_iter, "max_iter")
        if isinstance(tol, bool) or not isinstance(tol, int | float) or tol < 0:
            raise ValueError(f"`tol` must be a non-negative number, got {tol!r}.")
        self.tol = float(tol)
        self.inner_sweeps = check_positive_int(inner_sweeps, "inner_sweeps")
        self.transform_max_iter = check_positive_int(transform_max_iter, "transform_max_iter")
        self.transform_tol = float(transform_tol)

    def fit_transform(self, activations: Any) -> np.ndarray:
        """Learn ``W`` on ``activations`` ``(n, p)`` (any sign) and return their codes ``U``."""
        matrix = as_activation_matrix(activations)
        self._check_rank(matrix)
        r = self.n_components
        if r <= min(matrix.shape):
            codes, _ = nndsvda_init(matrix, r)
        else:
            codes = tf.ones((matrix.shape[0], r), tf.float32)
        codes, components, n_iter, err = semi_nmf_solve(
            matrix,
            codes,
            tf.constant(self.max_iter),
            tf.constant(self.tol),
            tf.constant(self.inner_sweeps),
        )
        self.components_ = components.numpy()
        self._forget_encoder()
        self.n_iter_ = int(n_iter)
        self.reconstruction_err_ = float(np.sqrt(max(float(err), 0.0)))
        self.n_features_in_ = int(matrix.shape[1])
        return codes.numpy()
