"""Metrics for feature visualizations (Fel et al. 2023, MACO, Section 4).

- :class:`Plausibility`: cosine similarity, in a model's feature space, between each
  visualization and the real images of its class (higher: more natural);
- :class:`FID`: Frechet distance between the feature statistics of the visualizations and of
  real images (lower: closer to the data distribution);
- :class:`Transferability`: share of other models that classify a visualization as its class
  (higher: the visualization carries class evidence that is not specific to one network).

Visualizations are resized to the model's input size and must be in its input value range.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from ..commons.batching import batch_apply
from ..commons.model_splitting import layer_model
from ..commons.stats import frechet_distance
from ..commons.validation import check_batch_size, check_choice, check_flag, to_float_tensor

__all__ = ["FID", "Plausibility", "Transferability", "frechet_distance"]


def _images(images, name: str, size: tuple[int, int]) -> tf.Tensor:
    images = to_float_tensor(images, name)
    if images.shape.rank == 3:
        images = images[None]
    if images.shape.rank != 4:
        raise ValueError(f"`{name}` must be images (N, H, W, C), got shape {tuple(images.shape)}.")
    if tuple(images.shape[1:3]) != tuple(size):
        images = tf.image.resize(images, size)
    return images


def _labels(labels, count: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim == 2:
        labels = labels.argmax(axis=-1)
    labels = labels.reshape(-1)
    if labels.ndim != 1 or len(labels) != count or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"`{name}` must be {count} integer labels (or one-hot rows), got {np.shape(labels)}."
        )
    return labels.astype(np.int64)


class _FeatureSpace:
    """Features of a model at ``layer`` (default: the input of the last layer), flattened."""

    def __init__(self, model: keras.Model, layer: str | int | None, batch_size: int | None):
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
        self.model = model
        self.batch_size = check_batch_size(batch_size)
        if layer is None:
            extractor = keras.Model(model.inputs[0], model.layers[-1].input)
        else:
            extractor = layer_model(model, layer)  # nested layers included
        self.size = tuple(int(d) for d in model.inputs[0].shape[1:3])
        self._forward = tf.function(lambda x: tf.reshape(extractor(x), (tf.shape(x)[0], -1)))

    def features(self, images, name: str) -> np.ndarray:
        images = _images(images, name, self.size)
        return batch_apply(self._forward, (images,), self.batch_size).numpy().astype(np.float64)


class Plausibility(_FeatureSpace):
    """Cosine similarity between visualizations and real images of their class (pooled).

    Parameters
    ----------
    model
        Model whose feature space is used.
    real_images
        ``(N, H, W, C)`` real images.
    real_labels
        Their labels (ints or one-hot); ``None``: every visualization is compared with all.
    layer
        Feature layer (default: the input of the model's last layer, the penultimate features).
    batch_size
        Forward batch size.
    reduction
        How the similarities of a visualization to the real images of its class are pooled:
        ``"mean"`` (default), ``"median"`` (robust to outlying real images) or ``"max"`` (the
        nearest real image).
    center
        Subtract the mean feature of the real images from every feature before the cosine.
        Default ``False`` (the paper's raw cosine). Post-ReLU features are non-negative, so raw
        cosines of unrelated images are already high (e.g. ~0.7 for uniform noise on the
        built-in model, ~0.99 for real images of the class): centring spreads that range so
        that scores near 0 mean "no more like the class than the average real image".

    References
    ----------
    Fel et al. (2023). *Unlocking Feature Visualization for Deeper Networks with MAgnitude
    Constrained Optimization.* NeurIPS. https://arxiv.org/abs/2306.06805
    """

    _REDUCTIONS = ("mean", "median", "max")

    def __init__(
        self,
        model,
        real_images,
        real_labels=None,
        layer=None,
        batch_size=64,
        *,
        reduction: str = "mean",
        center: bool = False,
    ):
        self.reduction = check_choice(reduction, "reduction", self._REDUCTIONS)
        self.center = check_flag(center, "center")
        super().__init__(model, layer, batch_size)
        self.real_features_ = self.features(real_images, "real_images")
        self.real_labels_ = (
            None
            if real_labels is None
            else _labels(real_labels, len(self.real_features_), "real_labels")
        )

    def detailed_evaluate(self, visualizations, labels=None) -> np.ndarray:
        """Per-visualization cosine similarity to the real images of its class, ``(B,)``,
        pooled over those images with ``reduction``."""
        features = self.features(visualizations, "visualizations")
        if self.real_labels_ is not None:
            if labels is None:
                raise ValueError("`labels` are required: the metric was given `real_labels`.")
            labels = _labels(labels, len(features), "labels")
        real = self.real_features_
        if self.center:
            offset = real.mean(axis=0, keepdims=True)
            real, features = real - offset, features - offset
        real = real / (np.linalg.norm(real, axis=1, keepdims=True) + 1e-12)
        vis = features / (np.linalg.norm(features, axis=1, keepdims=True) + 1e-12)
        similarity = vis @ real.T  # (B, N)
        pool = {"mean": np.mean, "median": np.median, "max": np.max}[self.reduction]
        if self.real_labels_ is None:
            return pool(similarity, axis=1)
        scores = np.empty(len(vis))
        for row, label in enumerate(labels):
            same = self.real_labels_ == label
            if not same.any():
                raise ValueError(f"`labels`: no real image of class {label} was given.")
            scores[row] = pool(similarity[row, same])
        return scores

    def evaluate(self, visualizations, labels=None) -> float:
        """Mean plausibility of the visualizations (higher is better)."""
        return float(np.mean(self.detailed_evaluate(visualizations, labels)))

    __call__ = evaluate


class FID(_FeatureSpace):
    """Frechet distance between features of visualizations and of real images (lower: better).

    The distance is :func:`xplique_lens.commons.stats.frechet_distance`, shared with the concept
    metrics' ``fid`` (re-exported here as ``frechet_distance``).

    Parameters
    ----------
    model, real_images, layer, batch_size
        As in :class:`Plausibility` (FID compares whole sets: no labels).

    References
    ----------
    Heusel et al. (2017). *GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium.* NeurIPS. Used for feature visualizations in Fel et al. (2023), MACO.
    """

    def __init__(self, model, real_images, layer=None, batch_size=64):
        super().__init__(model, layer, batch_size)
        self.real_features_ = self.features(real_images, "real_images")

    def evaluate(self, visualizations) -> float:
        """Frechet distance between the visualizations' and the real images' features."""
        return frechet_distance(
            self.features(visualizations, "visualizations"), self.real_features_
        )

    __call__ = evaluate


class Transferability:
    """Share of ``models`` that classify each visualization as its class (higher: better).

    Parameters
    ----------
    models
        Other classifiers (outputs: logits or probabilities, argmax taken).
    batch_size
        Forward batch size.

    References
    ----------
    Fel et al. (2023). *Unlocking Feature Visualization for Deeper Networks with MAgnitude
    Constrained Optimization.* NeurIPS. https://arxiv.org/abs/2306.06805
    """

    def __init__(self, models: keras.Model | Sequence[keras.Model], batch_size: int | None = 64):
        models = [models] if isinstance(models, keras.Model) else list(models)
        if not models or not all(isinstance(m, keras.Model) for m in models):
            raise TypeError("`models` must be a keras.Model or a non-empty list of them.")
        self.models = models
        self.batch_size = check_batch_size(batch_size)

    def detailed_evaluate(self, visualizations, labels) -> np.ndarray:
        """``(nb_models, B)`` booleans: model ``m`` predicts the class of visualization ``b``."""
        hits = []
        labels_ = None
        for model in self.models:
            size = tuple(int(d) for d in model.inputs[0].shape[1:3])
            images = _images(visualizations, "visualizations", size)
            if labels_ is None:
                labels_ = _labels(labels, int(images.shape[0]), "labels")
            forward = tf.function(lambda x, model=model: model(x, training=False))
            logits = batch_apply(forward, (images,), self.batch_size).numpy()
            hits.append(logits.argmax(axis=-1) == labels_)
        return np.stack(hits)

    def evaluate(self, visualizations, labels) -> float:
        """Share of (model, visualization) pairs where the model predicts the right class."""
        return float(np.mean(self.detailed_evaluate(visualizations, labels)))

    __call__ = evaluate
