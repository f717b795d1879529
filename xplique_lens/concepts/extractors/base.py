"""Common shell of the concept extractors: ``A (n, p) ~ U (n, r) W (r, p)``.

Dictionary learning on activations (Fel et al. 2023, "A Holistic Approach to Unifying Automatic
Concept Extraction and Concept Importance Estimation", NeurIPS): every extractor learns a concept
bank ``components_`` (``W``, ``(r, p)``) on a matrix of activations ``A`` and encodes activations
as concept codes ``U``. Extractors follow scikit-learn: ``fit`` returns ``self``, learned state
ends with ``_``, ``transform`` / ``inverse_transform`` / ``fit_transform``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from ...commons.validation import (  # noqa: F401  (NotFittedError re-exported)
    NotFittedError,
    check_finite,
    check_is_fitted,
    check_positive_int,
    to_float_tensor,
)


def as_activation_matrix(activations: Any, name: str = "activations") -> tf.Tensor:
    """``activations`` as a finite float32 ``(n, p)`` tensor; clear errors otherwise."""
    tensor = to_float_tensor(activations, name)
    if tensor.shape.rank != 2:
        raise ValueError(
            f"`{name}` must be a 2-D matrix (n_samples, n_features), got shape "
            f"{tuple(tensor.shape)}; flatten spatial activations to (N * H * W, C) first."
        )
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise ValueError(f"`{name}` is empty (shape {tuple(tensor.shape)}).")
    check_finite(tensor, name)
    return tensor


class BaseConceptExtractor:
    """Base class: settings in ``__init__``, learned dictionary in ``components_``.

    Parameters
    ----------
    n_components
        Number of concepts ``r``.
    """

    #: Whether the codes are non-negative (NMF) and the extractor needs non-negative activations.
    non_negative: bool = False

    def __init__(self, n_components: int = 10):
        self.n_components = check_positive_int(n_components, "n_components")

    # -- scikit-learn style API -----------------------------------------------------------
    def fit(self, activations: Any) -> BaseConceptExtractor:
        """Learn the dictionary on ``activations`` ``(n, p)``; returns ``self``."""
        self.fit_transform(activations)
        return self

    def fit_transform(self, activations: Any) -> np.ndarray:  # pragma: no cover - abstract
        """Learn the dictionary and return the codes of ``activations``."""
        raise NotImplementedError

    def transform(self, activations: Any) -> np.ndarray:  # pragma: no cover - abstract
        """Codes ``U`` ``(n, r)`` of ``activations`` ``(n, p)``."""
        raise NotImplementedError

    def inverse_transform(self, codes: Any) -> np.ndarray:
        """Activations reconstructed from ``codes`` ``(n, r)``: ``U W`` (+ mean if any)."""
        self._check_fitted()
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.n_components:
            raise ValueError(
                f"`codes` must have shape (n, {self.n_components}), got {codes.shape}."
            )
        return codes @ self.components_ + getattr(self, "mean_", 0.0)

    # -- TF hooks used by Craft -----------------------------------------------------------
    def tf_transform(self, activations: tf.Tensor) -> tf.Tensor:
        """Codes of a ``(n, p)`` float32 tensor (TF; default: through numpy ``transform``)."""
        return tf.convert_to_tensor(self.transform(activations.numpy()), tf.float32)

    def tf_inverse_transform(self, codes: tf.Tensor) -> tf.Tensor:
        """``U W`` (+ mean) on tensors, differentiable with respect to ``codes``."""
        self._check_fitted()
        out = tf.matmul(codes, tf.constant(self.components_, tf.float32))
        mean = getattr(self, "mean_", None)
        return out if mean is None else out + tf.constant(mean, tf.float32)

    #: Whether ``tf_transform`` is a differentiable TF function of its input.
    differentiable: bool = False

    # -- helpers --------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        check_is_fitted(self, "components_", "fit(activations)")

    def _check_rank(self, activations: tf.Tensor) -> None:
        n_features = int(activations.shape[1])
        if self.n_components > n_features:
            raise ValueError(
                f"`n_components`={self.n_components} is larger than the number of features "
                f"({n_features}) of `activations`: ask for at most {n_features} concepts."
            )

    def _check_features(self, activations: tf.Tensor) -> None:
        expected = self.components_.shape[1]
        if activations.shape[1] != expected:
            raise ValueError(
                f"`activations` has {activations.shape[1]} features, but the extractor was "
                f"fitted on {expected}."
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_components={self.n_components})"
