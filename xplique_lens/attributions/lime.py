"""LIME: a weighted linear model fitted on random on/off patterns of interpretable features.

The pipeline, for ``N`` inputs and ``S = nb_samples`` patterns each:

1. map every input to interpretable features (``map_to_interpret_space``: grid cells or
   superpixels for images, one feature per entry for tabular data and time series);
2. draw binary patterns ``z`` in ``{0, 1}^F`` (seeded; shared by the inputs with the same number
   of features), turn each into a perturbed input ``x * m + (1 - m) * ref_value`` where ``m`` is
   ``z`` painted on the feature map, and score it; all ``N * S`` pairs stream in chunks of
   ``batch_size`` forward passes through one compiled function (patterns, masks and
   similarities are built inside it, inputs mixed in a chunk: no per-input Python loop);
3. fit ``score ~ z`` by weighted ridge / least squares for all inputs at once, in closed form
   (float64, batched ``(F, F)`` systems); the coefficients, painted back on the feature map,
   are the explanation.

:class:`~xplique_lens.attributions.kernel_shap.KernelShap` is the same pipeline with the Shapley
sampling of patterns, uniform weights and no regulariser.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.operators import OperatorSignature
from ..commons.validation import (
    check_choice,
    check_positive_int,
    check_real,
    check_seed,
    resolve_seed,
)
from .base import BlackBoxExplainer
from .lime_kernels import (
    bernoulli_samples,
    exponential_similarity,
    linear_settings,
    perturb_with_patterns,
    shapley_samples,
    weighted_ridge,
)
from .segmentation import default_mappings

__all__ = [
    "Lime",
    "bernoulli_samples",
    "exponential_similarity",
    "linear_settings",
    "perturb_with_patterns",
    "shapley_samples",
    "weighted_ridge",
]

#: budget of pattern entries (``inputs x nb_samples x features``) built at once for the fit
_FIT_BUDGET = 2**22


def _check_ref_value(ref_value: Any) -> np.ndarray:
    """``ref_value`` as a finite float32 array (one value, or one per channel)."""
    try:
        array = np.array(ref_value, np.float32)  # a copy: the user's array is never aliased
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"`ref_value` must be None, a number or one number per channel, got {ref_value!r}."
        ) from error
    if not np.all(np.isfinite(array)):
        raise ValueError(
            "`ref_value` must be None, a finite number or one finite number per channel, got "
            f"{ref_value!r}."
        )
    return array


class Lime(BlackBoxExplainer):
    """LIME: coefficients of a weighted linear model of the score on interpretable features.

    Drop-in for ``xplique.attributions.Lime`` (same parameters, order, defaults where it makes
    sense, and outputs: ``(N, H, W, 1)`` for images, ``(N, F)`` tabular, ``(N, T, W)`` time
    series), with these differences:

    - default features of images: SLIC superpixels (:class:`~.segmentation.SlicSegmentation`,
      about 64 per image), computed in TensorFlow for all images at once; Xplique segments each
      image with scikit-image's quickshift (``ratio=0.5, kernel_size=2``; grey images:
      felzenszwalb), a per-image CPU loop and not a dependency here. Any callable
      ``map_to_interpret_space(one_input) -> (H, W) int`` still works (called once per input),
      e.g. ``lambda x: skimage.segmentation.quickshift(x.numpy().astype("double"), ratio=0.5,
      kernel_size=2)`` for Xplique's default, or :class:`~.segmentation.GridSegmentation`;
    - all ``N * nb_samples`` perturbed inputs stream through one compiled chunk function
      (Xplique loops over inputs in Python); patterns are seeded (``seed``) and shared by the
      inputs with the same number of features;
    - ``interpretable_model=None`` (the default) and scikit-learn ``Ridge`` / ``LinearRegression``
      objects are solved in closed form for all inputs at once (float64; same coefficients as
      scikit-learn); any other model with ``fit`` / ``coef_`` (e.g. ``Lasso``) is fitted per
      input with scikit-learn, as Xplique does;
    - ``distance_mode="cosine"`` uses ``1 - cos(x, x')``: Xplique takes Keras'
      ``cosine_similarity`` loss, which is ``-cos``, so its distance ``1 + cos`` is smallest for
      the most different samples;
    - a custom ``similarity_kernel`` is called per input on slices of ``batch_size`` samples
      (Xplique's contract), after the forward passes;
    - bad settings raise ``ValueError`` / ``TypeError`` (Xplique asserts, warns or fails later);
      settings are never modified by ``explain`` (Xplique stores the ``ref_value`` and map of
      the first call).

    Ref. Ribeiro, Singh & Guestrin, *"Why Should I Trust You?": Explaining the Predictions of
    Any Classifier* (2016), https://arxiv.org/abs/1602.04938.

    Parameters
    ----------
    model
        Keras model or callable on a batch of inputs.
    batch_size
        Forward passes per chunk; ``None``: ``nb_samples`` (as Xplique).
    operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    interpretable_model
        ``None`` (ridge, ``alpha=2``, with intercept: Xplique's ``Ridge(alpha=2)``), a
        scikit-learn ``Ridge`` / ``LinearRegression`` (closed form), or any object with
        ``fit(X, y, sample_weight=...)``, ``predict`` and, once fitted, ``coef_``.
    similarity_kernel
        ``None`` for ``exp(-D**2 / kernel_width**2)``, or Xplique's contract
        ``kernel(original_input, interpretable_samples (b, F) int32, perturbed_inputs (b, ...))
        -> (b,)``.
    pertub_func
        ``None`` for independent features on with probability ``prob``, or Xplique's contract
        ``pertub_func(num_features (1,) int32, nb_samples) -> (nb_samples, num_features)``
        (called once per input; the patterns are kept, ``N x nb_samples x F`` values).
    map_to_interpret_space
        ``None`` (see above) or a callable ``(one_input) -> feature ids`` ``(H, W)`` for images,
        the input's shape otherwise; objects with a ``batch(inputs)`` method (e.g.
        :class:`~.segmentation.SlicSegmentation`) are called once on all inputs.
    ref_value
        Value of the switched-off features: ``(C,)`` for images; default ``0.5`` per channel
        for RGB images, 0 otherwise (as Xplique).
    nb_samples
        Patterns per input.
    distance_mode
        ``"euclidean"`` or ``"cosine"`` (default similarity kernel).
    kernel_width
        Width of the default similarity kernel, ``> 0``.
    prob
        Probability that a feature is on (default patterns).
    seed : int or None, default 0
        Seed of the patterns; None draws fresh randomness (new patterns at each call).
    """

    _sampling = "bernoulli"
    _min_features = 1

    def __init__(
        self,
        model: Callable,
        batch_size: int | None = None,
        operator: str | OperatorSignature | None = None,
        interpretable_model: Any = None,
        similarity_kernel: Callable | None = None,
        pertub_func: Callable | None = None,
        map_to_interpret_space: Callable | None = None,
        ref_value: Any = None,
        nb_samples: int = 150,
        distance_mode: str = "euclidean",
        kernel_width: float = 45.0,
        prob: float = 0.5,
        seed: int | None = 0,
    ):
        super().__init__(model, batch_size, operator)
        self.nb_samples = check_positive_int(nb_samples, "nb_samples")
        self.batch_size = self.batch_size or self.nb_samples
        if interpretable_model is not None and not all(
            hasattr(interpretable_model, attr) for attr in ("fit", "predict")
        ):
            raise TypeError(
                "`interpretable_model` must have `fit` and `predict` methods (and `coef_` once "
                f"fitted), got {type(interpretable_model).__name__}."
            )
        self.interpretable_model = interpretable_model
        self._linear = linear_settings(interpretable_model)
        for name, fn in (
            ("similarity_kernel", similarity_kernel),
            ("pertub_func", pertub_func),
            ("map_to_interpret_space", map_to_interpret_space),
        ):
            if fn is not None and not callable(fn):
                raise TypeError(f"`{name}` must be None or a callable, got {type(fn).__name__}.")
        self.similarity_kernel = similarity_kernel
        self.pertub_func = pertub_func
        self.map_to_interpret_space = map_to_interpret_space
        self.ref_value = None if ref_value is None else _check_ref_value(ref_value)
        self.distance_mode = check_choice(distance_mode, "distance_mode", ("euclidean", "cosine"))
        self.kernel_width = check_real(kernel_width, "kernel_width", 0.0, strict=True)
        self.prob = check_real(prob, "prob", 0.0, 1.0)
        self.seed = check_seed(seed)
        self._chunk = self._make_chunk()

    # -- the pieces -----------------------------------------------------------------------------

    def _weights_mode(self) -> str:
        return "custom" if self.similarity_kernel is not None else self.distance_mode

    def _patterns_of(
        self, draws: tuple, nb_features: tf.Tensor, images: tf.Tensor, rows: tf.Tensor
    ) -> tf.Tensor:
        """Patterns ``(b, F)`` of the (image, sample) pairs ``(images, rows)``."""
        if self.pertub_func is not None:
            (given,) = draws
            return tf.gather_nd(given, tf.stack([images, rows], axis=1))
        features = tf.gather(nb_features, images)
        if self._sampling == "shapley":
            keys, levels = draws
            return shapley_samples(keys, levels, features, rows)
        (uniform,) = draws
        return bernoulli_samples(uniform, self.prob, features, rows)

    def _make_chunk(self) -> Callable:
        operator_fn, model_fn = self.operator, self.model
        weights_mode, width = self._weights_mode(), self.kernel_width
        patterns_of = self._patterns_of

        @tf.function(reduce_retracing=True)
        def chunk(inputs, targets, mappings, nb_features, ref, draws, per_input, start, size):
            index = start + tf.range(size)
            images, rows = index // per_input, index % per_input
            x = tf.gather(inputs, images)
            patterns = patterns_of(draws, nb_features, images, rows)
            perturbed = perturb_with_patterns(x, patterns, tf.gather(mappings, images), ref)
            scores = tf.reshape(operator_fn(model_fn, perturbed, tf.gather(targets, images)), (-1,))
            if weights_mode in ("euclidean", "cosine"):
                weights = exponential_similarity(x, perturbed, weights_mode, width)
            else:  # uniform (KernelSHAP) or a custom kernel, applied after the forward passes
                weights = tf.ones_like(scores)
            return tf.cast(scores, tf.float32), weights

        return chunk

    def _mappings(self, inputs: tf.Tensor) -> tf.Tensor:
        spatial = tuple(inputs.shape[1:-1]) if inputs.shape.rank == 4 else tuple(inputs.shape[1:])
        fn = self.map_to_interpret_space
        if fn is None:
            mappings = default_mappings(inputs)
        elif hasattr(fn, "batch"):
            mappings = fn.batch(inputs)
        else:
            mappings = tf.stack([tf.convert_to_tensor(fn(inp)) for inp in inputs])
        if tuple(mappings.shape[1:]) != spatial:
            raise ValueError(
                f"`map_to_interpret_space` must give one feature id per entry, shape {spatial} "
                f"per input, got {tuple(mappings.shape[1:])}."
            )
        if not mappings.dtype.is_integer:
            raise TypeError(
                f"`map_to_interpret_space` must give integer feature ids, got {mappings.dtype}."
            )
        mappings = tf.cast(mappings, tf.int32)
        if bool(tf.reduce_any(mappings < 0)):
            raise ValueError("`map_to_interpret_space` gave negative feature ids.")
        return mappings

    def _reference(self, inputs: tf.Tensor) -> tf.Tensor:
        channels = int(inputs.shape[-1])
        if self.ref_value is None:
            if inputs.shape.rank == 4 and channels == 3:
                return tf.fill((3,), 0.5)
            return tf.zeros((1,))
        ref = tf.reshape(tf.constant(self.ref_value), (-1,))
        expected = channels if inputs.shape.rank == 4 else 1
        if ref.shape[0] not in (1, expected):
            raise ValueError(
                f"`ref_value` must have shape ({expected},) for inputs of shape "
                f"{tuple(inputs.shape)}, got {self.ref_value.shape}."
            )
        return ref

    def _draws(self, nb_features: np.ndarray, width: int) -> tuple:
        """Per-call random state: shared patterns (seeded), or the custom ``pertub_func``'s."""
        samples = self.nb_samples
        if self.pertub_func is not None:
            given = []
            for count in nb_features:
                z = tf.cast(
                    self.pertub_func(tf.constant([int(count)], tf.int32), samples), tf.float32
                )
                if tuple(z.shape) != (samples, int(count)):
                    raise ValueError(
                        f"`pertub_func` must return (nb_samples, num_features) = "
                        f"({samples}, {int(count)}) patterns, got {tuple(z.shape)}."
                    )
                given.append(tf.pad(z, [[0, 0], [0, width - int(count)]]))
            return (tf.stack(given),)
        # drawn as (F, S) and transposed: the first F' columns do not depend on F (one input's
        # patterns do not depend on the other inputs of the call)
        seed = resolve_seed(self.seed)
        if self._sampling == "shapley":
            keys = tf.transpose(tf.random.stateless_normal((width, samples), [seed, 1]))
            levels = tf.random.stateless_uniform((samples,), [seed, 2])
            return keys, levels
        return (tf.transpose(tf.random.stateless_uniform((width, samples), [seed, 0])),)

    def _custom_weights(self, inputs, mappings, nb_features, ref, draws) -> tf.Tensor:
        """Xplique's contract: ``kernel(one input, its patterns (b, F_i) int32, perturbed)``."""
        rows = []
        for i in range(int(inputs.shape[0])):
            count, parts = int(nb_features[i]), []
            for start in range(0, self.nb_samples, self.batch_size):
                j = tf.range(start, min(start + self.batch_size, self.nb_samples))
                images = tf.fill(tf.shape(j), i)
                patterns = self._patterns_of(draws, nb_features, images, j)
                x = tf.gather(inputs, images)
                perturbed = perturb_with_patterns(x, patterns, tf.gather(mappings, images), ref)
                values = self.similarity_kernel(
                    inputs[i], tf.cast(patterns[:, :count], tf.int32), perturbed
                )
                parts.append(tf.reshape(tf.cast(values, tf.float32), (-1,)))
            rows.append(tf.concat(parts, 0))
        return tf.stack(rows)

    def _fit(self, scores, weights, nb_features, draws, width) -> tf.Tensor:
        n, samples = int(scores.shape[0]), self.nb_samples
        if bool(tf.reduce_any(tf.reduce_sum(weights, axis=1) == 0)):
            warnings.warn(
                "All similarities are zero for some inputs: uniform weights are used for them "
                "(increase `kernel_width`).",
                stacklevel=3,
            )
        group = max(1, _FIT_BUDGET // (samples * width))
        parts = []
        for start in range(0, n, group):
            stop = min(start + group, n)
            images = tf.repeat(tf.range(start, stop), samples)
            rows = tf.tile(tf.range(samples), [stop - start])
            patterns = tf.reshape(
                self._patterns_of(draws, nb_features, images, rows), (stop - start, samples, width)
            )
            if self._linear is not None:
                alpha, intercept = self._linear
                parts.append(
                    weighted_ridge(
                        patterns,
                        scores[start:stop],
                        weights[start:stop],
                        nb_features[start:stop],
                        alpha,
                        intercept,
                    )
                )
                continue
            for i in range(stop - start):  # any other scikit-learn-like model: one fit per input
                count = int(nb_features[start + i])
                w = weights[start + i].numpy()
                self.interpretable_model.fit(
                    patterns[i, :, :count].numpy(),
                    scores[start + i].numpy(),
                    sample_weight=w if w.sum() > 0 else np.ones_like(w),
                )
                coef = np.ravel(np.asarray(self.interpretable_model.coef_, np.float32))
                parts.append(tf.constant(np.pad(coef, (0, width - count))[None]))
        return tf.concat(parts, axis=0)

    # -- the public API -------------------------------------------------------------------------

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Interpretable-model coefficients painted on the features: ``(N, H, W, 1)`` for
        images, the input's shape otherwise (float32).

        Parameters
        ----------
        inputs
            Images ``(N, H, W, C)``, tabular ``(N, F)`` or time series ``(N, T, W)``.
        targets
            One-hot ``(N, C)``, labels ``(N,)`` or ``None`` (predicted class).
        verbose
            Progress bar over the chunks of forward passes.
        """
        inputs, targets = self._sanitize(inputs, targets)
        if inputs.shape.rank not in (2, 3, 4):
            raise ValueError(
                "`inputs` must be images (N, H, W, C), tabular (N, F) or time series (N, T, W), "
                f"got shape {tuple(inputs.shape)}."
            )
        mappings = self._mappings(inputs)
        axes = list(range(1, mappings.shape.rank))
        nb_features = tf.reduce_max(mappings, axis=axes) + 1
        if int(tf.reduce_min(nb_features)) < self._min_features:
            raise ValueError(
                f"`map_to_interpret_space` must give at least {self._min_features} features per "
                f"input for {type(self).__name__}, got {int(tf.reduce_min(nb_features))}."
            )
        width = int(tf.reduce_max(nb_features))
        ref = self._reference(inputs)
        draws = self._draws(nb_features.numpy(), width)
        n, samples = int(inputs.shape[0]), self.nb_samples
        scores, weights = [], []
        total, step = n * samples, self.batch_size
        starts = range(0, total, step)
        for start in tqdm(starts, desc=type(self).__name__, disable=not verbose, leave=False):
            s, w = self._chunk(
                inputs,
                targets,
                mappings,
                nb_features,
                ref,
                draws,
                tf.constant(samples),
                tf.constant(start),
                min(step, total - start),
            )
            scores.append(s)
            weights.append(w)
        scores = tf.reshape(tf.concat(scores, 0), (n, samples))
        weights = tf.reshape(tf.concat(weights, 0), (n, samples))
        if self.similarity_kernel is not None:
            weights = self._custom_weights(inputs, mappings, nb_features, ref, draws)
        coefficients = self._fit(scores, weights, nb_features, draws, width)
        maps = tf.gather(coefficients, mappings, batch_dims=1)
        return maps[..., None] if inputs.shape.rank == 4 else maps
