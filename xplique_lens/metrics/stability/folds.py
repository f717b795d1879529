"""Folds of the MeGe protocol: which model did not see which sample.

Ref. Fel, Vigouroux et al., *How Good is your Explanation? Algorithmic Stability Measures to
Assess the Quality of Explanations for Deep Neural Networks* (WACV 2022),
https://arxiv.org/abs/2009.04521.
"""

from __future__ import annotations

import numpy as np

from ...commons.validation import check_positive_int


def make_folds(
    labels: np.ndarray, k_splits: int = 4, seed: int | None = 0, shuffle: bool = True
) -> np.ndarray:
    """Fold index of every sample, ``(N,)`` integers in ``[0, k_splits)``.

    Parameters
    ----------
    labels
        Class label of every sample, ``(N,)``.
    k_splits
        Number of folds, at least 2.
    seed
        Seed of the shuffle (same seed, same folds).
    shuffle
        ``True``: shuffled and stratified folds (within each class the samples are shuffled, then
        dealt to the folds in turn, so every fold holds each class in the same proportion, to one
        sample, and fold sizes differ by at most one). ``False``: contiguous folds in the input
        order, Xplique's split (identical to it when ``k_splits`` divides ``N``; otherwise the
        first ``N % k_splits`` folds get one more sample, where Xplique refuses the data).

    Returns
    -------
    fold_ids
        ``fold_ids[n]`` is the fold of sample ``n``; model ``i`` is trained without fold ``i``.
    """
    k_splits = check_positive_int(k_splits, "k_splits", minimum=2)
    labels = np.asarray(labels).reshape(-1)
    n = labels.shape[0]
    if n < k_splits:
        raise ValueError(
            f"`inputs` must hold at least `k_splits` samples (one per fold): got {n} samples "
            f"for k_splits={k_splits}."
        )
    if not shuffle:
        sizes = np.full(k_splits, n // k_splits)
        sizes[: n % k_splits] += 1
        return np.repeat(np.arange(k_splits), sizes)
    rng = np.random.default_rng(seed)
    # order: by class, randomly within a class; dealing that order to the folds in turn
    # stratifies (each class spreads evenly) and balances the fold sizes.
    order = np.lexsort((rng.permutation(n), labels))
    fold_ids = np.empty(n, dtype=np.int64)
    fold_ids[order] = (np.arange(n) + rng.integers(k_splits)) % k_splits
    return fold_ids
