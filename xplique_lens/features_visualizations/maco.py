"""``maco`` with Xplique's argument order (``maco_dataset`` third)."""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from ..commons.validation import resolve_verbose
from ..features import maco as _maco
from ..features.objectives import Objective


def maco(
    objective: Objective,
    optimizer: keras.optimizers.Optimizer | None = None,
    maco_dataset: tf.data.Dataset | np.ndarray | None = None,
    nb_steps: int = 256,
    noise_intensity: float | Callable[[int], float] | None = 0.08,
    box_size: float | Callable[[int], float] | None = None,
    nb_crops: int | None = 32,
    values_range: tuple[float, float] = (-1, 1),
    custom_shape: tuple[int, int] | None = (512, 512),
    *,
    magnitude: np.ndarray | str | None = None,
    seed: int | None = None,
    verbose: bool = False,
    progress: bool | None = None,
) -> tuple[np.ndarray, tf.Tensor]:
    """MACO feature visualization with Xplique 2.0.2's signature (same order and defaults).

    ``xplique.features_visualizations.maco(objective, optimizer, maco_dataset, nb_steps, ...)``
    takes the dataset third; :func:`xplique_lens.features.maco` takes it as a keyword. This
    function only reorders the arguments and calls :func:`xplique_lens.features.maco`, whose
    docstring lists the differences with Xplique (a batch of objectives at once, one compiled
    step, ``custom_shape=None`` for the model's size, grayscale without a dataset, ``seed``).

    Parameters
    ----------
    objective
        An :class:`~xplique_lens.features.Objective`.
    optimizer
        Keras optimizer; default ``Nadam(1.0)``.
    maco_dataset
        Images (array, tensor or ``tf.data.Dataset``, batched or not) whose mean Fourier
        magnitude is used; ``None``: the shipped natural-image magnitude.
    nb_steps, noise_intensity, box_size, nb_crops, values_range, custom_shape
        As in Xplique (see :func:`xplique_lens.features.maco`).
    magnitude, seed, verbose
        Keyword-only extras of :func:`xplique_lens.features.maco` (Xplique has none of them);
        ``seed=None`` draws fresh randomness, ``verbose`` shows a progress bar.
    progress
        Deprecated alias of ``verbose`` (emits a ``DeprecationWarning``).

    Returns
    -------
    image, transparency
        ``(H, W, C)`` numpy image and ``tf.Tensor`` transparency for one objective, Xplique's
        return convention (a leading batch axis for several).

    References
    ----------
    Fel et al. (2023). *Unlocking Feature Visualization for Deeper Networks with MAgnitude
    Constrained Optimization.* NeurIPS. https://arxiv.org/abs/2306.06805
    """
    verbose = resolve_verbose(verbose, progress, "maco")
    return _maco(
        objective,
        optimizer,
        nb_steps,
        noise_intensity,
        box_size,
        nb_crops,
        values_range,
        custom_shape,
        magnitude,
        seed,
        maco_dataset=maco_dataset,
        verbose=verbose,
        squeeze=True,
    )
