"""FEM (Feature Explanation Method): strongly activated positions of a convolutional layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..commons.batching import batch_apply
from ..commons.inputs import sanitize_inputs
from ..commons.model_splitting import layer_model
from ..commons.tf_functions import BatchPolymorphicFunction
from ..commons.validation import check_batch_size, check_real
from .base import Explainer
from .feature_maps import find_conv_layer


def fem_maps(feature_maps: tf.Tensor, k: float | tf.Tensor = 2.0) -> tf.Tensor:
    """FEM maps ``(N, h, w)`` of feature maps ``(N, h, w, c)``.

    Each channel is thresholded by the k-sigma rule ``A >= mean + k * std`` (spatial mean and
    population standard deviation per channel); the binary masks are summed weighted by the
    channel means.
    """
    means = tf.reduce_mean(feature_maps, axis=(1, 2), keepdims=True)
    stds = tf.math.reduce_std(feature_maps, axis=(1, 2), keepdims=True)
    masks = tf.cast(feature_maps >= means + k * stds, feature_maps.dtype)
    return tf.reduce_sum(masks * means, axis=-1)


class FEM(Explainer):
    """FEM: gradient-free, class-agnostic maps of where a convolutional layer fires strongly.

    ``map = sum_k mean(A_k) * [A_k >= mean(A_k) + k std(A_k)]`` over the channels ``A_k`` of the
    layer, upsampled (bicubic) to the input's size, ``(N, H, W, 1)``. ``targets`` are accepted
    and ignored (the method does not depend on the class). Drop-in for
    ``xplique.attributions.FEM`` (same parameters, defaults, layer choice and output); here the
    forward pass to the layer is one compiled function, inputs are sanitised like every
    explainer's (datasets, dtype and NaN checks), and ``conv_layer=None`` also finds a nested
    base model with a 4-D output.

    Ref. Fuad, Martin, Giot, Bourqui, Benois-Pineau & Zemmari, *Features Understanding in 3D
    CNNs for Actions Recognition in Video*, IPTA 2020,
    https://doi.org/10.1109/IPTA50016.2020.9286629 (the paper's ``k`` and the channel-mean
    weights; Ahmed et al.'s FEM for 2D images uses the same rule).

    Parameters
    ----------
    model
        A built Keras model on images ``(N, H, W, C)``.
    batch_size
        Inputs processed at once; ``None`` for all at once.
    conv_layer
        Index, name, path through nested models (``"base/name"``) or unique bare name of the
        layer; ``None`` for the last top-level layer with ``filters`` (Xplique's rule) or nested
        model with a 4-D output.
    k
        Number of standard deviations of the threshold.
    """

    def __init__(
        self,
        model: Callable,
        batch_size: int | None = 32,
        conv_layer: str | int | None = None,
        k: float = 2.0,
    ):
        self.conv_layer = find_conv_layer(model, conv_layer)
        self.batch_size = check_batch_size(batch_size)
        self.k = check_real(k, "k")
        self.model = layer_model(model, self.conv_layer)  # inputs -> feature maps, shared weights
        feature_model, threshold = self.model, self.k
        self._maps = BatchPolymorphicFunction(lambda x: fem_maps(feature_model(x), threshold))

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """FEM maps ``(N, H, W, 1)`` (float32), upsampled to the inputs' size.

        Parameters
        ----------
        inputs
            Images ``(N, H, W, C)`` (array, tensor or ``tf.data.Dataset``).
        targets
            Ignored (FEM is class-agnostic); accepted for the common signature.
        verbose
            Accepted for the common signature ``explain(inputs, targets=None, verbose=False)``;
            this method runs in one batched pass, without a progress bar.
        """
        inputs, _ = sanitize_inputs(inputs, None, expected_rank=4)
        maps = batch_apply(self._maps, (inputs,), self.batch_size)
        return tf.image.resize(maps[..., None], inputs.shape[1:3], method="bicubic")
