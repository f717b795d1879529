"""Non-negative least squares codes ``u(a) = argmin_{u >= 0} ||a - u W||^2`` and their Jacobian.

Used by :class:`~xplique_lens.concepts.extractors.NMF` to encode new activations with a fixed
concept bank ``W`` (``(r, p)``), and by CRAFT's concept attribution maps, which differentiate the
code through the NNLS solution (implicit differentiation, Fel et al. 2023, "CRAFT", CVPR,
section 3.3).

Implicit differentiation. At the solution ``u*`` with active set ``S = {k : u*_k > 0}``, the KKT
conditions read ``(W_S W_S^T) u*_S = W_S a`` and ``u*_k = 0`` off ``S``. Where the active set is
locally constant (almost everywhere), the implicit function theorem gives

    d u*_S / d a = (W_S W_S^T)^{-1} W_S,        d u*_k / d a = 0  for k not in S,

a ``(r, p)`` Jacobian per activation vector. It is computed for all vectors at once with a batched
``r x r`` solve (rows and columns outside ``S`` replaced by the identity, a tiny ridge for the
rank-deficient case). Since ``u*`` is positively homogeneous of degree 1 in ``a``,
``J a = u*`` (Euler), a property the tests check.
"""

from __future__ import annotations

import tensorflow as tf

#: Codes below this (relative to the largest code of the row) are treated as inactive.
ACTIVE_THRESHOLD = 1e-6


@tf.function(reduce_retracing=True)
def nnls_hals(
    activations: tf.Tensor,
    components: tf.Tensor,
    max_iter: tf.Tensor | int = 200,
    tol: tf.Tensor | float = 1e-6,
) -> tf.Tensor:
    """NNLS codes of every row of ``activations`` ``(n, p)`` for the dictionary ``(r, p)``.

    Block coordinate descent (HALS) on ``U`` with ``W`` fixed, started from the clipped
    least-squares solution, until the largest relative change of a sweep is below ``tol`` or
    ``max_iter`` sweeps. Rows are independent; the cost per sweep is ``O(n r^2)`` after one
    ``A W^T`` product.
    """
    components = tf.convert_to_tensor(components, tf.float32)
    r = tf.shape(components)[0]
    gram = tf.matmul(components, components, transpose_b=True)  # (r, r)
    cross = tf.matmul(activations, components, transpose_b=True)  # (n, r)
    diag = tf.maximum(tf.linalg.diag_part(gram), 1e-12)
    ridge = 1e-6 * tf.reduce_mean(diag) * tf.eye(r)
    codes = tf.maximum(tf.transpose(tf.linalg.solve(gram + ridge, tf.transpose(cross))), 0.0)

    def sweep(codes):
        def body(k, codes):
            gradient = cross[:, k] - tf.linalg.matvec(codes, gram[:, k])
            new = tf.maximum(codes[:, k] + gradient / diag[k], 0.0)
            onehot = tf.one_hot(k, r, dtype=codes.dtype)
            return k + 1, codes + (new - codes[:, k])[:, None] * onehot[None, :]

        _, codes = tf.while_loop(lambda k, _: k < r, body, (tf.constant(0), codes))
        return codes

    def cond(i, codes, change):
        return tf.logical_and(i < max_iter, change > tol)

    def step(i, codes, change):
        new = sweep(codes)
        delta = tf.reduce_max(tf.abs(new - codes))
        scale = tf.maximum(tf.reduce_max(tf.abs(new)), 1e-12)
        return i + 1, new, delta / scale

    _, codes, _ = tf.while_loop(cond, step, (tf.constant(0), codes, tf.constant(float("inf"))))
    return codes


@tf.function(reduce_retracing=True)
def nnls_jacobian(codes: tf.Tensor, components: tf.Tensor) -> tf.Tensor:
    """Implicit Jacobian ``d u* / d a`` of the NNLS codes, ``(n, r, p)`` for codes ``(n, r)``.

    ``J = P_S (W_S W_S^T)^{-1} W_S`` with ``S`` the active set of each row (see module doc).
    """
    components = tf.convert_to_tensor(components, tf.float32)
    r = tf.shape(components)[0]
    gram = tf.matmul(components, components, transpose_b=True)
    scale = tf.reduce_max(codes, axis=1, keepdims=True)
    active = tf.cast(codes > ACTIVE_THRESHOLD * tf.maximum(scale, 1e-30), tf.float32)  # (n, r)
    eye = tf.eye(r)
    restricted = active[:, :, None] * gram[None] * active[:, None, :]
    restricted += (1.0 - active)[:, :, None] * eye[None]
    ridge = 1e-7 * tf.reduce_mean(tf.linalg.diag_part(gram)) * eye
    rhs = active[:, :, None] * components[None]  # (n, r, p) = P_S W
    jac = tf.linalg.solve(restricted + ridge[None], rhs)
    return active[:, :, None] * jac


def nnls_vjp(codes: tf.Tensor, components: tf.Tensor, upstream: tf.Tensor) -> tf.Tensor:
    """``upstream^T d u*/d a`` for rows of codes ``(n, r)`` and upstream gradients ``(n, r)``.

    Cheaper than the full Jacobian: one ``r x r`` solve per row, result ``(n, p)``.
    """
    components = tf.convert_to_tensor(components, tf.float32)
    r = tf.shape(components)[0]
    gram = tf.matmul(components, components, transpose_b=True)
    scale = tf.reduce_max(codes, axis=1, keepdims=True)
    active = tf.cast(codes > ACTIVE_THRESHOLD * tf.maximum(scale, 1e-30), tf.float32)
    eye = tf.eye(r)
    restricted = active[:, :, None] * gram[None] * active[:, None, :]
    restricted += (1.0 - active)[:, :, None] * eye[None]
    ridge = 1e-7 * tf.reduce_mean(tf.linalg.diag_part(gram)) * eye
    # the restricted matrix is symmetric: solve once for the upstream vector
    v = tf.linalg.solve(restricted + ridge[None], (active * upstream)[:, :, None])[:, :, 0]
    return tf.matmul(active * v, components)


def make_differentiable_nnls(components: tf.Tensor, max_iter: int = 200, tol: float = 1e-6):
    """``activations (n, p) -> codes (n, r)``, with the implicit NNLS gradient as its gradient."""
    components = tf.constant(components, tf.float32)

    @tf.custom_gradient
    def encode(activations):
        codes = nnls_hals(tf.stop_gradient(activations), components, max_iter, tol)

        def grad(upstream):
            return nnls_vjp(codes, components, upstream)

        return codes, grad

    return encode
