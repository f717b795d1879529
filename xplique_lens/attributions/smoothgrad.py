"""Gradient statistics under input noise: SmoothGrad, SquareGrad, VarGrad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..commons.operators import OperatorSignature
from ..commons.validation import check_positive_int, check_real, check_seed, resolve_seed
from .base import WhiteBoxExplainer
from .streaming import make_gradient_chunk, stream_sums


def _add_noise(x, j, noise):
    return x + tf.gather(noise, j)


def _moments(gradients, j, noise):
    return gradients, tf.square(gradients)


class _GradientStatistic(WhiteBoxExplainer):
    """Gradients at ``nb_samples`` noisy copies ``x + N(0, noise^2)`` of each input, reduced.

    The noise draws ``(nb_samples, *input_shape)`` are made once per call from ``seed`` and shared
    by all inputs: same seed, same maps, and permuting the batch permutes the maps (Xplique draws
    unseeded noise per input). All ``n * nb_samples`` gradients stream in chunks of
    ``batch_size`` gradient passes; works on any differentiable callable of a tensor.

    Parameters
    ----------
    model, output_layer, operator, reducer
        See :class:`~xplique_lens.attributions.base.WhiteBoxExplainer`.
    batch_size
        Gradient passes per chunk.
    nb_samples
        Noisy copies per input.
    noise
        Standard deviation of the Gaussian noise (absolute, as Xplique).
    seed : int or None, default 0
        Seed of the noise; None draws fresh randomness (new noise at each call).
    """

    _min_samples = 1

    def __init__(
        self,
        model: Callable,
        output_layer: str | int | None = None,
        batch_size: int | None = 32,
        operator: str | OperatorSignature | None = None,
        reducer: str | None = "mean",
        nb_samples: int = 50,
        noise: float = 0.2,
        seed: int | None = 0,
    ):
        super().__init__(model, output_layer, batch_size, operator, reducer)
        self.nb_samples = check_positive_int(nb_samples, "nb_samples", minimum=self._min_samples)
        self.noise = check_real(noise, "noise", minimum=0.0)
        self.seed = check_seed(seed)
        self._chunk = make_gradient_chunk(self.gradient_function, _add_noise, _moments)

    def _statistic(self, mean: tf.Tensor, mean_square: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Reduced gradient statistic, ``(N, H, W, 1)`` for images, the input's shape otherwise."""
        inputs, targets = self._sanitize(inputs, targets)
        noise = self.noise * tf.random.stateless_normal(
            (self.nb_samples, *inputs.shape[1:]), seed=[resolve_seed(self.seed), 0]
        )
        total, total_square = stream_sums(
            self._chunk,
            (inputs, targets, noise),
            int(inputs.shape[0]),
            self.nb_samples,
            self.batch_size,
            verbose,
            type(self).__name__,
        )
        statistic = self._statistic(total / self.nb_samples, total_square / self.nb_samples)
        return self._reduce_channels(statistic)


class SmoothGrad(_GradientStatistic):
    __doc__ = """SmoothGrad: mean gradient over noisy copies of the input.

    Ref. Smilkov et al., *SmoothGrad: removing noise by adding noise* (2017),
    https://arxiv.org/abs/1706.03825. Drop-in for ``xplique.attributions.SmoothGrad``.
    """ + _GradientStatistic.__doc__.split("\n", 1)[1]

    def _statistic(self, mean, mean_square):
        return mean


class SquareGrad(_GradientStatistic):
    __doc__ = """SquareGrad: mean squared gradient over noisy copies of the input.

    Ref. Hooker et al., *A Benchmark for Interpretability Methods in Deep Neural Networks*
    (2019), https://arxiv.org/abs/1806.10758. Drop-in for ``xplique.attributions.SquareGrad``.
    """ + _GradientStatistic.__doc__.split("\n", 1)[1]

    def _statistic(self, mean, mean_square):
        return mean_square


class VarGrad(_GradientStatistic):
    __doc__ = """VarGrad: unbiased variance of the gradient over noisy copies (``nb_samples >= 2``).

    Ref. Adebayo et al., *Local Explanation Methods for Deep Neural Networks Lack Sensitivity to
    Parameter Values* (2018), https://arxiv.org/abs/1810.03307. Drop-in for
    ``xplique.attributions.VarGrad``.
    """ + _GradientStatistic.__doc__.split("\n", 1)[1]

    _min_samples = 2

    def _statistic(self, mean, mean_square):
        n = float(self.nb_samples)
        return tf.maximum(mean_square - tf.square(mean), 0.0) * n / (n - 1.0)
