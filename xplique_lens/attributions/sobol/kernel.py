"""The streaming Sobol kernel: (inputs x masks) -> scores -> total indices, in bounded memory.

For ``n`` inputs and ``M`` masks the kernel scores the ``n * M`` perturbed inputs in chunks of at
most ``batch_size`` forward passes. Memory is ``O(batch_size)`` perturbed inputs whatever ``n``,
the grid and ``nb_design``; the masks are drawn once per call, at their low resolution. Two
drivers share that contract:

- :func:`make_sobol_kernel` (used by :class:`SobolAttributionMethod` and :func:`sobol_explain`):
  one compiled graph whose loops are ``tf.while_loop`` s (:func:`stream_mask_scores`). Masks come
  in tiles of ``min(batch_size, M)``, each upsampled once per call (to the input's channels for
  element-wise perturbations) and applied to every input by broadcasting, so a chunk costs one
  product on top of the model's forward pass: within a few percent of the forward floor.
- :func:`make_perturbation_scorer` + :func:`perturbation_scores`: a Python loop over flat chunks
  of ``(input, mask)`` pairs (each chunk gathers, upsamples and perturbs), with an optional
  progress bar; kept for callers that score explicit mask tensors.

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


def upsample_tile(masks: tf.Tensor, size: tuple[int, int], channels: int) -> tf.Tensor:
    """Nearest upsampling of ``(q, g, g', 1)`` masks to ``(q, H, W, channels)``; masks with
    their own channels ``(q, g, g', c)`` (``nb_channels = c``) keep them.

    Integer factors take a single broadcast (each cell becomes a block; the same pixels as
    :func:`upsample_masks`, i.e. ``tf.image.resize(..., "nearest")``); others use the resize.
    """
    grid, mask_channels = tuple(masks.shape[1:3]), masks.shape[-1]
    channels = channels if mask_channels == 1 else mask_channels
    if grid != size and all(s % g == 0 for s, g in zip(size, grid)):
        rows, cols = grid
        blocks = tf.reshape(masks, (-1, rows, 1, cols, 1, mask_channels))
        blocks = tf.broadcast_to(
            blocks, (tf.shape(masks)[0], rows, size[0] // rows, cols, size[1] // cols, channels)
        )
        return tf.reshape(blocks, (-1, *size, channels))
    if grid != size:
        masks = upsample_masks(masks, size)
    return masks if mask_channels == channels else tf.repeat(masks, channels, axis=-1)


def _all_pairs(
    perturbation: Perturbation, inputs: tf.Tensor, masks: tf.Tensor, extras: tuple
) -> tf.Tensor:
    """Every mask on every input: ``(p, ...) x (q, ...) -> (p * q, ...)``, input-major.

    Element-wise perturbations (``broadcasts = True``: the built-in ones) build the chunk by
    broadcasting ``(p, 1, ...)`` against ``(1, q, ...)`` in one pass; others get the pairs
    materialised (inputs repeated, masks tiled), the per-pair contract of ``perturbation``.
    """
    if getattr(perturbation, "broadcasts", False):
        pairs = perturbation(inputs[:, None], masks[None], *(e[:, None] for e in extras))
        return tf.reshape(pairs, tf.concat([[-1], tf.shape(pairs)[2:]], 0))
    nb_masks = tf.shape(masks)[0]
    multiples = tf.concat([[tf.shape(inputs)[0]], tf.ones([tf.rank(masks) - 1], tf.int32)], 0)
    return perturbation(
        tf.repeat(inputs, nb_masks, axis=0),
        tf.tile(masks, multiples),
        *(tf.repeat(e, nb_masks, axis=0) for e in extras),
    )


def stream_mask_scores(
    score_fn: ScoreFunction,
    inputs: tf.Tensor,
    targets: tf.Tensor,
    nb_masks: int,
    mask_fn: Callable[[tf.Tensor], tf.Tensor],
    perturbation: Perturbation,
    batch_size: int | None,
    extras: tuple[tf.Tensor, ...] = (),
) -> tf.Tensor:
    """Scores of every input under every mask, ``(n, nb_masks)``, as in-graph loops.

    Meant to run inside a ``tf.function`` (:func:`make_sobol_kernel` compiles it once): the
    loops become ``tf.while_loop`` s, so there is no Python loop per chunk or per input and the
    model is traced once. Masks come in tiles of ``q = min(batch_size, nb_masks)``: each tile is
    built once per call by ``mask_fn(indices (q,)) -> (q, ...)`` (e.g. design rows upsampled to
    the image), then scored against groups of ``max(1, batch_size // q)`` inputs, at most
    ``batch_size`` forward passes per chunk. Nothing is padded: exactly ``n * nb_masks``
    evaluations. Memory: one tile and one chunk, ``O(batch_size)`` inputs whatever ``n``, the
    grid and ``nb_design``.
    """
    n = tf.shape(inputs)[0]
    if batch_size is None:
        per_tile, per_group = nb_masks, tf.maximum(n, 1)
    else:
        per_tile = min(batch_size, nb_masks)
        per_group = tf.constant(max(1, batch_size // per_tile), tf.int32)
    nb_tiles = -(-nb_masks // per_tile)
    nb_groups = (n + per_group - 1) // per_group
    tiles = tf.TensorArray(tf.float32, size=nb_tiles, infer_shape=False)
    for t in tf.range(nb_tiles):
        masks = mask_fn(tf.range(t * per_tile, tf.minimum((t + 1) * per_tile, nb_masks)))
        tile_size = tf.shape(masks)[0]
        groups = tf.TensorArray(tf.float32, size=nb_groups, infer_shape=False)
        for g in tf.range(nb_groups):
            start = g * per_group
            stop = tf.minimum(start + per_group, n)
            perturbed = _all_pairs(
                perturbation, inputs[start:stop], masks, tuple(e[start:stop] for e in extras)
            )
            repeated = tf.repeat(targets[start:stop], tile_size, axis=0)
            scores = tf.cast(tf.reshape(score_fn(perturbed, repeated), (-1,)), tf.float32)
            groups = groups.write(g, tf.reshape(scores, (-1, tile_size)))
        tiles = tiles.write(t, tf.transpose(groups.concat()))
    return tf.reshape(tf.transpose(tiles.concat()), (n, nb_masks))


def make_sobol_kernel(
    score_fn: ScoreFunction,
    design: Design,
    estimator: str | SobolEstimator | None = None,
    perturbation: str | Callable | Perturbation | None = "inpainting",
    batch_size: int | None = 256,
    mask_shape: Sequence[int] | None = None,
) -> Callable:
    """Compiled ``(inputs, targets) -> total indices (n, *mask_shape)`` for a fixed design.

    Build it once and call it on any number of inputs (one trace per input shape). The rows
    ``[A; C_1..C_d]`` (``+ [B]`` for an estimator that needs it) are built tile by tile from
    ``design`` (:func:`~.samplers.design_rows`), reshaped to ``mask_shape`` (default: the shape
    of one input, e.g. ``(r,)`` for concept codes), upsampled (nearest) when they are coarser
    than image inputs, and streamed with :func:`stream_mask_scores`.
    """
    batch_size = check_batch_size(batch_size)
    estimator = get_estimator(estimator)
    perturb = get_perturbation(perturbation)
    nb_design, dimension = design.nb_design, design.dimension
    nb_masks = nb_design * (dimension + 1 + int(estimator.needs_b))

    @tf.function(reduce_retracing=True)
    def kernel(inputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        shape = tuple(inputs.shape[1:]) if mask_shape is None else tuple(mask_shape)

        def mask_fn(indices):
            masks = tf.reshape(design_rows(design, indices), (-1, *shape))
            # once per tile: masks at the input's resolution and, for element-wise perturbations,
            # with the input's channels (a one-sided broadcast in the per-chunk product, ~6x
            # faster on CPU than also broadcasting the channel axis)
            channels = inputs.shape[-1] if perturb.broadcasts else 1
            if len(shape) == 3 and inputs.shape.rank == 4:
                return upsample_tile(masks, tuple(inputs.shape[1:3]), channels or 1)
            return masks

        extras = tuple(perturb.prepare(inputs))
        scores = stream_mask_scores(
            score_fn, inputs, targets, nb_masks, mask_fn, perturb, batch_size, extras
        )
        fa, fc, fb = split_design_scores(scores, nb_design, dimension, estimator.needs_b)
        return tf.reshape(estimator.total_indices(fa, fc, fb), (-1, *shape))

    return kernel


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
    seed: int | None = 0,
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
    seed : int or None, default 0
        Seed of a random sampler given by name (a sampler object keeps its own seed); None draws
        fresh randomness.
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
    if scorer is None and not verbose:
        kernel = make_sobol_kernel(score_fn, design, estimator, perturb, batch_size, mask_shape)
        return kernel(inputs, targets)
    scorer = scorer or make_perturbation_scorer(score_fn, perturb, mask_shape)
    extras = tuple(perturb.prepare(inputs))
    scores = perturbation_scores(
        scorer, inputs, targets, design, extras, batch_size, verbose, nb_masks
    )
    fa, fc, fb = split_design_scores(scores, nb_design, dimension, estimator.needs_b)
    return tf.reshape(estimator.total_indices(fa, fc, fb), (n, *mask_shape))
