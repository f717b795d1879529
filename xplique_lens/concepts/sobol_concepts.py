"""Total Sobol indices of concept codes for a class logit (CRAFT's concept importance).

For an image with codes ``U`` (``(r,)``, or ``(h, w, r)`` for a spatial layer) and a concept bank
``W`` (``(r, p)``), a design of masks ``M`` (``(D, r)`` in ``[0, 1]``) perturbs the concepts,
``A' = (U * M) W`` (the mask of a concept applied at every position for spatial codes), and the
class score ``h(A')[class_id]`` is recorded. The Jansen estimator turns the scores of the
replicated design into total Sobol indices, one per concept (Fel et al. 2023, "CRAFT", CVPR,
section 3.2; Fel et al. 2021, "Look at the Variance!", NeurIPS).

All images x masks pairs go through ``h`` in batches of ``batch_size`` forward passes (memory
bounded by ``batch_size``); Xplique runs one ``predict`` per image. The estimators are
those of ``xplique_lens.attributions.sobol`` when it is importable (Jansen by default), with a
local Jansen fallback; the default design is Xplique's unscrambled Halton replicated design, and
any sampler object following the ``sampler(dimension, nb_design)`` convention can replace it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from scipy.stats import qmc
from tqdm.auto import tqdm

try:  # the shared Sobol estimators of the attributions family
    from ..attributions.sobol.estimators import sobol_total_indices as _shared_total_indices
except ImportError:  # pragma: no cover - only while the attributions family is absent
    _shared_total_indices = None


def _local_design(dimension: int, nb_design: int, sampler: str = "halton") -> np.ndarray:
    """Saltelli's replicated design ``[A; B; C_1 .. C_d]`` ``(nb_design * (d + 2), d)``.

    ``C_i`` is ``A`` with its column ``i`` taken from ``B``. Unscrambled QMC points (Halton or
    Sobol), so the design is deterministic (same as Xplique's ``HaltonSequenceRS``).
    """
    if sampler == "halton":
        engine = qmc.Halton(dimension * 2, scramble=False)
    elif sampler == "sobol":
        engine = qmc.Sobol(dimension * 2, scramble=False)
    else:
        raise ValueError(f"`sampler` must be 'halton' or 'sobol', got {sampler!r}.")
    ab = engine.random(nb_design).astype(np.float32)
    a, b = ab[:, :dimension], ab[:, dimension:]
    c = np.repeat(a[None], dimension, axis=0)  # (d, n, d)
    c[np.arange(dimension), :, np.arange(dimension)] = b.T
    return np.concatenate([a, b, c.reshape(-1, dimension)], axis=0)


@tf.function(reduce_retracing=True)
def jansen_total_indices(outputs: tf.Tensor, nb_design: int, dimension: int) -> tf.Tensor:
    """Jansen total indices for outputs ``(..., nb_design * (d + 2))`` -> ``(..., d)``.

    ``ST_i = E[(f(A) - f(C_i))^2] / (2 Var f(A))`` (Jansen 1999), vectorised over leading axes.
    """
    a = outputs[..., :nb_design]
    lead = tf.shape(outputs)[:-1]
    c = tf.reshape(outputs[..., 2 * nb_design :], tf.concat([lead, [dimension, nb_design]], 0))
    n = tf.cast(nb_design, outputs.dtype)
    mean = tf.reduce_mean(a, axis=-1, keepdims=True)
    var = tf.reduce_sum(tf.square(a - mean), axis=-1) / (n - 1.0)
    numerator = tf.reduce_mean(tf.square(a[..., None, :] - c), axis=-1)
    return numerator / (2.0 * tf.maximum(var, 1e-12)[..., None])


def concept_design(dimension: int, nb_design: int, sampler: Any = "halton") -> tf.Tensor:
    """Masks ``[A; B; C_1 .. C_d]`` ``(nb_design * (d + 2), d)``.

    ``sampler`` is ``"halton"`` (unscrambled, the points of Xplique's ``HaltonSequenceRS``, its
    choice for CRAFT), ``"sobol"``, or any replicated sampler object called as
    ``sampler(dimension, nb_design)`` (Xplique's convention, also that of
    ``xplique_lens.attributions.sobol`` samplers).
    """
    if callable(sampler):
        return tf.cast(tf.convert_to_tensor(sampler(dimension, nb_design)), tf.float32)
    return tf.constant(_local_design(dimension, nb_design, sampler))


def total_indices(outputs: tf.Tensor, nb_design: int, dimension: int, estimator: Any = None):
    """Total indices ``(..., d)`` from scores of the design ``(..., nb_design * (d + 2))``."""
    if _shared_total_indices is None:
        return jansen_total_indices(outputs, nb_design, dimension)
    lead = tf.shape(outputs)[:-1]
    fa = outputs[..., :nb_design]
    fb = outputs[..., nb_design : 2 * nb_design]
    fc = tf.reshape(outputs[..., 2 * nb_design :], tf.concat([lead, [dimension, nb_design]], 0))
    return _shared_total_indices(fa, fc, estimator, scores_b=fb)


def make_perturbed_scores(
    latent_to_logit: Callable, components: tf.Tensor, mean: tf.Tensor | None, class_id: int
) -> Callable:
    """``(codes (B, ..., r), masks (B, r)) -> h((codes * masks) W + mean)[:, class_id]``."""
    components = tf.constant(components, tf.float32)

    @tf.function(reduce_retracing=True)
    def scores(codes: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        extra = codes.shape.rank - 2
        masks = tf.reshape(masks, tf.concat([tf.shape(masks)[:1], [1] * extra, [-1]], 0))
        activations = tf.tensordot(codes * masks, components, axes=1)
        if mean is not None:
            activations = activations + mean
        return latent_to_logit(activations)[:, class_id]

    return scores


def concept_sobol_indices(
    latent_to_logit: Callable,
    codes: tf.Tensor,
    components: np.ndarray,
    class_id: int,
    nb_design: int = 32,
    batch_size: int | None = 64,
    mean: np.ndarray | None = None,
    sampler: Any = "halton",
    estimator: Any = None,
    verbose: bool = False,
) -> tf.Tensor:
    """Per-image total Sobol indices ``(N, r)`` of the concepts for ``class_id``.

    Parameters
    ----------
    latent_to_logit
        ``h``: activations -> logits.
    codes
        ``(N, r)`` or spatial ``(N, h, w, r)`` concept codes.
    components
        The concept bank ``W`` ``(r, p)``.
    class_id
        Index of the logit to explain.
    nb_design
        Number of QMC points of ``A`` (a power of two); ``nb_design * (r + 2)`` forwards per image.
    batch_size
        Number of ``h`` forward passes per batch (all images and masks mixed).
    mean
        Added to the reconstruction (extractors with a mean, e.g. PCA).
    sampler
        Name or ``ReplicatedSampler`` (see :func:`concept_design`); ``"halton"`` as Xplique.
    estimator
        Name or ``SobolEstimator`` of ``xplique_lens.attributions.sobol`` (default Jansen).
    verbose
        Show a progress bar over the batches.
    """
    codes = tf.convert_to_tensor(codes, tf.float32)
    n, r = int(codes.shape[0]), int(codes.shape[-1])
    masks = concept_design(r, nb_design, sampler)
    d = int(masks.shape[0])
    score = make_perturbed_scores(
        latent_to_logit, components, None if mean is None else tf.constant(mean), class_id
    )
    total = n * d
    step = total if not batch_size else int(batch_size)
    outputs = []
    for start in tqdm(range(0, total, step), disable=not verbose, desc="concept importance"):
        flat = tf.range(start, min(start + step, total))
        batch_codes = tf.gather(codes, flat // d)
        batch_masks = tf.gather(masks, flat % d)
        outputs.append(score(batch_codes, batch_masks))
    outputs = tf.reshape(tf.concat(outputs, 0), (n, d))
    return total_indices(outputs, nb_design, r, estimator)
