"""PCA concept extractor (signed codes; the holistic framework's PCA baseline)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from sklearn.decomposition import PCA as _SkPCA

from ._sklearn import SklearnExtractor


class PCA(SklearnExtractor):
    """Principal components as concepts: ``A ~ U W + mean``, ``W`` orthonormal rows.

    scikit-learn does the fit; ``tf_transform`` is the linear projection in TF (differentiable).
    Extra keyword arguments go to ``sklearn.decomposition.PCA``.

    References
    ----------
    Fel et al., "A Holistic Approach to Unifying Automatic Concept Extraction and Concept
    Importance Estimation", NeurIPS 2023.
    """

    differentiable = True

    def _make_estimator(self):
        return _SkPCA(self.n_components, random_state=self.seed, **self.kwargs)

    def fit_transform(self, activations) -> np.ndarray:
        codes = super().fit_transform(activations)
        self.mean_ = self.estimator_.mean_.astype(np.float32)
        return codes

    def tf_transform(self, activations: tf.Tensor) -> tf.Tensor:
        self._check_fitted()
        self._check_features(activations)
        centered = tf.cast(activations, tf.float32) - self.mean_
        return tf.matmul(centered, tf.constant(self.components_), transpose_b=True)
