"""Generic shell around a scikit-learn estimator learning a dictionary on activations."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import BaseConceptExtractor, as_activation_matrix


class SklearnExtractor(BaseConceptExtractor):
    """Extractor whose ``fit`` / ``transform`` are done by a scikit-learn estimator.

    Subclasses implement ``_make_estimator`` and, if the dictionary is not the estimator's
    ``components_``, ``_components``.
    """

    def __init__(self, n_components: int = 10, seed: int = 0, **kwargs: Any):
        super().__init__(n_components)
        self.seed = seed
        self.kwargs = kwargs

    def _make_estimator(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _components(self, estimator) -> np.ndarray:
        return estimator.components_

    def _codes(self, estimator, matrix: np.ndarray) -> np.ndarray:
        return estimator.transform(matrix)

    def fit_transform(self, activations: Any) -> np.ndarray:
        """Learn the dictionary on ``activations`` ``(n, p)``; return the codes ``(n, r)``."""
        matrix = as_activation_matrix(activations)
        self._check_rank(matrix)
        matrix = matrix.numpy()
        self.estimator_ = self._make_estimator().fit(matrix)
        self.components_ = np.asarray(self._components(self.estimator_), np.float32)
        self.n_features_in_ = matrix.shape[1]
        return np.asarray(self._codes(self.estimator_, matrix), np.float32)

    def transform(self, activations: Any) -> np.ndarray:
        """Codes ``(n, r)`` of ``activations`` ``(n, p)``."""
        self._check_fitted()
        matrix = as_activation_matrix(activations)
        self._check_features(matrix)
        return np.asarray(self._codes(self.estimator_, matrix.numpy()), np.float32)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_components={self.n_components}, seed={self.seed})"
