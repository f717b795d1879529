"""Sanity checks of explainers by randomization: Random Logit and Model Randomization.

An explainer that passes the checks gives different explanations when the explained class is
replaced by another one (:class:`RandomLogitMetric`, SSIM between the two explanations) or when
the model's weights are randomized (:class:`ModelRandomizationMetric`, Spearman correlation):
lower similarity is better. Same parameters, defaults and return values as Xplique 2.0.2's
``xplique.metrics`` classes; the similarities are computed batch-wise by compiled TensorFlow
kernels (one call per batch of explanations, no per-sample loop).

Ref. Adebayo et al., *Sanity Checks for Saliency Maps* (NeurIPS 2018),
https://arxiv.org/abs/1810.03292.
"""

from __future__ import annotations

import copy
import inspect
import numbers
import warnings
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.batching import batch_slices
from ..commons.model_splitting import find_layer
from ..commons.validation import check_seed
from .base import ExplainerMetric
from .similarity import (
    adapted_filter_size,
    as_image_explanations,
    off_class_targets,
    spearman_similarity,
    ssim_rows,
    ssim_similarity,
)

__all__ = [
    "BaseRandomizationMetric",
    "ModelRandomizationMetric",
    "ModelRandomizationStrategy",
    "ProgressiveLayerRandomization",
    "RandomLogitMetric",
    "adapted_filter_size",
    "as_image_explanations",
    "explainer_with_model",
    "off_class_targets",
    "randomized_copy",
    "spearman_similarity",
    "ssim_rows",
    "ssim_similarity",
]

# --------------------------------------------------------------------------- strategies


class ModelRandomizationStrategy(ABC):
    """How to randomize a model's parameters (in place): ``randomize(model) -> model``.

    Same interface as ``xplique.metrics.ModelRandomizationStrategy``.
    :class:`ModelRandomizationMetric` only ever gives it a copy of the user's model.
    """

    @abstractmethod
    def randomize(self, model: keras.Model) -> keras.Model:
        """Randomize ``model``'s parameters in place and return it."""


class ProgressiveLayerRandomization(ModelRandomizationStrategy):
    """Cascading randomization: the weights of the layers from the output (``reverse=True``) up
    to, excluding, ``stop_layer`` are replaced by ``U[0, 1)`` draws.

    Only top-level layers with weights are counted (a nested model counts as one layer and is
    randomized whole), as in Xplique. Ref. Adebayo et al., *Sanity Checks for Saliency Maps*
    (NeurIPS 2018), https://arxiv.org/abs/1810.03292. Drop-in for
    ``xplique.metrics.ProgressiveLayerRandomization``, with these differences:

    - ``seed``: weight ``k`` (in traversal order) is drawn from a stateless generator seeded by
      ``(seed, k)``: the same seed gives the same randomized model (Xplique draws from the global
      TensorFlow generator);
    - non-float weights (e.g. the state of a dropout seed generator) are left as they are
      (Xplique fails on them);
    - a negative ``stop_layer`` raises a ``ValueError`` (Xplique clamps it to 0), and when no
      layer is randomized a ``UserWarning`` says so (e.g. the default ``0.25`` on a model with
      fewer than 4 layers with weights).

    Parameters
    ----------
    stop_layer
        Where the randomization stops (that layer is kept): a layer name, an index in the
        traversal order of the layers with weights, or a fraction in ``[0, 1]`` of them.
    reverse
        Traverse from the output (``True``, the cascading check) or from the input.
    seed
        Seed of the random weights; ``None`` for fresh (non-reproducible) draws.
    """

    def __init__(
        self, stop_layer: str | int | float, reverse: bool = True, seed: int | None = 0
    ) -> None:
        if isinstance(stop_layer, bool) or not isinstance(stop_layer, str | numbers.Real):
            raise TypeError(
                f"`stop_layer` must be a layer name (str), an index (int) or a fraction (float), "
                f"got {stop_layer!r}."
            )
        if isinstance(stop_layer, numbers.Integral):
            if stop_layer < 0:
                raise ValueError(f"`stop_layer` index must be >= 0, got {stop_layer}.")
            stop_layer = int(stop_layer)
        elif isinstance(stop_layer, numbers.Real) and not 0.0 <= stop_layer <= 1.0:
            raise ValueError(f"Fractional `stop_layer` must be in [0, 1], got {stop_layer}.")
        self.stop_layer = stop_layer
        self.reverse = bool(reverse)
        self.seed = check_seed(seed)

    def layers_to_randomize(self, model: keras.Model) -> list[keras.layers.Layer]:
        """The top-level layers whose weights :meth:`randomize` replaces, in traversal order."""
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
        layers = [layer for layer in model.layers if layer.weights]
        if self.reverse:
            layers = layers[::-1]
        if isinstance(self.stop_layer, str):
            target = find_layer(model, self.stop_layer)
            if not any(layer is target for layer in layers):
                names = [layer.name for layer in layers]
                raise ValueError(
                    f"`stop_layer` {self.stop_layer!r} must be a top-level layer with weights; "
                    f"those are {names}."
                )
            stop = next(i for i, layer in enumerate(layers) if layer is target)
        elif isinstance(self.stop_layer, int):
            stop = self.stop_layer
        else:
            stop = int(len(layers) * self.stop_layer)
        return layers[: max(0, min(stop, len(layers)))]

    def randomize(self, model: keras.Model) -> keras.Model:
        """Replace the weights of :meth:`layers_to_randomize` by ``U[0, 1)`` draws, in place.

        Returns
        -------
        keras.Model
            ``model`` itself (modified): give it a copy to keep the original weights, as
            :class:`ModelRandomizationMetric` does.
        """
        layers = self.layers_to_randomize(model)
        if not layers:
            warnings.warn(
                f"ProgressiveLayerRandomization(stop_layer={self.stop_layer!r}) randomizes no "
                "layer of this model: the randomized model equals the original.",
                UserWarning,
                stacklevel=2,
            )
        seed = self.seed
        if seed is None:
            seed = int(np.random.default_rng().integers(2**31 - 1))
        counter = 0
        for layer in layers:
            for weight in layer.weights:
                dtype = tf.as_dtype(weight.dtype)
                if dtype.is_floating:
                    key = tf.constant([seed, counter], tf.int64)
                    weight.assign(
                        tf.random.stateless_uniform(tuple(weight.shape), key, dtype=dtype)
                    )
                counter += 1
        return model


def randomized_copy(model: keras.Model, strategy: ModelRandomizationStrategy) -> keras.Model:
    """A copy of ``model`` (same architecture and weights) randomized by ``strategy``; ``model``
    itself is never modified."""
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Model randomization needs the explainer's model to be a keras.Model, got "
            f"{type(model).__name__}."
        )
    try:
        clone = keras.models.clone_model(model)
    except Exception as error:  # subclassed models without get_config, ...
        raise TypeError(
            f"Cannot copy the model {model.name!r} to randomize it (keras.models.clone_model "
            f"failed: {error}); the user's model is never randomized in place."
        ) from error
    clone.set_weights(model.get_weights())
    randomized = strategy.randomize(clone)
    return clone if randomized is None else randomized


def explainer_with_model(explainer: Any, model: keras.Model) -> Any:
    """The same explainer, on ``model``; ``explainer`` is not modified.

    Our explainers (which compile their functions for their model at construction) are rebuilt
    with their constructor, every parameter read back from the attribute of the same name
    (those not stored take their default: e.g. ``output_layer=None``, the stored model being
    already cut at that layer). Other explainers (Xplique's, which read ``self.model`` at each
    call) are shallow-copied with their ``model`` attribute replaced.
    """
    from ..attributions.base import BlackBoxExplainer

    if isinstance(explainer, BlackBoxExplainer):
        kwargs = {}
        parameters = list(inspect.signature(type(explainer).__init__).parameters.values())[1:]
        for parameter in parameters:
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if parameter.name == "model":
                kwargs["model"] = model
            elif hasattr(explainer, parameter.name):
                kwargs[parameter.name] = getattr(explainer, parameter.name)
            elif parameter.default is parameter.empty:
                raise TypeError(
                    f"Cannot rebuild {type(explainer).__name__} on the randomized model: its "
                    f"parameter {parameter.name!r} is not stored as an attribute."
                )
        return type(explainer)(**kwargs)
    if not hasattr(explainer, "model"):
        raise TypeError(
            "ModelRandomizationMetric needs an explainer with a `model` attribute (the model it "
            f"explains, to be randomized), got {type(explainer).__name__}."
        )
    clone = copy.copy(explainer)
    clone.model = model
    return clone


# --------------------------------------------------------------------------- metrics


class BaseRandomizationMetric(ExplainerMetric):
    """Similarity between the explanations of the inputs and those of a perturbed context (other
    targets, or a randomized model); ``evaluate`` is the mean similarity (lower is better).

    Parameters
    ----------
    model
        Keras model or callable.
    inputs
        Samples ``(N, ...)``: array, tensor, or ``tf.data.Dataset`` of ``(inputs, targets)``.
    targets
        One-hot ``(N, C)`` or labels ``(N,)``; ``None`` for the model's predicted classes.
    batch_size
        Number of inputs explained per explainer call; ``None`` for all at once.
    activation
        Kept for Xplique's signature; the explainers use their own model.
    seed : int or None, default 42
        Seed of the random draws (Xplique's default); None draws fresh randomness.
    verbose
        Show a progress bar over the batches.
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any,
        batch_size: int | None = 64,
        activation: str | None = None,
        seed: int | None = 42,
        verbose: bool = False,
    ):
        super().__init__(model, inputs, targets, batch_size, None, activation)
        self.seed = check_seed(seed)
        self.n_classes = int(self.targets.shape[-1])
        self.verbose = bool(verbose)

    @abstractmethod
    def _perturbed(self, explainer: Callable) -> tuple[Callable, tf.Tensor]:
        """``(perturbed explainer, perturbed targets (N, C))``."""

    @abstractmethod
    def _similarity(self, original: tf.Tensor, perturbed: tf.Tensor) -> tf.Tensor:
        """Similarity of each pair of explanations, ``(B,)``."""

    def detailed_evaluate(self, explainer: Callable) -> np.ndarray:
        """Similarity of each input's two explanations, ``(N,)`` (their mean is
        :meth:`evaluate`).

        Parameters
        ----------
        explainer
            Callable ``(inputs, targets) -> explanations`` (ours or Xplique's).
        """
        if not callable(explainer):
            raise TypeError(f"`explainer` must be a callable (inputs, targets), got {explainer!r}.")
        perturbed_explainer, perturbed_targets = self._perturbed(explainer)
        n = int(self.inputs.shape[0])
        batches = list(batch_slices(n, self.batch_size))
        scores = []
        for s in tqdm(batches, disable=not self.verbose, desc=type(self).__name__):
            size = s.stop - s.start
            inputs = self.inputs[s]
            original = as_image_explanations(explainer(inputs, self.targets[s]), size)
            other = as_image_explanations(
                perturbed_explainer(inputs, perturbed_targets[s]), size, "perturbed explanations"
            )
            scores.append(self._similarity(original, other))
        return tf.concat(scores, axis=0).numpy()

    def evaluate(self, explainer: Callable) -> float:
        """Mean similarity (lower is better)."""
        return float(np.mean(self.detailed_evaluate(explainer)))


class RandomLogitMetric(BaseRandomizationMetric):
    """Random Logit: SSIM between the explanation of each input for its class and for another
    class drawn at random (lower is better: the explanation depends on the class).

    Ref. Adebayo et al., *Sanity Checks for Saliency Maps* (NeurIPS 2018),
    https://arxiv.org/abs/1810.03292. Drop-in for ``xplique.metrics.RandomLogitMetric`` (same
    parameters; same values given the same off-classes), with these differences:

    - the off-classes are drawn once, at construction, from a stateless generator seeded by
      ``seed`` (``off_targets_``): reproducible, independent of ``batch_size``, and the global
      TensorFlow seed is left alone (Xplique calls ``tf.random.set_seed``);
    - ``targets=None`` means the predicted classes, one-hot (Xplique uses the raw predictions as
      targets);
    - the SSIM of a batch is one compiled ``tf.image.ssim`` call (Xplique maps over the pairs).

    Parameters
    ----------
    model, inputs, targets, batch_size, activation, seed, verbose
        See :class:`BaseRandomizationMetric`; the model needs at least 2 outputs.
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any,
        batch_size: int | None = 64,
        activation: str | None = None,
        seed: int | None = 42,
        verbose: bool = False,
    ):
        super().__init__(model, inputs, targets, batch_size, activation, seed, verbose)
        if self.n_classes < 2:
            raise ValueError(
                f"RandomLogitMetric needs a model with at least 2 outputs, got {self.n_classes}."
            )
        self.off_targets_ = off_class_targets(self.targets, seed)

    def _perturbed(self, explainer: Callable) -> tuple[Callable, tf.Tensor]:
        return explainer, self.off_targets_

    def _similarity(self, original: tf.Tensor, perturbed: tf.Tensor) -> tf.Tensor:
        return ssim_similarity(original, perturbed)


class ModelRandomizationMetric(BaseRandomizationMetric):
    """Model Randomization: Spearman correlation between the explanation of each input by the
    model and by a copy of it with randomized weights (lower is better: the explanation depends
    on what the model learned).

    Ref. Adebayo et al., *Sanity Checks for Saliency Maps* (NeurIPS 2018),
    https://arxiv.org/abs/1810.03292. Drop-in for ``xplique.metrics.ModelRandomizationMetric``
    (same parameters, same values given the same randomized weights), with these differences:

    - the user's model and explainer are never modified: the explainer's model is cloned and
      the clone randomized, once per model and metric object (``randomized_models_``); the
      explainer is rebuilt on it (ours) or shallow-copied with its ``model`` replaced (others);
      Xplique swaps the explainer's model in place, and randomizes a new clone per batch;
    - the default strategy is ``ProgressiveLayerRandomization(0.25, seed=seed)``: reproducible;
    - ``targets=None`` means the predicted classes, one-hot.

    Parameters
    ----------
    model, inputs, targets, batch_size, activation, seed, verbose
        See :class:`BaseRandomizationMetric`.
    randomization_strategy
        A :class:`ModelRandomizationStrategy` (Xplique's are accepted); ``None`` for
        ``ProgressiveLayerRandomization(0.25, seed=seed)``: the top quarter of the layers with
        weights.
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any,
        randomization_strategy: ModelRandomizationStrategy | None = None,
        batch_size: int | None = 64,
        activation: str | None = None,
        seed: int | None = 42,
        verbose: bool = False,
    ):
        super().__init__(model, inputs, targets, batch_size, activation, seed, verbose)
        if randomization_strategy is None:
            randomization_strategy = ProgressiveLayerRandomization(0.25, seed=seed)
        elif not callable(getattr(randomization_strategy, "randomize", None)):
            raise TypeError(
                "`randomization_strategy` must have a `randomize(model)` method, got "
                f"{type(randomization_strategy).__name__}."
            )
        self.randomization_strategy = randomization_strategy
        self.randomized_models_: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def randomized_model(self, model: keras.Model) -> keras.Model:
        """The randomized copy of ``model`` (made once per model and metric object)."""
        if model not in self.randomized_models_:
            self.randomized_models_[model] = randomized_copy(model, self.randomization_strategy)
        return self.randomized_models_[model]

    def _perturbed(self, explainer: Callable) -> tuple[Callable, tf.Tensor]:
        model = getattr(explainer, "model", None)
        if model is None:
            raise TypeError(
                "ModelRandomizationMetric needs an explainer with a `model` attribute (the model "
                f"it explains, to be randomized), got {type(explainer).__name__}."
            )
        return explainer_with_model(explainer, self.randomized_model(model)), self.targets

    def _similarity(self, original: tf.Tensor, perturbed: tf.Tensor) -> tf.Tensor:
        return spearman_similarity(original, perturbed)
