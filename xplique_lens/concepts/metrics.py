"""Concept-extraction metrics: how good is a dictionary ``A ~ U W`` (the holistic framework).

Plain functions on activations, codes and dictionaries, and :func:`compare_extractors`, the
paper's comparison table of NMF, PCA, ICA, KMeans and sparse coding on the same activations
(Fel et al. 2023, "A Holistic Approach to Unifying Automatic Concept Extraction and Concept
Importance Estimation", NeurIPS, arXiv 2306.07304, section 4 and table 1):

- :func:`reconstruction_error`: relative l2 error ``||A - A_hat||_F / ||A||_F`` (lower is better);
- :func:`sparsity`: share of zero codes (``"l0"``) or Hoyer's measure (``"hoyer"``), in
  ``[0, 1]`` (higher is sparser);
- :func:`stability`: distance between dictionaries fit on resamples of the data, atoms matched
  by the Hungarian algorithm (lower is more stable); :func:`dictionary_distance` for two banks;
- :func:`fid`: Fréchet distance between Gaussians fitted to the activations and to their
  reconstructions, in the activation space of the layer (or any ``feature_fn`` of it);
- :func:`reconstruction_ood_score`: mean k-nearest-neighbour distance of the reconstructions to
  the real activations, relative to the same distance among real activations (1 is "as in
  distribution as the data", larger is further out). Not to be confused with
  :func:`xplique_lens.metrics.baseline_criteria.ood_score`, the absolute k-NN distance of
  perturbed images to real ones in a model's feature space.

The Fréchet and k-NN kernels are those of every family (:mod:`xplique_lens.commons.stats`).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from scipy.optimize import linear_sum_assignment
from tqdm.auto import tqdm

from ..commons.stats import frechet_distance, knn_distances
from ..commons.validation import check_choice, check_positive_int
from .extractors import ICA, NMF, PCA, KMeans, SparseCoding
from .extractors.base import as_activation_matrix

SPARSITY_METHODS = ("l0", "hoyer")
METRICS = ("reconstruction_error", "sparsity_l0", "sparsity_hoyer", "stability", "fid", "ood")


def _reconstruction(activations: tf.Tensor, extractor_or_reconstruction: Any) -> tf.Tensor:
    """``A_hat`` from a fitted extractor (``inverse_transform(transform(A))``) or given."""
    if hasattr(extractor_or_reconstruction, "transform"):
        extractor = extractor_or_reconstruction
        codes = extractor.transform(activations)
        return tf.constant(extractor.inverse_transform(codes), tf.float32)
    reconstruction = as_activation_matrix(extractor_or_reconstruction, "reconstruction")
    if reconstruction.shape != activations.shape:
        raise ValueError(
            f"`reconstruction` has shape {tuple(reconstruction.shape)} but `activations` has "
            f"{tuple(activations.shape)}; they must match."
        )
    return reconstruction


def reconstruction_error(activations: Any, reconstruction: Any) -> float:
    """Relative l2 reconstruction error ``||A - A_hat||_F / ||A||_F``.

    Parameters
    ----------
    activations
        ``A`` ``(n, p)``.
    reconstruction
        ``A_hat`` ``(n, p)``, or a fitted extractor (then ``A_hat = inverse_transform(
        transform(A))``).
    """
    matrix = as_activation_matrix(activations)
    approx = _reconstruction(matrix, reconstruction)
    norm = tf.norm(matrix)
    if float(norm) == 0.0:
        raise ValueError("`activations` are all zero: the relative error is undefined.")
    return float(tf.norm(matrix - approx) / norm)


def sparsity(codes: Any, method: str = "l0", tol: float = 1e-6) -> float:
    """Mean sparsity of the codes ``U`` ``(n, r)``, in ``[0, 1]``, higher is sparser.

    ``"l0"``: share of codes with ``|u| <= tol`` (maximum ``(r - 1) / r`` for codes with one
    non-zero entry, e.g. KMeans one-hot codes). ``"hoyer"``: Hoyer (2004),
    ``(sqrt(r) - ||u||_1 / ||u||_2) / (sqrt(r) - 1)``, 1 for one non-zero entry and 0 for a
    constant code; all-zero rows count as maximally sparse.
    """
    method = check_choice(method, "method", SPARSITY_METHODS)
    matrix = as_activation_matrix(codes, "codes").numpy()
    n, r = matrix.shape
    if method == "l0":
        return float(np.mean(np.abs(matrix) <= tol))
    if r == 1:
        return 1.0
    l1 = np.abs(matrix).sum(axis=1)
    l2 = np.sqrt((matrix.astype(np.float64) ** 2).sum(axis=1))
    ratio = np.where(l2 > tol, l1 / np.maximum(l2, 1e-30), 1.0)
    return float(np.mean((np.sqrt(r) - ratio) / (np.sqrt(r) - 1.0)))


def dictionary_distance(bank_a: Any, bank_b: Any, metric: str = "cosine") -> float:
    """Distance between two dictionaries ``(r, p)`` after matching their atoms (Hungarian).

    ``"cosine"``: mean ``1 - |cos|`` of the matched atoms (invariant to the scale and sign of
    an atom, which PCA / ICA do not fix); ``"l2"``: mean l2 distance between matched atoms
    normalised to unit norm, the sign of each aligned. 0 for a dictionary and any permutation
    of itself.
    """
    metric = check_choice(metric, "metric", ("cosine", "l2"))
    a = as_activation_matrix(bank_a, "bank_a").numpy().astype(np.float64)
    b = as_activation_matrix(bank_b, "bank_b").numpy().astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"`bank_a` {a.shape} and `bank_b` {b.shape} must have the same shape (r, p)."
        )
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    cosine = np.abs(a @ b.T)
    cost = 1.0 - cosine if metric == "cosine" else np.sqrt(np.maximum(2.0 - 2.0 * cosine, 0.0))
    rows, cols = linear_sum_assignment(cost)
    return float(np.clip(cost[rows, cols], 0.0, None).mean())


def stability(
    extractor: Any,
    activations: Any,
    n_resamples: int = 5,
    fraction: float = 0.8,
    metric: str = "cosine",
    seed: int = 0,
    verbose: bool = False,
) -> float:
    """Stability of an extractor: mean distance between dictionaries fit on data resamples.

    ``n_resamples`` copies of ``extractor`` (same settings and seed) are fit on random subsets
    of ``fraction`` of the rows of ``activations``; the score is the mean
    :func:`dictionary_distance` over all pairs (lower is more stable, 0 is perfectly stable).
    """
    matrix = as_activation_matrix(activations).numpy()
    n_resamples = check_positive_int(n_resamples, "n_resamples", minimum=2)
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"`fraction` must be in (0, 1], got {fraction!r}.")
    if not hasattr(extractor, "fit"):
        raise TypeError(f"`extractor` must be a concept extractor, got {type(extractor).__name__}.")
    rng = np.random.default_rng(seed)
    size = max(int(round(fraction * len(matrix))), 1)
    banks = []
    for _ in tqdm(range(n_resamples), disable=not verbose, desc="stability"):
        rows = np.sort(rng.choice(len(matrix), size, replace=False))
        fitted = copy.deepcopy(extractor).fit(matrix[rows])
        banks.append(fitted.components_)
    distances = [
        dictionary_distance(banks[i], banks[j], metric)
        for i in range(n_resamples)
        for j in range(i + 1, n_resamples)
    ]
    return float(np.mean(distances))


def _features(matrix: tf.Tensor, feature_fn: Callable | None, batch_size: int) -> np.ndarray:
    if feature_fn is None:
        return matrix.numpy().astype(np.float64)
    outs = [feature_fn(matrix[s : s + batch_size]) for s in range(0, len(matrix), batch_size)]
    feats = tf.concat([tf.reshape(tf.cast(o, tf.float32), (len(o), -1)) for o in outs], 0)
    return feats.numpy().astype(np.float64)


def fid(
    activations: Any,
    reconstruction: Any,
    feature_fn: Callable | None = None,
    batch_size: int = 256,
) -> float:
    """Fréchet distance between the activations and their reconstructions.

    The feature space is the layer's activation space itself (where the dictionary lives) unless
    ``feature_fn`` maps activations ``(B, p)`` to other features (e.g. the rest of the network
    up to its penultimate layer). ``reconstruction`` is ``A_hat`` or a fitted extractor.
    Lower is better; 0 for a perfect reconstruction.
    """
    matrix = as_activation_matrix(activations)
    if len(matrix) < 2:
        raise ValueError("`activations` needs at least 2 rows to fit a Gaussian.")
    approx = _reconstruction(matrix, reconstruction)
    return frechet_distance(
        _features(matrix, feature_fn, batch_size), _features(approx, feature_fn, batch_size)
    )


def reconstruction_ood_score(
    activations: Any,
    reconstruction: Any,
    k: int = 1,
    batch_size: int = 1024,
) -> float:
    """How far the reconstructions fall from the data: relative k-NN distance.

    ``mean_i knn(A_hat_i, A) / mean_i knn(A_i, A without A_i)``: the mean distance of each
    reconstruction to its ``k`` nearest real activations, over the same leave-one-out distance
    among the real activations. A perfect reconstruction scores 0, reconstructions as close to
    the data as the data is to itself score ~1, larger values are out of distribution.
    Distances are computed in TF, ``batch_size`` queries at a time
    (:func:`~xplique_lens.commons.stats.knn_distances`).
    """
    matrix = as_activation_matrix(activations)
    k = check_positive_int(k, "k")
    if len(matrix) <= k:
        raise ValueError(f"`activations` needs more than k={k} rows, got {len(matrix)}.")
    approx = _reconstruction(matrix, reconstruction)

    def mean_knn(queries: tf.Tensor, skip_self: bool) -> float:
        return float(tf.reduce_mean(knn_distances(queries, matrix, k, skip_self, batch_size)))

    reference = mean_knn(matrix, True)
    if reference == 0.0:
        raise ValueError("`activations` rows are all duplicates: the k-NN scale is zero.")
    return mean_knn(approx, False) / reference


def ood_score(*args: Any, **kwargs: Any) -> float:
    """Deprecated name of :func:`reconstruction_ood_score` (it clashed with
    :func:`xplique_lens.metrics.baseline_criteria.ood_score`, another score)."""
    warnings.warn(
        "`concepts.metrics.ood_score` is renamed `reconstruction_ood_score`.",
        DeprecationWarning,
        stacklevel=2,
    )
    return reconstruction_ood_score(*args, **kwargs)


def default_extractors(n_components: int, seed: int = 0) -> dict[str, Any]:
    """The paper's five extractors with ``n_components`` concepts."""
    return {
        "NMF": NMF(n_components, seed=seed),
        "PCA": PCA(n_components, seed=seed),
        "ICA": ICA(n_components, seed=seed),
        "KMeans": KMeans(n_components, seed=seed),
        "SparseCoding": SparseCoding(n_components, seed=seed),
    }


def compare_extractors(
    activations: Any,
    n_components: int = 10,
    extractors: dict[str, Any] | Sequence[Any] | None = None,
    metrics: Sequence[str] = METRICS,
    n_resamples: int = 3,
    fraction: float = 0.8,
    feature_fn: Callable | None = None,
    seed: int = 0,
    verbose: bool = False,
) -> dict[str, dict[str, float]]:
    """The holistic paper's comparison table of concept extractors on the same activations.

    Parameters
    ----------
    activations
        ``(n, p)`` activations (non-negative when NMF or KMeans with NMF are compared).
    n_components
        Number of concepts of the default extractors.
    extractors
        ``{name: extractor}`` or a list of (unfitted) extractors; default NMF, PCA, ICA, KMeans
        and SparseCoding (:func:`default_extractors`).
    metrics
        Columns among ``"reconstruction_error"``, ``"sparsity_l0"``, ``"sparsity_hoyer"``,
        ``"stability"``, ``"fid"``, ``"ood"``.
    n_resamples, fraction
        Settings of :func:`stability`.
    feature_fn
        Feature space of :func:`fid` (default: the activation space).
    seed
        Seed of the resampling (and of the default extractors).
    verbose
        Progress bar over the extractors.

    Returns
    -------
    table
        ``{extractor name: {metric: value}}`` (see :func:`format_table`).
    """
    matrix = as_activation_matrix(activations)
    for metric in metrics:
        check_choice(metric, "metrics", METRICS)
    if extractors is None:
        extractors = default_extractors(check_positive_int(n_components, "n_components"), seed)
    elif not isinstance(extractors, dict):
        extractors = {type(e).__name__: e for e in extractors}
    table: dict[str, dict[str, float]] = {}
    for name, template in tqdm(extractors.items(), disable=not verbose, desc="extractors"):
        extractor = copy.deepcopy(template)
        codes = np.asarray(extractor.fit_transform(matrix), np.float32)
        approx = tf.constant(extractor.inverse_transform(codes), tf.float32)
        row = {}
        for metric in metrics:
            if metric == "reconstruction_error":
                row[metric] = reconstruction_error(matrix, approx)
            elif metric == "sparsity_l0":
                row[metric] = sparsity(codes, "l0")
            elif metric == "sparsity_hoyer":
                row[metric] = sparsity(codes, "hoyer")
            elif metric == "stability":
                row[metric] = stability(template, matrix, n_resamples, fraction, seed=seed)
            elif metric == "fid":
                row[metric] = fid(matrix, approx, feature_fn)
            else:
                row[metric] = reconstruction_ood_score(matrix, approx)
        table[name] = row
    return table


_ARROWS = {
    "reconstruction_error": "↓",
    "sparsity_l0": "↑",
    "sparsity_hoyer": "↑",
    "stability": "↓",
    "fid": "↓",
    "ood": "↓",
}


def format_table(table: dict[str, dict[str, float]], digits: int = 3) -> str:
    """A Markdown table of :func:`compare_extractors` (arrows: the better direction)."""
    if not table:
        raise ValueError("`table` is empty.")
    columns = list(next(iter(table.values())))
    header = "| extractor | " + " | ".join(f"{c} {_ARROWS.get(c, '')}".strip() for c in columns)
    lines = [header + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in table.items():
        cells = " | ".join(f"{row[c]:.{digits}f}" for c in columns)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)
