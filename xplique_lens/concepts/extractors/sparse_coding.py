"""Sparse coding (dictionary learning) concept extractor."""

from __future__ import annotations

from sklearn.decomposition import MiniBatchDictionaryLearning as _SkDictionaryLearning

from ._sklearn import SklearnExtractor


class SparseCoding(SklearnExtractor):
    """Sparse dictionary learning: ``A ~ U W`` with L1-sparse codes ``U``.

    ``sklearn.decomposition.MiniBatchDictionaryLearning`` does the work (``alpha`` sets the
    sparsity; ``positive_code=True`` gives non-negative codes). Extra keyword arguments go to it.

    References
    ----------
    Fel et al., "A Holistic Approach to Unifying Automatic Concept Extraction and Concept
    Importance Estimation", NeurIPS 2023; Mairal et al., "Online dictionary learning for sparse
    coding", ICML 2009.
    """

    def __init__(self, n_components: int = 10, alpha: float = 1.0, seed: int = 0, **kwargs):
        super().__init__(n_components, seed, **kwargs)
        self.alpha = alpha

    def _make_estimator(self):
        kwargs = {"transform_algorithm": "lasso_cd", "max_iter": 50, **self.kwargs}
        return _SkDictionaryLearning(
            self.n_components,
            alpha=self.alpha,
            transform_alpha=self.alpha,
            random_state=self.seed,
            **kwargs,
        )
