"""Non-negative least squares codes ``u(a) = argmin_{u >= 0} ||a - u W||^2`` and their Jacobian.

Used by :class:`~xplique_lens.concepts.extractors.NMF` to encode new activations with a fixed
concept bank ``W`` (``(r, p)``), and by CRAFT's concept attribution maps, which differentiate the
code through the NNLS solution (implicit differentiation, Fel et al. 2023, "CRAFT", CVPR,
section 3.3).

Solvers. ``nnls_bpp`` (block principal pivoting, Kim & Park 2011) is exact: it guesses the
active set of every row, solves the restricted normal equations (one batched ``r x r`` solve),
and exchanges the variables that violate the KKT conditions, in 4 to 7 exchanges on the
reference CNN's codes; it is what ``NMF.transform`` uses. ``nnls_hals`` (coordinate descent)
converges linearly: 300 sweeps left codes 3% off on the same data, for 8x the time.

Implicit differentiation. At the solution ``u*`` with active set ``S = {k : u*_k > 0}``, the KKT
conditions read ``(W_S W_S^T) u*_S = W_S a`` and ``u*_k = 0`` off ``S``. Where the active set is
locally constant (almost everywhere), the implicit function theorem gives

    d u*_S / d a = (W_S W_S^T)^{-1} W_S,        d u*_k / d a = 0  for k not in S,

a ``(r, p)`` Jacobian per activation vector. It is computed for all vectors at once with a batched
``r x r`` solve (rows and columns outside ``S`` replaced by the identity, a tiny ridge for the
rank-deficient case). Since ``u*`` is positively homogeneous of degree 1 in ``a``,
``J a = u*`` (Euler), a property the tests check.

Scale. NMF leaves the scale of each concept free (``u_k w_k = (u_k / s) (s w_k)``), and HALS
returns rows of ``W`` whose norms can span six orders of magnitude (15 to 2.5e6 on the reference
CNN), so ``W W^T`` has a condition number near 1e11. Everything here is therefore solved with
the unit-norm rows ``V = D^{-1} W`` (``D`` the row norms): ``u* = D^{-1} v*`` with ``v*`` the NNLS
codes for ``V`` and ``d u*/d a = D^{-1} P_S (V_S V_S^T)^{-1} V_S``. The ridge and the active-set
threshold then act on comparable quantities (a ridge proportional to the mean diagonal of
``W W^T`` swamped the small-norm concepts: their Jacobian shrank by 400x and Euler's identity
failed); the solutions are unchanged up to float32 rounding.
"""

from __future__ import annotations

import tensorflow as tf

#: Codes below this (relative to the largest code of the row, for unit-norm rows) are inactive.
ACTIVE_THRESHOLD = 1e-6


def _unit_rows(components: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Rows of ``W`` scaled to unit norm, and the norms ``(r,)`` (a zero row keeps norm 1)."""
    components = tf.convert_to_tensor(components, tf.float32)
    norms = tf.norm(components, axis=1)
    norms = tf.where(norms > 0, norms, tf.ones_like(norms))
    return components / norms[:, None], norms


@tf.function(reduce_retracing=True)
def nnls_hals(
    activations: tf.Tensor,
    components: tf.Tensor,
    max_iter: tf.Tensor | int = 200,
    tol: tf.Tensor | float = 1e-6,
) -> tf.Tensor:
    """NNLS codes of every row of ``activations`` ``(n, p)`` for the dictionary ``(r, p)``.

    Block coordinate descent (HALS) on ``U`` with ``W`` fixed (in the unit-row basis, see the
    module doc), started from the clipped least-squares solution, until the largest relative
    change of a sweep is below ``tol`` or ``max_iter`` sweeps. Rows are independent; the cost
    per sweep is ``O(n r^2)`` after one ``A W^T`` product.
    """
    unit, norms = _unit_rows(components)
    r = tf.shape(unit)[0]
    gram = tf.matmul(unit, unit, transpose_b=True)  # (r, r), unit diagonal
    cross = tf.matmul(activations, unit, transpose_b=True)  # (n, r)
    diag = tf.maximum(tf.linalg.diag_part(gram), 1e-12)
    ridge = 1e-6 * tf.eye(r)
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
    return codes / norms[None]


@tf.function(reduce_retracing=True)
def nnls_bpp(
    activations: tf.Tensor,
    components: tf.Tensor,
    max_iter: tf.Tensor | int = 100,
    tol: tf.Tensor | float = 1e-6,
) -> tf.Tensor:
    """Exact NNLS codes of every row of ``activations`` ``(n, p)`` by block principal pivoting.

    For ``min_x 0.5 x^T G x - c^T x`` s.t. ``x >= 0`` (``G = V V^T``, ``c = a V^T``, unit rows
    ``V``, see the module doc), each row keeps a passive set ``F``: ``x_F`` solves the normal
    equations restricted to ``F`` and the dual ``y = G x - c`` vanishes on ``F``. The variables
    with ``x_F < 0`` or ``y_{not F} < 0`` (below ``-tol * max |c|``) are all exchanged while
    their number decreases (at most 3 times without decrease), else only the last one, which
    terminates (Kim & Park, "Fast nonnegative matrix factorization: an active-set-like method
    and comparisons", SIAM J. Sci. Comput. 2011, algorithm 2). Starts from the positive set of
    the least-squares solution; stops when every row satisfies the KKT conditions or after
    ``max_iter`` exchanges (rows still infeasible then keep their last, clipped, solution).
    One batched ``r x r`` solve per exchange, over the rows not solved yet.
    """
    unit, norms = _unit_rows(components)
    r = tf.shape(unit)[0]
    gram = tf.matmul(unit, unit, transpose_b=True)  # (r, r), unit diagonal
    cross = tf.matmul(activations, unit, transpose_b=True)  # (n, r)
    n = tf.shape(cross)[0]
    eye = tf.eye(r)
    threshold = tol * tf.maximum(tf.reduce_max(tf.abs(cross), axis=1, keepdims=True), 1e-30)
    least_squares = tf.transpose(tf.linalg.solve(gram + 1e-6 * eye, tf.transpose(cross)))

    def solve(passive, cross):
        mask = tf.cast(passive, tf.float32)
        restricted = mask[:, :, None] * gram[None] * mask[:, None, :]
        restricted += (1.0 - mask)[:, :, None] * eye[None] + 1e-7 * eye[None]
        x = tf.linalg.solve(restricted, (mask * cross)[:, :, None])[:, :, 0] * mask
        y = (tf.matmul(x, gram) - cross) * (1.0 - mask)
        return x, y

    def cond(i, rows, codes, passive, chances, best):
        return tf.logical_and(i < max_iter, tf.size(rows) > 0)

    def body(i, rows, codes, passive, chances, best):
        # only the rows that are not solved yet (fewer at each exchange)
        at = rows[:, None]
        row_passive, row_chances, row_best = (tf.gather(t, rows) for t in (passive, chances, best))
        x, y = solve(row_passive, tf.gather(cross, rows))
        limit = tf.gather(threshold, rows)
        infeasible = (row_passive & (x < -limit)) | (~row_passive & (y < -limit))
        count = tf.reduce_sum(tf.cast(infeasible, tf.int32), axis=1)
        fewer = count < row_best
        exchange_all = fewer | (row_chances >= 1)
        row_chances = tf.where(fewer, 3, tf.where(exchange_all, row_chances - 1, row_chances))
        index = tf.range(r)[None]
        last = tf.equal(index, tf.reduce_max(tf.where(infeasible, index, -1), 1, keepdims=True))
        exchange = tf.where(exchange_all[:, None], infeasible, last)
        codes = tf.tensor_scatter_nd_update(codes, at, x)
        passive = tf.tensor_scatter_nd_update(
            passive, at, tf.math.logical_xor(row_passive, exchange)
        )
        chances = tf.tensor_scatter_nd_update(chances, at, row_chances)
        best = tf.tensor_scatter_nd_update(best, at, tf.minimum(row_best, count))
        return i + 1, tf.boolean_mask(rows, count > 0), codes, passive, chances, best

    state = (
        tf.constant(0),
        tf.range(n),
        tf.zeros_like(cross),
        least_squares > 0,
        tf.fill([n], 3),
        tf.fill([n], r + 1),
    )
    vector, matrix = tf.TensorShape([None]), tf.TensorShape([None, None])
    invariants = (tf.TensorShape([]), vector, matrix, matrix, vector, vector)
    _, _, codes, _, _, _ = tf.while_loop(cond, body, state, shape_invariants=invariants)
    return tf.maximum(codes, 0.0) / norms[None]


def _restricted_system(codes: tf.Tensor, components: tf.Tensor):
    """``(M, active, V, D)``: the unit-row Gram restricted to each row's active set (identity
    off it, plus a tiny ridge), the active mask ``(n, r)``, the unit rows and their norms."""
    unit, norms = _unit_rows(components)
    r = tf.shape(unit)[0]
    gram = tf.matmul(unit, unit, transpose_b=True)
    scaled = codes * norms[None]  # codes of the unit rows: comparable across concepts
    scale = tf.reduce_max(scaled, axis=1, keepdims=True)
    active = tf.cast(scaled > ACTIVE_THRESHOLD * tf.maximum(scale, 1e-30), tf.float32)  # (n, r)
    eye = tf.eye(r)
    restricted = active[:, :, None] * gram[None] * active[:, None, :]
    restricted += (1.0 - active)[:, :, None] * eye[None] + 1e-7 * eye[None]
    return restricted, active, unit, norms


@tf.function(reduce_retracing=True)
def nnls_jacobian(codes: tf.Tensor, components: tf.Tensor) -> tf.Tensor:
    """Implicit Jacobian ``d u* / d a`` of the NNLS codes, ``(n, r, p)`` for codes ``(n, r)``.

    ``J = D^{-1} P_S (V_S V_S^T)^{-1} V_S`` with ``S`` the active set of each row and ``V`` the
    unit-norm rows of ``W`` (see module doc).
    """
    restricted, active, unit, norms = _restricted_system(codes, components)
    rhs = active[:, :, None] * unit[None]  # (n, r, p) = P_S V
    jac = tf.linalg.solve(restricted, rhs)
    return (active / norms[None])[:, :, None] * jac


def nnls_vjp(codes: tf.Tensor, components: tf.Tensor, upstream: tf.Tensor) -> tf.Tensor:
    """``upstream^T d u*/d a`` for rows of codes ``(n, r)`` and upstream gradients ``(n, r)``.

    Cheaper than the full Jacobian: one ``r x r`` solve per row, result ``(n, p)``.
    """
    restricted, active, unit, norms = _restricted_system(codes, components)
    # the restricted matrix is symmetric: solve once for the upstream vector
    rhs = (active * upstream / norms[None])[:, :, None]
    v = tf.linalg.solve(restricted, rhs)[:, :, 0]
    return tf.matmul(active * v, unit)


def make_differentiable_nnls(components: tf.Tensor, max_iter: int = 100, tol: float = 1e-6):
    """``activations (n, p) -> codes (n, r)`` (``nnls_bpp``), with the implicit NNLS gradient.

    The encoder is cached by its callers (``NMF.tf_transform``), possibly first built while a
    ``tf.function`` is tracing: the dictionary is made an eager constant so that it outlives
    that graph.
    """
    with tf.init_scope():
        components = tf.constant(components, tf.float32)

    @tf.custom_gradient
    def encode(activations):
        codes = nnls_bpp(tf.stop_gradient(activations), components, max_iter, tol)

        def grad(upstream):
            return nnls_vjp(codes, components, upstream)

        return codes, grad

    return encode
