"""``optimize``: Lucid-style feature visualization, with Xplique 2.0.2's signature.

The image is parametrised in the Fourier basis (``use_fft=True``: the spectrum scaled by
``1 / f ** fft_decay``, Olah et al. 2017) or in pixels, mapped to valid pixels by a normaliser
and a per-image rescaling to ``values_range``, and optimised by gradient ascent of the
objective on randomly transformed copies (pad, jitter, scale, blur, flip) minus the
regularizers. The whole step (parametrisation, transformations, forward, regularizers,
gradient, optimizer update) is one ``tf.function``, and its randomness is stateless, seeded by
``(seed, step)``.

``transformations="crops"`` runs instead :func:`xplique_lens.features.fourier`, the Fourier
baseline of the MACO paper: the same parametrisation optimised through MACO's random crops and
noise, so that it compares with :func:`~xplique_lens.features.maco` on equal terms.

References
----------
Olah, Mordvintsev & Schubert (2017). *Feature Visualization.* Distill.
https://distill.pub/2017/feature-visualization
Fel et al. (2023). *Unlocking Feature Visualization for Deeper Networks with MAgnitude
Constrained Optimization.* NeurIPS. https://arxiv.org/abs/2306.06805
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import keras
import tensorflow as tf
from tqdm.auto import tqdm

from ..attributions.guided_backprop import override_relu_gradient
from ..commons.model_splitting import layer_model, layer_path
from ..commons.validation import check_positive_int, resolve_seed, resolve_verbose
from ..features.fourier import fourier
from ..features.objectives import Objective
from ..features.optimisation import (
    check_shape,
    check_values_range,
)
from ..features.parametrisations import fourier_scale, spectrum_shape
from ..features.parametrisations import recorrelate_colors as _recorrelate
from .transformations import apply_transformation, compose_transformations, standard_transformations

NORMALIZERS = ("sigmoid", "clip")


def _open_relu_gradient(gradients: tf.Tensor, gate: tf.Tensor) -> tf.Tensor:
    """Warm-up ReLU backward rule: the gradient passes whatever the ReLU's input."""
    return gradients


def to_valid_image(
    images: tf.Tensor,
    normalizer: str | Callable[[tf.Tensor], tf.Tensor] = "sigmoid",
    values_range: tuple[float, float] = (0.0, 1.0),
) -> tf.Tensor:
    """Xplique's ``to_valid_rgb`` / ``to_valid_grayscale``: colours re-correlated (3 channels),
    normalised (``"sigmoid"``, ``"clip"`` to ``values_range``, or a callable), then each image
    rescaled to span ``values_range`` (min to max; a constant image maps to the low end instead
    of Xplique's NaN)."""
    if images.shape[-1] == 3:
        images = _recorrelate(images)
    low, high = values_range
    if callable(normalizer):
        images = normalizer(images)
    elif normalizer == "sigmoid":
        images = tf.nn.sigmoid(images)
    else:
        images = tf.clip_by_value(images, low, high)
    images = images - tf.reduce_min(images, (1, 2, 3), keepdims=True)
    images = images / (tf.reduce_max(images, (1, 2, 3), keepdims=True) + 1e-12)
    return images * (high - low) + low


def _resolve_transformations(transformations, size: int) -> Callable | None:
    if transformations is None or transformations is False:
        return None
    if isinstance(transformations, str):
        if transformations != "standard":
            raise ValueError(
                "`transformations` must be 'standard', 'crops', None, a callable or a list of "
                f"callables, got {transformations!r}."
            )
        return standard_transformations(size)
    if isinstance(transformations, Sequence):
        return compose_transformations(transformations)
    if not callable(transformations):
        raise TypeError(
            "`transformations` must be 'standard', 'crops', None, a callable or a list of "
            f"callables, got {type(transformations).__name__}."
        )
    return transformations


def _check_regularizers(regularizers) -> list[Callable]:
    if regularizers is None:
        return []
    if callable(regularizers):
        regularizers = [regularizers]
    if isinstance(regularizers, str) or not isinstance(regularizers, Sequence):
        raise TypeError(
            f"`regularizers` must be None or a list of callables, got {regularizers!r}."
        )
    for index, reg in enumerate(regularizers):
        if not callable(reg):
            raise TypeError(
                f"`regularizers[{index}]` must be callable (images -> (N,)), got "
                f"{type(reg).__name__}."
            )
    return list(regularizers)


def _check_steps(value, name: str) -> int:
    """``False`` / ``None`` / ``0`` -> 0, else a positive int (Xplique's ``warmup_steps``)."""
    if value is None or value is False:
        return 0
    return check_positive_int(value, name, minimum=0)


def _fourier_baseline(
    objective, optimizer, nb_steps, fft_decay, std, values_range, shape, seed, verbose, unsupported
) -> tuple[list[tf.Tensor], list[str]]:
    given = [name for name, used in unsupported.items() if used]
    if given:
        raise ValueError(
            "`transformations`='crops' runs the Fourier baseline `xplique_lens.features.fourier` "
            f"(random crops and noise, sigmoid normaliser), which does not take {given}."
        )
    images, _ = fourier(
        objective,
        optimizer,
        nb_steps,
        values_range=values_range,
        custom_shape=shape,
        fft_decay=fft_decay,
        std=std,
        seed=seed,
        verbose=verbose,
    )
    return [tf.convert_to_tensor(images)], list(objective.names)


def optimize(
    objective: Objective,
    optimizer: keras.optimizers.Optimizer | None = None,
    nb_steps: int = 256,
    use_fft: bool = True,
    fft_decay: float = 0.85,
    std: float = 0.01,
    regularizers: list[Callable] | None = None,
    image_normalizer: str | Callable = "sigmoid",
    values_range: tuple[float, float] = (0, 1),
    transformations: list[Callable] | Callable | str | None = "standard",
    warmup_steps: int = False,
    custom_shape: tuple[int, int] | None = (512, 512),
    save_every: int | None = None,
    *,
    seed: int | None = None,
    verbose: bool = False,
    progress: bool | None = None,
) -> tuple[list[tf.Tensor], list[str]]:
    """Feature visualization by gradient ascent on transformed images (Lucid / Xplique).

    Drop-in for ``xplique.features_visualizations.optimize`` (same parameters, defaults and
    return convention), with an :class:`~xplique_lens.features.Objective` (whose values are the
    natural ones, see its docstring). Differences: one compiled step including the optimizer
    update; randomness seeded by ``seed`` (same seed, same images; Xplique is unseeded); the
    Fourier buffer has exactly the image's width (Xplique pads odd widths); the warm-up
    overrides the ReLUs of a view of the model, the user's model is never modified; a constant
    image is rescaled without NaN; ``transformations="crops"`` gives the MACO paper's Fourier
    baseline (:func:`xplique_lens.features.fourier`).

    Parameters
    ----------
    objective
        The (batch of) objective(s); one image per objective.
    optimizer
        Keras optimizer (gradient ascent); default ``keras.optimizers.Adam(0.05)``.
    nb_steps
        Number of optimisation steps.
    use_fft
        Optimise the Fourier spectrum (Lucid's preconditioning) instead of the pixels.
    fft_decay
        Decay of the spectrum scale ``1 / f ** fft_decay``: higher values suppress high
        frequencies.
    std
        Standard deviation of the initial buffer (spectrum or pixels).
    regularizers
        Callables ``images -> (N,)`` subtracted from the objective (e.g. ``l1_reg(0.1)``).
    image_normalizer
        ``"sigmoid"``, ``"clip"`` or a callable, applied before rescaling to ``values_range``.
    values_range
        Range of the model's inputs, e.g. ``(0, 1)`` or ``(-1, 1)``.
    transformations
        ``"standard"`` (Xplique's robust pipeline, scaled to the image size), ``None``, a
        callable ``images -> images``, a list of them (composed), or ``"crops"`` (the Fourier
        baseline with MACO's crops and noise; no regularizers, warm-up or ``save_every``).
    warmup_steps
        ``False`` / ``0``, or a number of first steps run with ReLUs that let every gradient
        through, to start from an image where the gradient flows.
    custom_shape
        ``(height, width)`` of the optimised images, resized to the model's input for each
        forward pass; ``None``: the model's input size.
    save_every
        Also keep the images every ``save_every`` steps (the last ones are always returned).
    seed : int or None, default None
        Seed of the initial buffer and of the transformations (keyword only; Xplique has none);
        None draws fresh randomness.
    verbose
        Show a progress bar (keyword only; Xplique has none).
    progress
        Deprecated alias of ``verbose`` (emits a ``DeprecationWarning``).

    Returns
    -------
    images_optimized
        List of ``(nb_objectives, H, W, C)`` float32 ``tf.Tensor``: the saved images, the last
        ones at the end.
    objective_names
        The name of each objective.

    References
    ----------
    Olah, Mordvintsev & Schubert (2017). *Feature Visualization.* Distill.
    https://distill.pub/2017/feature-visualization
    """
    verbose = resolve_verbose(verbose, progress, "optimize")
    if not isinstance(objective, Objective):
        raise TypeError(f"`objective` must be an Objective, got {type(objective).__name__}.")
    nb_steps = check_positive_int(nb_steps, "nb_steps")
    values_range = check_values_range(values_range)
    model_h, model_w, channels = objective.input_shape
    height, width = check_shape(custom_shape, (model_h, model_w))
    for name, value in (("fft_decay", fft_decay), ("std", std)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"`{name}` must be a number, got {value!r}.")
    if not (callable(image_normalizer) or image_normalizer in NORMALIZERS):
        raise ValueError(
            f"`image_normalizer` must be one of {list(NORMALIZERS)} or a callable, got "
            f"{image_normalizer!r}."
        )
    warmup_steps = _check_steps(warmup_steps, "warmup_steps")
    save_every = None if save_every is None else check_positive_int(save_every, "save_every")
    regularizers = _check_regularizers(regularizers)
    seed = resolve_seed(seed)
    if isinstance(transformations, str) and transformations == "crops":
        if not use_fft:
            raise ValueError("`transformations`='crops' (the Fourier baseline) needs use_fft=True.")
        unsupported = {
            "regularizers": bool(regularizers),
            "image_normalizer": image_normalizer != "sigmoid",
            "warmup_steps": bool(warmup_steps),
            "save_every": save_every is not None,
        }
        return _fourier_baseline(
            objective,
            optimizer,
            nb_steps,
            fft_decay,
            std,
            values_range,
            (height, width),
            seed,
            verbose,
            unsupported,
        )
    transform = _resolve_transformations(transformations, height)

    batch = objective.nb_objectives
    if use_fft:
        shape = (2, batch, channels, *spectrum_shape(height, width))
        scale = tf.constant(fourier_scale(height, width, float(fft_decay)))

        def raw_image(variable: tf.Tensor) -> tf.Tensor:
            # fourier_image's own squashing is bypassed: Xplique's normaliser and rescaling
            spectrum = tf.complex(variable[0] * scale, variable[1] * scale)
            images = tf.signal.irfft2d(spectrum, fft_length=[height, width])
            return tf.transpose(images, [0, 2, 3, 1]) / 4.0

    else:
        shape = (batch, height, width, channels)

        def raw_image(variable: tf.Tensor) -> tf.Tensor:
            return variable

    variable = tf.Variable(float(std) * tf.random.stateless_normal(shape, seed=[seed, 0]))

    def image_fn(value: tf.Tensor) -> tf.Tensor:
        return to_valid_image(raw_image(value), image_normalizer, values_range)

    if optimizer is None:
        optimizer = keras.optimizers.Adam(0.05)
    optimizer.build([variable])
    feature_model, scores = objective.build()
    base_seed = tf.constant([seed, 1], tf.int64)

    def make_step(model: keras.Model) -> Callable:
        @tf.function(autograph=False)
        def step(index: tf.Tensor) -> None:
            step_seed = base_seed + tf.stack([tf.constant(0, tf.int64), 2 * index])
            with tf.GradientTape() as tape:
                images = image_fn(variable)
                if transform is not None:
                    images = apply_transformation(transform, images, step_seed)
                images = tf.image.resize(images, (model_h, model_w))
                loss = tf.reduce_sum(scores(model(images, training=False)))
                for reg in regularizers:
                    loss -= tf.reduce_sum(reg(images))
            gradient = tape.gradient(loss, variable)
            optimizer.apply_gradients([(-gradient, variable)])

        return step

    if warmup_steps:
        layers, seen = [], []
        for term in objective.terms:
            if all(term.layer is not s for s in seen):
                seen.append(term.layer)
                layers.append(layer_path(objective.model, term.layer))
        view = override_relu_gradient(objective.model, _open_relu_gradient)
        warmup = make_step(layer_model(view, layers))
        for index in range(warmup_steps):
            warmup(tf.constant(-1 - index, tf.int64))

    step = make_step(feature_model)
    saved = []
    for index in tqdm(range(nb_steps), desc="optimize", disable=not verbose, leave=False):
        step(tf.constant(index, tf.int64))
        last = index == nb_steps - 1
        if last or (save_every and (index + 1) % save_every == 0):
            saved.append(tf.identity(image_fn(variable)))
    return saved, list(objective.names)
