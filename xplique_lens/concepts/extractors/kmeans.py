"""KMeans concept extractor (ACE-style clusters of activations)."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans as _SkKMeans

from ._sklearn import SklearnExtractor


class KMeans(SklearnExtractor):
    """Cluster centroids as concepts; the code of an activation is the one-hot of its cluster.

    ``A ~ U W`` with ``W`` the centroids and ``U`` one-hot (Ghorbani et al. 2019, ACE, as framed
    in the holistic framework). Extra keyword arguments go to ``sklearn.cluster.KMeans``.

    References
    ----------
    Fel et al., "A Holistic Approach to Unifying Automatic Concept Extraction and Concept
    Importance Estimation", NeurIPS 2023.
    """

    non_negative = True

    def _make_estimator(self):
        return _SkKMeans(self.n_components, random_state=self.seed, n_init=4, **self.kwargs)

    def _components(self, estimator) -> np.ndarray:
        return estimator.cluster_centers_

    def _codes(self, estimator, matrix: np.ndarray) -> np.ndarray:
        return np.eye(self.n_components, dtype=np.float32)[estimator.predict(matrix)]
