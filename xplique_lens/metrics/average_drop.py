"""Average Drop, Average Increase in confidence and Average Gain: the score of each input when it
is multiplied by its explanation rescaled to a ``[0, 1]`` mask.

The mask of an explanation is Xplique's: ``|e|``, averaged over channels for ``(N, H, W, C)``
maps, min-max normalised per sample (``(m - min) / (max - min + 1e-8)`` there; here a guarded
division, which gives the same values and an all-zero mask for a constant map on every CPU
setting), broadcast over the input channels. Each batch of masked inputs is built and scored
in one compiled call, shared by every metric of the same model, operator and activation
(traced once per process and input shape); the scores of the unmasked inputs do not depend on
the explanation and are computed once per metric object, then reused by every ``evaluate``.
Values equal Xplique 2.0.2's.

Refs. Chattopadhay et al., *Grad-CAM++: Generalized Gradient-based Visual Explanations for Deep
Convolutional Networks* (WACV 2018), https://arxiv.org/abs/1710.11063 (Average Drop, Increase in
Confidence); Zhang et al., *Opti-CAM: Optimizing saliency maps for interpretability* (CVIU 2024),
https://arxiv.org/abs/2301.07002 (Average Gain).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.batching import batch_apply
from ..commons.inputs import model_output_size, to_one_hot
from ..commons.operators import OperatorSignature, with_activation
from ..commons.tf_functions import shared_function
from ..commons.validation import check_finite, to_float_tensor
from .base import ExplanationMetric

_EPS = 1e-8

# --------------------------------------------------------------------------- kernels


def explanation_mask(explanations: tf.Tensor) -> tf.Tensor:
    """Xplique's ``[0, 1]`` mask of explanations of the inputs' rank (see
    :func:`canonical_explanations`): ``|e|``, channel mean (kept as a unit axis) when ``e`` is
    ``(N, H, W, C)``, min-max per sample. A constant explanation gives an all-zero mask
    (everything removed)."""
    mask = tf.abs(explanations)
    if mask.shape.rank == 4:
        mask = tf.reduce_mean(mask, axis=-1, keepdims=True)
    axes = list(range(1, mask.shape.rank))
    low = tf.reduce_min(mask, axis=axes, keepdims=True)
    high = tf.reduce_max(mask, axis=axes, keepdims=True)
    # Xplique divides by ``high - low + 1e-8``; inside a compiled function TensorFlow's
    # optimiser may reassociate that into ``(high + 1e-8) - low``, which is 0 for a constant map
    # (NaN masks with oneDNN off): the guarded division gives the documented all-zero mask
    return tf.math.divide_no_nan(mask - low, high - low)


def canonical_explanations(explanations: tf.Tensor, inputs_shape: tuple) -> tf.Tensor:
    """Explanations with the inputs' rank: ``(N, H, W)`` maps of images and ``(N, T)`` maps of
    ``(N, T, F)`` series get a trailing unit axis (where Xplique broadcasts their mask), so the
    compiled kernel sees one rank per model. Raises unless the masks broadcast onto the
    inputs."""
    shape, rank = tuple(explanations.shape), len(inputs_shape)
    if rank == 4:
        ok = len(shape) in (3, 4) and shape[:3] == inputs_shape[:3]
        expected = "(N, H, W) or (N, H, W, C')"
    elif rank == 3:
        ok = shape in (inputs_shape, inputs_shape[:2])
        expected = "(N, T) or (N, T, F)"
    else:
        ok = shape == inputs_shape
        expected = "the inputs' shape"
    if not ok:
        raise ValueError(
            f"`explanations` must have shape {expected} matching the inputs "
            f"{inputs_shape}, got {shape}."
        )
    if len(shape) == rank - 1:
        explanations = explanations[..., None]
    return explanations


def average_drop(base: tf.Tensor, after: tf.Tensor) -> tf.Tensor:
    """``relu(base - after) / (base + eps)`` per sample."""
    return tf.nn.relu(base - after) / (base + _EPS)


def average_increase(base: tf.Tensor, after: tf.Tensor) -> tf.Tensor:
    """``1[after > base]`` per sample (float)."""
    return tf.cast(after > base, tf.float32)


def average_gain(base: tf.Tensor, after: tf.Tensor) -> tf.Tensor:
    """``relu(after - base) / (1 - base + eps)`` per sample."""
    # guarded rather than ``1 - base + 1e-8``, which a compiled function may reassociate into
    # ``(1 + 1e-8) - base``: 0 when the base score saturates at 1
    return tf.math.divide_no_nan(tf.nn.relu(after - base), 1.0 - base)


def compiled_masked_scores(
    model: Callable, operator: OperatorSignature, activation: str | None, masked: bool
) -> Callable:
    """The compiled ``(inputs, targets, explanations) -> scores (N,)`` of the inputs multiplied
    by their explanation masks (``masked``), or of the inputs themselves (``explanations``
    ignored). Shared by every metric of the same model, operator and activation."""

    def build(get_model: Callable[[], Callable]) -> Callable:
        def scores(inputs: tf.Tensor, targets: tf.Tensor, explanations: tf.Tensor) -> tf.Tensor:
            if masked:
                inputs = inputs * explanation_mask(explanations)
            return operator(with_activation(get_model(), activation), inputs, targets)

        return scores

    kind = f"masked_scores/{activation}/{masked}"
    return shared_function(kind, model, operator, build)


# --------------------------------------------------------------------------- metrics


class BaseAverageXMetric(ExplanationMetric):
    """Average Drop / Increase / Gain: per-sample scores of the inputs masked by their
    explanations, against the unmasked scores; ``evaluate`` is their mean.

    Same parameters, defaults and values as Xplique 2.0.2's ``BaseAverageXMetric``. The masked
    inputs are built and scored in one compiled call per batch of ``batch_size`` inputs; the
    unmasked scores (``base_scores_``) are computed once per metric object. Differences with
    Xplique, on purpose: ``detailed_evaluate(explanations)`` gives the per-sample scores of the
    inputs given at construction (Xplique's per-batch ``detailed_evaluate(inputs, targets,
    explanations)`` is accepted too); explanations of the wrong number or shape, or holding
    NaN / inf, raise a ``ValueError`` (Xplique asserts on the number only); ``targets=None``
    means the predicted classes; integer labels are accepted.

    Parameters
    ----------
    model
        Keras model or callable.
    inputs
        Samples ``(N, ...)``: array, tensor, or ``tf.data.Dataset`` of ``(inputs, targets)``.
    targets
        One-hot ``(N, C)`` or labels ``(N,)``; ``None`` for the model's predicted classes.
    batch_size
        Number of inputs scored at once; ``None`` for all at once.
    operator
        ``None`` (classification), a name, or a callable ``(model, inputs, targets) -> scores``.
    activation
        ``None``, ``"softmax"`` or ``"sigmoid"`` applied to the model's outputs (Average Gain and
        Increase are meant for probabilities).
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        operator: str | OperatorSignature | None = None,
        activation: str | None = None,
    ):
        super().__init__(model, inputs, targets, batch_size, operator, activation)
        self._base_scores: tf.Tensor | None = None

    @staticmethod
    @abstractmethod
    def per_sample(base: tf.Tensor, after: tf.Tensor) -> tf.Tensor:
        """Per-sample score from the unmasked (``base``) and masked (``after``) scores."""

    def _score(
        self, inputs: tf.Tensor, targets: tf.Tensor, explanations: tf.Tensor, masked: bool
    ) -> tf.Tensor:
        function = compiled_masked_scores(self.model, self.operator, self.activation, masked)
        return batch_apply(function, (inputs, targets, explanations), self.batch_size)

    @property
    def base_scores_(self) -> tf.Tensor:
        """Scores of the unmasked inputs, ``(N,)``, computed once."""
        if self._base_scores is None:
            self._base_scores = self._score(self.inputs, self.targets, self.inputs, False)
        return self._base_scores

    def _explanations(self, explanations: Any, inputs: tf.Tensor) -> tf.Tensor:
        explanations = to_float_tensor(explanations, "explanations")
        n = int(inputs.shape[0])
        if explanations.shape.rank == 0 or explanations.shape[0] != n:
            raise ValueError(
                f"`explanations` must hold one explanation per input: {n} inputs, got "
                f"explanations of shape {tuple(explanations.shape)}."
            )
        check_finite(explanations, "explanations")
        return canonical_explanations(explanations, tuple(inputs.shape))

    def detailed_evaluate(self, *args: Any) -> np.ndarray:
        """Per-sample scores, ``(N,)`` (their mean is :meth:`evaluate`).

        ``detailed_evaluate(explanations)``: one explanation per input given at construction.
        ``detailed_evaluate(inputs, targets, explanations)``: Xplique's per-batch form, on other
        inputs (nothing cached).
        """
        if len(args) == 1:
            explanations = self._explanations(args[0], self.inputs)
            after = self._score(self.inputs, self.targets, explanations, True)
            return self.per_sample(self.base_scores_, after).numpy()
        if len(args) == 3:
            inputs = to_float_tensor(args[0], "inputs")
            targets = tf.convert_to_tensor(args[1])
            if targets.shape.rank == 0 or targets.shape[0] != inputs.shape[0]:
                raise ValueError(
                    f"`targets` must have one entry per input: inputs have N={inputs.shape[0]}, "
                    f"targets have shape {tuple(targets.shape)}."
                )
            targets = to_one_hot(targets, model_output_size(self.model, inputs))
            explanations = self._explanations(args[2], inputs)
            base = self._score(inputs, targets, inputs, False)
            after = self._score(inputs, targets, explanations, True)
            return self.per_sample(base, after).numpy()
        raise TypeError(
            "`detailed_evaluate` takes (explanations) or (inputs, targets, explanations), got "
            f"{len(args)} arguments."
        )

    def evaluate(self, explanations: Any) -> float:
        """Mean per-sample score of ``explanations`` (one per input given at construction)."""
        return float(np.mean(self.detailed_evaluate(explanations)))


class AverageDropMetric(BaseAverageXMetric):
    """Average Drop: the relative loss of score when each input is masked by its explanation,
    ``mean relu(base - after) / (base + eps)`` (lower is better).

    Ref. Chattopadhay et al., *Grad-CAM++* (WACV 2018), https://arxiv.org/abs/1710.11063.
    Drop-in for ``xplique.metrics.AverageDropMetric`` (same parameters, same values), compiled
    and batched, the unmasked scores cached. See :class:`BaseAverageXMetric` for the parameters.
    """

    per_sample = staticmethod(average_drop)


class AverageIncreaseMetric(BaseAverageXMetric):
    """Average Increase in Confidence: the share of inputs whose score rises when masked by
    their explanation, ``mean 1[after > base]`` (higher is better).

    Ref. Chattopadhay et al., *Grad-CAM++* (WACV 2018), https://arxiv.org/abs/1710.11063.
    Drop-in for ``xplique.metrics.AverageIncreaseMetric``; meant for probabilities
    (``activation="softmax"`` on a logit model). See :class:`BaseAverageXMetric`.
    """

    per_sample = staticmethod(average_increase)


class AverageGainMetric(BaseAverageXMetric):
    """Average Gain: the relative gain of score when each input is masked by its explanation,
    ``mean relu(after - base) / (1 - base + eps)`` (higher is better).

    Ref. Zhang et al., *Opti-CAM: Optimizing saliency maps for interpretability* (CVIU 2024),
    https://arxiv.org/abs/2301.07002. Drop-in for ``xplique.metrics.AverageGainMetric``; meant
    for probabilities in ``[0, 1]`` (``activation="softmax"`` on a logit model). See
    :class:`BaseAverageXMetric`.
    """

    per_sample = staticmethod(average_gain)
