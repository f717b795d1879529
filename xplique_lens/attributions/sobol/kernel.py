"""The streaming Sobol kernel: (inputs x masks) -> scores -> total indices, in bounded memory.

For ``n`` inputs and ``M`` masks the kernel scores the ``n * M`` perturbed inputs in chunks of
``batch_size`` forward passes: a compiled function gathers the inputs and masks of the chunk,
upsamples the masks (nearest) when they are coarser than the inputs, perturbs and scores. Memory is
``O(batch_size)`` perturbed inputs whatever ``n``, the grid and ``nb_design``; the masks are drawn
once per call, at their low resolution. There is no per-input Python loop: a chunk mixes inputs.

The functions are generic: ``inputs`` may be images ``(n, H, W, C)`` with masks ``(M, g, g, 1)``
or any tensor, e.g. concept codes ``(n, r)`` with masks ``(M, r)`` (CRAFT's importance), and
``score_fn(perturbed, targets) -> (B,)`` any compiled or plain TF function.

Ref. Fel et al., *Look at the Variance!*, NeurIPS 2021, https://arxiv.org/abs/2111.04138.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ...commons.validation import check_batch_size
from .estimators import SobolEstimator, get_estimator
from .perturbations import Perturbation, get_perturbation
from .samplers import Design, Sampler, design_rows, get_sampler

ScoreFunction = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def upsample_masks(masks: tf.Tensor, size: Sequence[int]) -> tf.Tensor:
    """Nearest upsampling of ``(B, g, g, 1)`` masks to ``size = (H, W)`` (as Xplique)."""
    return tf.image.resize(masks, size, method="nearest")


def make_perturbation_scorer(
    score_fn: ScoreFunction,
    perturbation: Perturbation | Callable,
    mask_shape: Sequence[int] | None = None,
    jit_compile: bool = False,
) -> Callable:
    """Compiled ``chunk(inputs, targets, extras, masks, nb_masks, start, size) -> (size,)``.

    ``size`` is a Python int (static batch shape: the compiled model runs on fixed shapes, at
    most two traces, full chunks and the remainder). Flat index ``k`` in ``[start, start + size)``
    stands for input ``k // nb_masks`` perturbed by mask
    ``k % nb_masks``. ``masks`` is either an explicit ``(M, ...)`` tensor of masks, or a
    :class:`~.samplers.Design` whose stacked rows ``[A; C_1..C_d; B]`` are built chunk by chunk
    (:func:`~.samplers.design_rows`, so the ``N d^2`` replicated design is never materialised)
    and reshaped to ``mask_shape`` (default: the shape of one input). Image masks coarser than
    the inputs are upsampled (nearest) inside. Build it once and reuse it to avoid retracing.
    """
    perturb = get_perturbation(perturbation)

    @tf.function(reduce_retracing=True, jit_compile=jit_compile)
    def chunk(inputs, targets, extras, masks, nb_masks, start, size):
        index = start + tf.range(size)
        sample = index // nb_masks
        x = tf.gather(inputs, sample)
        y = tf.gather(targets, sample)
        extra = tuple(tf.gather(e, sample) for e in extras)
        if isinstance(masks, Design):
            shape = tuple(inputs.shape[1:]) if mask_shape is None else tuple(mask_shape)
            m = tf.reshape(design_rows(masks, index % nb_masks), (-1, *shape))
        else:
            m = tf.gather(masks, index % nb_masks)
        if m.shape.rank == 4 and inputs.shape.rank == 4 and m.shape[1:3] != inputs.shape[1:3]:
            m = upsample_masks(m, inputs.shape[1:3])
        return tf.reshape(score_fn(perturb(x, m, *extra), y), (-1,))

    return chunk


def perturbation_scores(
    scorer: Callable,
    inputs: tf.Tensor,
    targets: tf.Tensor,
    masks: tf.Tensor | Design,
    extras: tuple[tf.Tensor, ...] = (),
    batch_size: int | None = 256,
    verbose: bool = False,
    nb_masks: int | None = None,
) -> tf.Tensor:
    """Scores of every input under every mask, ``(n, M)``, ``batch_size`` forward passes at once.

    Parameters
    ----------
    scorer
        From :func:`make_perturbation_scorer`.
    inputs, targets
        ``(n, ...)`` inputs and their ``(n, ...)`` targets (any tensor the score function reads).
    masks
        ``(M, ...)`` masks in [0, 1] (low resolution for images), or a ``Design``.
    extras
        Per-input tensors from ``perturbation.prepare(inputs)``.
    batch_size
        Forward passes per chunk (bounds the memory); ``None`` for all at once.
    verbose
        Show a progress bar over the chunks.
    nb_masks
        Number of masks; required for a ``Design`` (``N (d + 1)``, or ``N (d + 2)`` with B).
    """
    n = int(inputs.shape[0])
    if nb_masks is None:
        nb_masks = int(masks.shape[0])
    total = n * nb_masks
    step = total if not batch_size else int(batch_size)
    starts = range(0, total, step)
    outputs = []
    for start in tqdm(starts, desc="Sobol forward passes", disable=not verbose, leave=False):
        stop = min(start + step, total)
        outputs.append(
            scorer(
                inputs,
                targets,
                extras,
                masks,
                tf.constant(nb_masks),
                tf.constant(start),
                stop - start,
            )
        )
    return tf.reshape(tf.concat(outputs, axis=0), (n, nb_masks))


def split_design_scores(
    scores: tf.Tensor, nb_design: int, dimension: int, with_b: bool = False
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
    """Split ``(n, M)`` scores of the stacked design ``[A; C_1..C_d; (B)]`` into f(A) ``(n, N)``,
    f(C) ``(n, d, N)`` and f(B) ``(n, N)`` (or None)."""
    fa = scores[:, :nb_design]
    fc = tf.reshape(scores[:, nb_design : nb_design * (dimension + 1)], (-1, dimension, nb_design))
    fb = scores[:, nb_design * (dimension + 1) :] if with_b else None
    return fa, fc, fb


def sobol_explain(
    score_fn: ScoreFunction,
    inputs: tf.Tensor,
    targets: tf.Tensor | None = None,
    nb_design: int = 32,
    sampler: str | Sampler | None = None,
    estimator: str | SobolEstimator | None = None,
    perturbation: str | Callable | Perturbation | None = "inpainting",
    batch_size: int | None = 256,
    mask_shape: Sequence[int] | None = None,
    seed: int | None = None,
    verbose: bool = False,
    scorer: Callable | None = None,
) -> tf.Tensor:
    """Total Sobol indices of the mask variables for each input: the generic Sobol explainer.

    Draws the designs A, B once, scores ``f(A)`` and ``f(C_i)`` (and ``f(B)`` only when the
    estimator needs it) for every input in chunks of ``batch_size``, then estimates the indices.
    Cost: ``n * nb_design * (d + 1)`` evaluations of ``score_fn``.

    Parameters
    ----------
    score_fn
        ``(perturbed_inputs (B, ...), targets (B, ...)) -> scores (B,)``, e.g.
        ``lambda x, y: tf.reduce_sum(model(x) * y, -1)``.
    inputs
        ``(n, ...)`` float tensor: images ``(n, H, W, C)``, concept codes ``(n, r)``...
    targets
        ``(n, ...)`` tensor passed alongside (e.g. one-hot classes); ``None`` passes zeros.
    nb_design
        Points ``N`` of each design (a power of two for the Sobol samplers).
    sampler, estimator, perturbation
        See :mod:`.samplers`, :mod:`.estimators`, :mod:`.perturbations` (names or objects).
    batch_size
        Evaluations of ``score_fn`` per chunk.
    mask_shape
        Shape of one mask, e.g. ``(grid, grid, 1)`` for images (upsampled to ``(H, W)``);
        default ``inputs.shape[1:]`` (one variable per input entry, e.g. per concept).
    seed
        Seed of a random sampler given by name (a sampler object keeps its own seed).
    verbose
        Progress bar.
    scorer
        A prebuilt :func:`make_perturbation_scorer` for ``score_fn`` and ``perturbation``
        (avoids a new trace per call).

    Returns
    -------
    indices
        ``(n, *mask_shape)`` float32 total indices.

    Examples
    --------
    Concept importance (CRAFT): codes ``u (n, r)``, ``h`` maps codes to logits::

        score = lambda u, y: tf.reduce_sum(h(u) * y, -1)
        importance = sobol_explain(score, u, one_hot, nb_design=32)  # (n, r)
    """
    batch_size = check_batch_size(batch_size)
    inputs = tf.convert_to_tensor(inputs, tf.float32)
    n = int(inputs.shape[0])
    targets = tf.zeros((n, 1)) if targets is None else tf.convert_to_tensor(targets)
    mask_shape = tuple(inputs.shape[1:]) if mask_shape is None else tuple(mask_shape)
    dimension = int(np.prod(mask_shape))
    estimator = get_estimator(estimator)
    perturb = get_perturbation(perturbation)
    design = get_sampler(sampler, seed).sample(dimension, nb_design)
    nb_masks = nb_design * (dimension + 1 + int(estimator.needs_b))  # [A; C_1..C_d; (B)]
    scorer = scorer or make_perturbation_scorer(score_fn, perturb, mask_shape)
    extras = tuple(perturb.prepare(inputs))
    scores = perturbation_scores(
        scorer, inputs, targets, design, extras, batch_size, verbose, nb_masks
    )
    fa, fc, fb = split_design_scores(scores, nb_design, dimension, estimator.needs_b)
    return tf.reshape(estimator.total_indices(fa, fc, fb), (n, *mask_shape))
