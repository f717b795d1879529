"""Average stability (sensitivity): how much an explanation moves under a small input noise.

Ref. Bhatt, Weller & Moura, *Evaluating and Aggregating Feature-based Model Explanations*
(IJCAI 2020), https://arxiv.org/abs/2005.00631 (definition 2); used as the stability metric
alongside MeGe / ReCo in Fel, Vigouroux et al. (WACV 2022), https://arxiv.org/abs/2009.04521.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ...commons.batching import batch_slices
from ...commons.validation import check_positive_int, check_seed
from ..base import ExplainerMetric
from ..perturbation import random_key


@tf.function(reduce_retracing=True)
def _l1(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(tf.abs(tf.reshape(a - b, [tf.shape(a)[0], -1])), axis=-1)


@tf.function(reduce_retracing=True)
def _l2(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return tf.sqrt(tf.reduce_sum(tf.square(tf.reshape(a - b, [tf.shape(a)[0], -1])), axis=-1))


_DISTANCES = {"l1": _l1, "l2": _l2}


class AverageStability(ExplainerMetric):
    """Mean distance between the explanation of an input and those of its noisy neighbours.

    For each input ``x`` and each of ``nb_samples`` noise draws ``u``, the explanation of
    ``x + u`` is compared with the explanation of ``x``; the score is the mean distance (lower
    is more stable). Same signature and defaults as ``xplique.metrics.AverageStability``, with
    these differences:

    - the noise is symmetric, ``u ~ U(-radius, radius)`` per pixel, so the neighbours surround
      the input (Xplique draws ``U(0, radius)``: every neighbour is brighter, a biased shift);
    - the noise is seeded (``seed``) and the neighbours are explained ``batch_size`` at a time
      across inputs, with a vectorised distance for ``"l1"`` / ``"l2"``.

    As in Xplique, the same ``nb_samples`` noise draws are used for every input and the noisy
    inputs are not clipped to the data range.

    Parameters
    ----------
    model
        Model the explanations are computed on.
    inputs
        Array, tensor, or ``tf.data.Dataset`` of ``(inputs, targets)``.
    targets
        One-hot ``(N, C)`` or labels ``(N,)``; ``None`` for the model's predicted classes.
    batch_size
        Number of neighbours explained at once.
    radius
        Half-width of the uniform noise added to the inputs.
    distance
        ``"l1"``, ``"l2"``, or a callable ``distance(explanation_a, explanation_b) -> float``
        on two single explanations (called pair by pair).
    nb_samples
        Number of noisy neighbours per input.
    seed : int or None, default 0
        Seed of the noise; None draws fresh randomness.
    verbose
        Show a progress bar.
    """

    def __init__(
        self,
        model: Callable,
        inputs: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        radius: float = 0.1,
        distance: str | Callable = "l2",
        nb_samples: int = 20,
        *,
        seed: int | None = 0,
        verbose: bool = False,
    ):
        super().__init__(model, inputs, targets, batch_size)
        if isinstance(radius, bool) or not isinstance(radius, int | float) or radius < 0:
            raise ValueError(f"`radius` must be a non-negative number, got {radius!r}.")
        if isinstance(distance, str):
            if distance not in _DISTANCES:
                raise ValueError(f"`distance` must be 'l1', 'l2' or a callable, got {distance!r}.")
        elif not callable(distance):
            raise TypeError(f"`distance` must be 'l1', 'l2' or a callable, got {distance!r}.")
        self.radius = float(radius)
        self.distance = distance
        self.nb_samples = check_positive_int(nb_samples, "nb_samples")
        self.seed = check_seed(seed)
        self.verbose = bool(verbose)
        self.noisy_masks = tf.random.stateless_uniform(
            (self.nb_samples, *self.inputs.shape[1:]),
            seed=random_key(self.seed),
            minval=-self.radius,
            maxval=self.radius,
        )

    def _distances(self, a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        if isinstance(self.distance, str):
            return _DISTANCES[self.distance](a, b)
        # a user callable works on single explanations (Xplique's convention)
        return tf.constant(
            [float(self.distance(a[i], b[i])) for i in range(a.shape[0])], dtype=tf.float32
        )

    def detailed_evaluate(self, explainer: Callable, base_explanations: Any = None) -> np.ndarray:
        """Mean distance of each input's neighbours' explanations to its own, ``(N,)``."""
        if not callable(explainer):
            raise TypeError(f"`explainer` must be a callable (inputs, targets), got {explainer!r}.")
        n = self.inputs.shape[0]
        if base_explanations is None:
            base_explanations = explainer(self.inputs, self.targets)
        base_explanations = tf.cast(tf.convert_to_tensor(base_explanations), tf.float32)
        if base_explanations.shape.rank == 0 or base_explanations.shape[0] != n:
            raise ValueError(
                f"`base_explanations` must hold one explanation per input (N={n}), got shape "
                f"{tuple(base_explanations.shape)}."
            )
        # pairs (input, noise draw) flattened, explained batch_size at a time
        total = n * self.nb_samples
        sums = tf.zeros([n], tf.float32)
        batches = list(batch_slices(total, self.batch_size))
        for batch in tqdm(batches, desc="AverageStability", disable=not self.verbose):
            pair = tf.range(batch.start, batch.stop)
            sample, draw = pair // self.nb_samples, pair % self.nb_samples
            neighbours = tf.gather(self.inputs, sample) + tf.gather(self.noisy_masks, draw)
            explanations = tf.convert_to_tensor(
                explainer(neighbours, tf.gather(self.targets, sample))
            )
            explanations = tf.cast(explanations, tf.float32)
            distances = self._distances(explanations, tf.gather(base_explanations, sample))
            sums = tf.tensor_scatter_nd_add(sums, sample[:, None], tf.cast(distances, tf.float32))
        return (sums / self.nb_samples).numpy()

    def evaluate(self, explainer: Callable, base_explanations: Any = None) -> float:
        """Average stability score (lower is more stable).

        Parameters
        ----------
        explainer
            Callable ``(inputs, targets) -> explanations`` (ours or Xplique's).
        base_explanations
            Explanations of the inputs, computed with ``explainer`` when ``None``.
        """
        return float(np.mean(self.detailed_evaluate(explainer, base_explanations)))
