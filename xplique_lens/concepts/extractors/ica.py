"""ICA concept extractor (FastICA, signed codes)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from sklearn.decomposition import FastICA as _SkICA

from ._sklearn import SklearnExtractor


class ICA(SklearnExtractor):
    """Independent components as concepts (``sklearn.decomposition.FastICA``).

    ``components_`` is the mixing matrix transposed (``A ~ U W + mean``); ``tf_transform`` is
    the linear unmixing in TF (differentiable). Extra keyword arguments go to ``FastICA``.

    References
    ----------
    Fel et al., "A Holistic Approach to Unifying Automatic Concept Extraction and Concept
    Importance Estimation", NeurIPS 2023.
    """

    differentiable = True

    def _make_estimator(self):
        kwargs = {"whiten": "unit-variance", "max_iter": 500, **self.kwargs}
        return _SkICA(self.n_components, random_state=self.seed, **kwargs)

    def _components(self, estimator) -> np.ndarray:
        return estimator.mixing_.T

    def fit_transform(self, activations) -> np.ndarray:
        codes = super().fit_transform(activations)
        self.mean_ = self.estimator_.mean_.astype(np.float32)
        self.unmixing_ = self.estimator_.components_.astype(np.float32)
        return codes

    def tf_transform(self, activations: tf.Tensor) -> tf.Tensor:
        self._check_fitted()
        self._check_features(activations)
        centered = tf.cast(activations, tf.float32) - self.mean_
        return tf.matmul(centered, tf.constant(self.unmixing_), transpose_b=True)
