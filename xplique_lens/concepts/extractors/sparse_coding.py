"""Sparse coding (dictionary learning) concept extractor."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning as _SkDictionaryLearning
from sklearn.exceptions import ConvergenceWarning

from ._sklearn import SklearnExtractor


class SparseCoding(SklearnExtractor):
    """Sparse dictionary learning: ``A ~ U W`` with L1-sparse codes ``U``.

    ``sklearn.decomposition.MiniBatchDictionaryLearning`` does the work (``alpha`` sets the
    sparsity; ``positive_code=True`` gives non-negative codes). Extra keyword arguments go to it.

    scikit-learn warns once per lasso problem that stops at ``transform_max_iter`` (hundreds
    per call on real activations); they are counted and reported as one warning per call.

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

    def fit_transform(self, activations) -> np.ndarray:
        with _one_convergence_warning("fit_transform"):
            return super().fit_transform(activations)

    def transform(self, activations) -> np.ndarray:
        with _one_convergence_warning("transform"):
            return super().transform(activations)


@contextlib.contextmanager
def _one_convergence_warning(where: str):
    """Collect scikit-learn's per-row ConvergenceWarnings and re-emit them as one."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        yield
    others = [w for w in caught if not issubclass(w.category, ConvergenceWarning)]
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    count = len(caught) - len(others)
    if count:
        warnings.warn(
            f"SparseCoding.{where}: {count} lasso problem(s) stopped at their iteration limit "
            "before converging (raise `transform_max_iter`, or `alpha` for sparser codes).",
            ConvergenceWarning,
            stacklevel=4,
        )
