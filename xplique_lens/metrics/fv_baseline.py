"""The feature-visualization baseline of *Back to the Baseline* (Picard et al. 2025).

Ref. Picard, Boissin, Subhash, Cadène, Fel, *Back to the Baseline: Examining Baseline Effects on
Explainability Metrics* (2025), arXiv 2512.11433; Fel et al., *Unlocking Feature Visualization
for Deeper Networks with MAgnitude Constrained Optimization* (2023),
https://arxiv.org/abs/2306.06805.
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from ..commons.validation import check_positive_int, check_real, check_seed, resolve_seed
from .baseline_helpers import as_images, value_range

_FV_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _one_over_f(height: int, width: int, channels: int) -> np.ndarray:
    """``1/f`` magnitude ``(C, H, W // 2 + 1)``: ``xplique_lens.features``' when available."""
    try:
        from ..features.magnitude import one_over_f_magnitude
    except ImportError:  # the features family is optional here
        fy = np.fft.fftfreq(height)[:, None]
        fx = np.fft.rfftfreq(width)[None, :]
        mag = 1.0 / np.maximum(np.sqrt(fx**2 + fy**2), 1.0 / max(height, width))
        return np.repeat(mag[None], channels, axis=0).astype(np.float32)
    return one_over_f_magnitude(height, width, channels)


class FeatureVisualizationBaseline:
    """The feature-visualization baseline of *Back to the Baseline* (Picard et al. 2025).

    One image, optimised MACO-style (Fel et al. 2023): its Fourier phase is free, its magnitude is
    a fixed natural-image 1/f spectrum times a learnable gain, and the objective is to minimise
    the mean absolute activation of the penultimate layer. It removes the information the model
    uses while looking like a natural image to it (less out-of-distribution than noise).
    Computed once per (model, settings) and cached; every input gets the same image.

    Implementation: the phase ``(C, H, W // 2 + 1)`` and a per-channel gain are optimised with
    Adam; the magnitude is the ``1/f`` law of ``xplique_lens.features.one_over_f_magnitude``
    times ``softplus(gain)``; the image is divided by a *fixed* constant (its std at gain 1)
    and mapped to the inputs' range by a sigmoid. ``features.maco_image`` is not reused because
    it standardises each image, which would cancel the gain (the contrast the paper learns).

    Parameters
    ----------
    model
        A Keras model; its layer ``layer`` gives the activations to silence.
    layer
        Name or index of the penultimate layer (default ``-2``).
    nb_steps
        Optimisation steps.
    learning_rate
        Adam step size.
    seed : int or None, default 0
        Seed of the initial phase; None draws fresh randomness (a new image per instance).
    """

    def __init__(
        self,
        model: Callable,
        layer: str | int = -2,
        nb_steps: int = 128,
        learning_rate: float = 0.05,
        seed: int | None = 0,
    ):
        if not callable(model):
            raise TypeError(f"`model` must be a Keras model, got {type(model).__name__}.")
        if isinstance(layer, bool) or not isinstance(layer, str | numbers.Integral):
            raise TypeError(f"`layer` must be a layer name or index, got {layer!r}.")
        self.model = model
        self.layer = layer
        self.nb_steps = check_positive_int(nb_steps, "nb_steps", minimum=0)
        self.learning_rate = check_real(learning_rate, "learning_rate", 0.0, strict=True)
        self.seed = check_seed(seed)
        self._phase_seed = resolve_seed(self.seed)  # drawn once: one image per instance

    def _key(self, shape: tuple, vmin: float, vmax: float) -> tuple:
        settings = (self.layer, self.nb_steps, self.learning_rate, self._phase_seed)
        return (*settings, shape, vmin, vmax)

    def image(self, shape: tuple[int, int, int], vmin: float = 0.0, vmax: float = 1.0):
        """The optimised image ``(H, W, C)`` with values in ``[vmin, vmax]`` (cached)."""
        cache = _FV_CACHE.setdefault(self.model, {})
        key = self._key(tuple(shape), float(vmin), float(vmax))
        if key not in cache:
            cache[key] = self._optimise(tuple(shape), float(vmin), float(vmax))
        return cache[key]

    def _optimise(self, shape: tuple[int, int, int], vmin: float, vmax: float) -> tf.Tensor:
        from ..commons.model_splitting import split_model

        features, _ = split_model(self.model, self.layer)
        height, width, channels = shape
        magnitude = tf.constant(_one_over_f(height, width, channels))
        rng = np.random.default_rng(self._phase_seed)
        phase = tf.Variable(rng.uniform(-np.pi, np.pi, magnitude.shape).astype(np.float32))
        gain = tf.Variable(tf.fill((channels, 1, 1), float(np.log(np.e - 1.0))))  # softplus = 1

        def spatial(amp: tf.Tensor) -> tf.Tensor:
            spectrum = tf.complex(amp * tf.cos(phase), amp * tf.sin(phase))
            return tf.signal.irfft2d(spectrum, fft_length=(height, width))

        # fixed normalisation: unit standard deviation at gain 1, so the gain sets the contrast
        scale = float(tf.math.reduce_std(spatial(magnitude))) or 1.0

        def render() -> tf.Tensor:
            image = spatial(magnitude * tf.nn.softplus(gain)) / scale
            return vmin + (vmax - vmin) * tf.sigmoid(tf.transpose(image, (1, 2, 0)))

        optimizer = tf.keras.optimizers.Adam(self.learning_rate)

        @tf.function
        def step() -> tf.Tensor:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.abs(features(render()[None])))
            grads = tape.gradient(loss, [phase, gain])
            optimizer.apply_gradients(zip(grads, [phase, gain]))
            return loss

        for _ in range(self.nb_steps):
            step()
        return tf.constant(render())

    def __call__(self, inputs: Any) -> tf.Tensor:
        inputs = as_images(inputs)
        vmin, vmax = (float(v) for v in value_range(inputs))
        image = self.image(tuple(inputs.shape[1:]), vmin, vmax)
        return tf.broadcast_to(image[None], tf.shape(inputs))


def feature_visualization_baseline(inputs: Any, model: Callable, **settings: Any) -> tf.Tensor:
    """Functional form of :class:`FeatureVisualizationBaseline` (use with ``functools.partial``)."""
    return FeatureVisualizationBaseline(model, **settings)(inputs)
