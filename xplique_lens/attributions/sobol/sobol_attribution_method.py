"""Sobol attribution method: total Sobol indices of grid cells under QMC perturbation masks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ...commons.operators import OperatorSignature
from ...commons.validation import check_positive_int, check_power_of_two, check_seed
from ..base import BlackBoxExplainer
from .estimators import SobolEstimator, get_estimator
from .kernel import make_perturbation_scorer, make_sobol_kernel, sobol_explain
from .perturbations import Perturbation, get_perturbation
from .samplers import Sampler, get_sampler, replicated_design


class SobolAttributionMethod(BlackBoxExplainer):
    """Sobol attribution: which grid cells of the image drive the variance of the score.

    Cut the image into ``grid_size x grid_size`` cells, draw QMC masks (designs A, B and the
    replicated C_i), upsample them (nearest), perturb the image, and estimate for each cell the
    total-order Sobol index of the score; the ``(grid, grid)`` map is resized (bicubic) to the
    image. Drop-in for ``xplique.attributions.SobolAttributionMethod`` (same parameters, defaults
    and ``(N, H, W, 1)`` output), with these differences:

    - one compiled kernel streams all images x masks in chunks of ``batch_size`` forward passes
      (Xplique loops over images in Python and resizes masks per image);
    - only ``f(A)`` and ``f(C_i)`` are evaluated, ``N (d + 1)`` passes per image; ``f(B)`` (Xplique:
      always, ``N (d + 2)``) only for an estimator that needs it (:class:`SaltelliEstimator`);
    - bad settings raise ``ValueError`` / ``TypeError`` (Xplique asserts), random samplers are
      seeded, blurring is TF-native, and the amplitude perturbation is fixed (see
      :class:`~xplique_lens.attributions.sobol.perturbations.Amplitude`).

    Ref. Fel, Cadène, Chalvidal, Cord, Vigouroux & Serre, *Look at the Variance! Efficient
    Black-box Explanations with Sobol-based Sensitivity Analysis*, NeurIPS 2021,
    https://arxiv.org/abs/2111.04138.

    Parameters
    ----------
    model
        Keras model or callable on ``(B, H, W, C)`` images.
    grid_size
        Cells per side (``d = grid_size ** 2`` variables), at least 2.
    nb_design
        Points of each QMC design, a power of two; cost ``nb_design * (grid_size ** 2 + 1)``
        forward passes per image.
    sampler
        ``None`` (deterministic Sobol sequence), a name (``"sobol"``, ``"scrambled_sobol"``,
        ``"halton"``, ``"halton_unscrambled"``, ``"latin_hypercube"``, see
        :func:`~xplique_lens.attributions.sobol.get_sampler`), a ``Sampler`` or an Xplique
        replicated sampler.
    estimator
        ``None`` (Jansen), a name (``"jansen"``, ``"homma"``, ``"janon"``, ``"glen"``,
        ``"saltelli"``) or a ``SobolEstimator``.
    perturbation_function
        ``"inpainting"`` (baseline 0), ``"blurring"``, ``"amplitude"``, a ``Perturbation`` (e.g.
        ``Inpainting(baseline_value=0.5)``), a batched callable ``(inputs, masks) -> inputs``, or
        Xplique's per-image functions (``inpainting``, ``blurring``, ``amplitude`` of
        ``xplique.attributions.global_sensitivity_analysis.perturbations``, run as their
        TF-native equivalents with Xplique's formulas; any other ``fn(x) -> (masks -> inputs)``
        wrapped as ``PerImagePerturbation(fn)``), see
        :func:`~xplique_lens.attributions.sobol.perturbations.get_perturbation`.
    batch_size
        Forward passes per chunk: bounds the memory whatever N, grid and design.
    operator
        See :class:`~xplique_lens.attributions.base.BlackBoxExplainer`.
    seed : int or None, default 0
        Seed of a random sampler given by name (ignored by the deterministic default); None
        draws fresh randomness (a new design at each construction).
    nb_channels
        Channels of the masks (keyword only, as Xplique): 1 (default) masks all the channels of
        a cell together; the number of input channels ``C`` gives each channel of each cell its
        own variable (``d = grid_size**2 * C``) and maps ``(N, H, W, C)``.
    """

    def __init__(
        self,
        model: Callable,
        grid_size: int = 8,
        nb_design: int = 32,
        sampler: str | Sampler | None = None,
        estimator: str | SobolEstimator | None = None,
        perturbation_function: str | Callable | Perturbation | None = "inpainting",
        batch_size: int | None = 256,
        operator: str | OperatorSignature | None = None,
        seed: int | None = 0,
        *,
        nb_channels: int = 1,
    ):
        super().__init__(model, batch_size, operator)
        self.grid_size = check_positive_int(grid_size, "grid_size", minimum=2)
        self.nb_channels = check_positive_int(nb_channels, "nb_channels")
        self.nb_design = check_power_of_two(nb_design, "nb_design")
        self.seed = check_seed(seed)
        self.sampler = get_sampler(sampler, self.seed)
        self.estimator = get_estimator(estimator)
        self.perturbation_function = get_perturbation(perturbation_function)
        operator_fn, model_fn = self.operator, self.model
        mask_shape = (self.grid_size, self.grid_size, self.nb_channels)
        self._scorer = make_perturbation_scorer(
            lambda x, y: operator_fn(model_fn, x, y),
            self.perturbation_function,
            mask_shape=mask_shape,
        )
        # the design is drawn once (samplers are deterministic given their seed); the compiled
        # kernel streams every image x mask pair inside one graph
        self.design = self.sampler.sample(self.grid_size**2 * self.nb_channels, self.nb_design)
        self._kernel = make_sobol_kernel(
            lambda x, y: operator_fn(model_fn, x, y),
            self.design,
            self.estimator,
            self.perturbation_function,
            self.batch_size,
            mask_shape,
        )

    @property
    def masks(self) -> tf.Tensor:
        """Xplique's ``masks``: the stacked design ``[A; B; C_1; ...; C_d]`` as grid masks,
        ``(nb_design * (d + 2), grid_size, grid_size, nb_channels)``.

        Built on demand from ``design`` (the kernel never stores it: it grows as ``d ** 2``).
        """
        a, b = self.design.a, self.design.b
        c = tf.reshape(replicated_design(a, b), (-1, a.shape[1]))
        stacked = tf.concat([a, b, c], axis=0)
        return tf.reshape(stacked, (-1, self.grid_size, self.grid_size, self.nb_channels))

    def explain(self, inputs: Any, targets: Any = None, verbose: bool = False) -> tf.Tensor:
        """Sobol attribution maps ``(N, H, W, nb_channels)`` (float32).

        Parameters
        ----------
        inputs
            Images ``(N, H, W, C)`` (array, tensor or ``tf.data.Dataset``).
        targets
            One-hot ``(N, C)``, labels ``(N,)`` or ``None`` (predicted class).
        verbose
            Progress bar over the chunks of forward passes (runs the chunk-by-chunk Python
            driver, :func:`~.kernel.perturbation_scores`, instead of the in-graph kernel: same
            maps, a little slower).
        """
        inputs, targets = self._sanitize(inputs, targets)
        if inputs.shape.rank != 4:
            raise ValueError(
                f"`inputs` must be images (N, H, W, C), got shape {tuple(inputs.shape)}."
            )
        if self.nb_channels not in (1, inputs.shape[-1]):
            raise ValueError(
                f"`nb_channels` must be 1 or the number of input channels {inputs.shape[-1]}, "
                f"got {self.nb_channels}."
            )
        grid = self.grid_size
        if not verbose:
            indices = self._kernel(inputs, targets)
            return tf.image.resize(indices, inputs.shape[1:3], method="bicubic")
        indices = sobol_explain(
            None,
            inputs,
            targets,
            nb_design=self.nb_design,
            sampler=self.sampler,
            estimator=self.estimator,
            perturbation=self.perturbation_function,
            batch_size=self.batch_size,
            mask_shape=(grid, grid, self.nb_channels),
            seed=self.seed,
            verbose=verbose,
            scorer=self._scorer,
        )
        return tf.image.resize(indices, inputs.shape[1:3], method="bicubic")
