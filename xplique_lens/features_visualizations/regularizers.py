"""Image regularizers of Lucid-style feature visualization, as in Xplique.

Each factory returns ``reg(images) -> (N,)``, one penalty per image, that
:func:`~xplique_lens.features_visualizations.optimize` subtracts from the objective.

References
----------
Olah, Mordvintsev & Schubert (2017). *Feature Visualization.* Distill.
https://distill.pub/2017/feature-visualization
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import tensorflow as tf


def _check_factor(factor: float) -> float:
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
        raise TypeError(f"`factor` must be a number, got {factor!r}.")
    return float(factor)


def l1_reg(factor: float = 1.0) -> Callable[[tf.Tensor], tf.Tensor]:
    """``factor * mean |x|`` per image."""
    factor = _check_factor(factor)

    def reg(images: tf.Tensor) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        return factor * tf.reduce_mean(tf.abs(images), (1, 2, 3))

    return reg


def l2_reg(factor: float = 1.0) -> Callable[[tf.Tensor], tf.Tensor]:
    """``factor * sqrt(mean x^2)`` per image."""
    factor = _check_factor(factor)

    def reg(images: tf.Tensor) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        return factor * tf.sqrt(tf.reduce_mean(images**2, (1, 2, 3)))

    return reg


def l_inf_reg(factor: float = 1.0) -> Callable[[tf.Tensor], tf.Tensor]:
    """``factor * max |x|`` per image."""
    factor = _check_factor(factor)

    def reg(images: tf.Tensor) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        return factor * tf.reduce_max(tf.abs(images), (1, 2, 3))

    return reg


def total_variation_reg(factor: float = 1.0) -> Callable[[tf.Tensor], tf.Tensor]:
    """``factor * total variation`` per image (sum of absolute neighbour differences)."""
    factor = _check_factor(factor)

    def reg(images: tf.Tensor) -> tf.Tensor:
        images = tf.convert_to_tensor(images, tf.float32)
        return factor * tf.image.total_variation(images)

    return reg
