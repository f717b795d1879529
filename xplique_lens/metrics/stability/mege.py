"""MeGe (generalisation) and ReCo (relative consistency) of an explanation method.

Ref. Fel, Vigouroux et al., *How Good is your Explanation? Algorithmic Stability Measures to
Assess the Quality of Explanations for Deep Neural Networks* (WACV 2022),
https://arxiv.org/abs/2009.04521.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ...commons.batching import batch_slices
from ...commons.inputs import model_output_size, sanitize_inputs
from ...commons.tf_functions import make_forward_function
from ...commons.validation import check_batch_size, check_positive_int, check_seed
from .folds import make_folds
from .reco import reco_score
from .spearman import flatten_explanations, pairwise_spearman_distances


@dataclass(frozen=True)
class MeGeResult:
    """Everything behind a MeGe / ReCo evaluation.

    Attributes
    ----------
    mege
        ``1 / (1 + mean(S=))``.
    reco
        Exact ``max_gamma TPR + TNR - 1``.
    reco_threshold
        Distance threshold ``gamma`` at which ReCo is reached.
    s_eq
        Spearman distances of the pairs where both models predict correctly (``S=``).
    s_ne
        Spearman distances of the pairs where exactly one model is right (``S!=``).
    nb_undefined
        Number of kept pairs dropped because a constant explanation makes the Spearman
        correlation undefined (as Xplique does).
    """

    mege: float
    reco: float
    reco_threshold: float
    s_eq: np.ndarray
    s_ne: np.ndarray
    nb_undefined: int = 0


def _labels_of(targets: tf.Tensor) -> np.ndarray:
    """Class labels from one-hot / score targets ``(N, C)`` or integer labels ``(N,)``."""
    values = targets.numpy()
    if values.ndim == 2:
        return np.argmax(values, axis=-1)
    if values.ndim == 1:
        if not np.all(np.equal(np.mod(values, 1), 0)):
            raise ValueError("`targets` of shape (N,) must be integer class labels.")
        return values.astype(np.int64)
    raise ValueError(
        f"`targets` must be one-hot (N, C) or integer labels (N,), got shape {values.shape}."
    )


class MeGe:
    """MeGe and ReCo: how much explanations agree between models trained on different folds.

    The data is split into ``k_splits`` folds and model ``i`` is trained without fold ``i``.
    For every sample ``x`` of fold ``i`` and every other model ``j``, the distance
    ``d = sqrt(1 - |spearman(phi_i(x), phi_j(x))|)`` between the two explanations goes to
    ``S=`` when both models predict the true class, to ``S!=`` when exactly one does (pairs
    where both are wrong are left out). Then ``MeGe = 1 / (1 + mean(S=))`` and
    ``ReCo = max_gamma TPR(gamma) + TNR(gamma) - 1``, with ``TPR = |{d in S= : d < gamma}| / |S=|``
    and ``TNR = |{d in S!= : d > gamma}| / |S!=|``.

    Same signature, defaults and return convention as ``xplique.metrics.MeGe`` (2.0.2), with
    these differences:

    - folds are shuffled and stratified with ``seed`` by default; ``shuffle=False`` gives
      Xplique's contiguous folds (and its numbers on the same models). ``N`` need not be a
      multiple of ``k_splits`` (Xplique asserts it).
    - ReCo is exact: the maximum over every threshold by one sort and one sweep. Xplique tries
      about 20 thresholds (an underestimate) and, at a threshold equal to tied distances, drops
      them from both denominators (which can overestimate).
    - all Spearman distances of a batch of samples are computed at once (average ranks for
      ties, exact integer dot products; memory bounded by ``batch_size``), not one ``scipy``
      call per pair: a NumPy sort kernel on CPU, TensorFlow on GPU (see
      :func:`~xplique_lens.metrics.stability.pairwise_spearman_distances`), 15-19x faster
      than Xplique's distances on CPU (``benchmarks/bench_mege.py``), so that ``evaluate``
      costs little more than the explanations themselves.
    - the predictions of the ``k`` models are computed once and reused by every evaluation, and
      so are the compiled functions of the explainers (one trace per model, whatever the
      batch sizes).
    - MeGe / ReCo are NaN (with a warning) when ``S=`` / ``S!=`` is empty: ReCo is undefined
      when no model is ever wrong (Xplique returns 0).

    Parameters
    ----------
    learning_algorithm
        ``learning_algorithm(x_train, y_train, x_test, y_test) -> model`` (numpy arrays, targets
        as given). Called once per fold, ``i = 0 .. k_splits - 1`` in that order. May be
        ``None`` when ``models`` is given.
    inputs
        Array, tensor, or ``tf.data.Dataset`` of ``(inputs, targets)`` pairs (iterated once).
    targets
        One-hot ``(N, C)`` or integer labels ``(N,)``: the true classes. Required unless
        ``inputs`` is a dataset of pairs.
    batch_size
        Number of samples explained (and predicted) at once.
    k_splits
        Number of folds and models (4 to 6 are usually enough).
    seed : int or None, default 0
        Seed of the fold shuffle; None draws fresh randomness.
    shuffle
        Shuffled stratified folds (``True``) or Xplique's contiguous folds (``False``).
    models
        ``k_splits`` models trained elsewhere, ``models[i]`` trained without fold ``i`` (see
        :func:`make_folds` and :attr:`fold_ids_`); then nothing is trained.
    strategy
        A ``tf.distribute.Strategy`` whose scope wraps each call of ``learning_algorithm``.
    verbose
        Show progress bars (default quiet, the library's convention).

    Attributes
    ----------
    fold_ids_
        ``(N,)`` fold of every sample.
    models_
        The ``k_splits`` models (also ``models``, as in Xplique).
    """

    def __init__(
        self,
        learning_algorithm: Callable | None,
        inputs: Any,
        targets: Any = None,
        batch_size: int | None = 64,
        k_splits: int = 4,
        *,
        seed: int | None = 0,
        shuffle: bool = True,
        models: Sequence[Callable] | None = None,
        strategy: tf.distribute.Strategy | None = None,
        verbose: bool = False,
    ):
        self.learning_algorithm = learning_algorithm
        self.batch_size = check_batch_size(batch_size)
        self.k_splits = check_positive_int(k_splits, "k_splits", minimum=2)
        self.seed = check_seed(seed)
        self.shuffle = bool(shuffle)
        self.strategy = strategy
        self.verbose = verbose
        if models is None and not callable(learning_algorithm):
            raise TypeError(
                "`learning_algorithm` must be a callable (x_train, y_train, x_test, y_test) -> "
                f"model, got {type(learning_algorithm).__name__} (or pass `models=`)."
            )
        self.inputs, self.targets = sanitize_inputs(inputs, targets)
        if self.targets is None:
            raise ValueError(
                "`targets` is required by MeGe (the true classes decide which pairs count): "
                "pass one-hot (N, C) or integer labels (N,), or a dataset of (inputs, targets)."
            )
        self.labels_ = _labels_of(self.targets)
        self.fold_ids_ = make_folds(self.labels_, self.k_splits, seed, shuffle)
        self.models_ = self._check_models(models) if models is not None else self._train()
        self._predictions: np.ndarray | None = None

    @property
    def models(self) -> list[Callable]:
        """The ``k_splits`` models, ``models[i]`` trained without fold ``i``."""
        return self.models_

    def _check_models(self, models: Sequence[Callable]) -> list[Callable]:
        models = list(models)
        if len(models) != self.k_splits:
            raise ValueError(
                f"`models` must hold one model per fold: got {len(models)} models for "
                f"k_splits={self.k_splits}."
            )
        for i, model in enumerate(models):
            if not callable(model):
                raise TypeError(f"`models[{i}]` must be a model, got {type(model).__name__}.")
        return models

    def _train(self) -> list[Callable]:
        inputs = self.inputs.numpy()
        targets = self.targets.numpy()
        models = []
        for i in tqdm(range(self.k_splits), desc="MeGe: training", disable=not self.verbose):
            train, test = self.fold_ids_ != i, self.fold_ids_ == i
            scope = self.strategy.scope() if self.strategy else contextlib.nullcontext()
            try:
                with scope:
                    model = self.learning_algorithm(
                        inputs[train], targets[train], inputs[test], targets[test]
                    )
            except Exception as error:
                raise RuntimeError(
                    f"`learning_algorithm` failed on fold {i} of {self.k_splits} "
                    f"({int(train.sum())} training, {int(test.sum())} test samples): {error}"
                ) from error
            if not callable(model):
                raise TypeError(
                    f"`learning_algorithm` must return a trained model; on fold {i} it returned "
                    f"{type(model).__name__}."
                )
            models.append(model)
        return models

    @property
    def predictions_(self) -> np.ndarray:
        """``(k_splits, N)`` predicted classes of every model (computed once)."""
        if self._predictions is None:
            predictions = []
            for model in self.models_:
                forward = make_forward_function(model)
                logits = [
                    forward(self.inputs[s])
                    for s in batch_slices(len(self.labels_), self.batch_size)
                ]
                predictions.append(tf.argmax(tf.concat(logits, 0), axis=-1).numpy())
            self._predictions = np.stack(predictions)
        return self._predictions

    def _one_hot_targets(self) -> tf.Tensor:
        if self.targets.shape.rank == 2:
            return tf.cast(self.targets, tf.float32)
        nb_classes = model_output_size(self.models_[0], self.inputs)
        return tf.one_hot(self.labels_, nb_classes, dtype=tf.float32)

    def evaluate(
        self, explainer_class: Callable, explainer_params: dict | None = None
    ) -> tuple[float, float]:
        """MeGe and ReCo of an explanation method.

        Parameters
        ----------
        explainer_class
            Explainer class (ours or Xplique's), built as ``explainer_class(model, **params)``
            for each of the ``k_splits`` models and called as ``explainer(inputs, targets)``.
        explainer_params
            Keyword arguments of the explainer.

        Returns
        -------
        mege, reco
            Floats in ``[0.5, 1]`` and ``[0, 1]`` (higher is better).
        """
        result = self.detailed_evaluate(explainer_class, explainer_params)
        return result.mege, result.reco

    def detailed_evaluate(
        self, explainer_class: Callable, explainer_params: dict | None = None
    ) -> MeGeResult:
        """MeGe, ReCo, the ReCo threshold and the two sets of distances (for plotting)."""
        if not callable(explainer_class):
            raise TypeError(
                f"`explainer_class` must be an explainer class, got {explainer_class!r}."
            )
        if explainer_params is not None and not isinstance(explainer_params, dict):
            raise TypeError(
                f"`explainer_params` must be a dict or None, got {type(explainer_params).__name__}."
            )
        params = explainer_params or {}
        explainers = [explainer_class(model, **params) for model in self.models_]
        targets = self._one_hot_targets()

        def explain(batch: slice) -> tf.Tensor:
            inputs, batch_targets = self.inputs[batch], targets[batch]
            return tf.stack([tf.convert_to_tensor(e(inputs, batch_targets)) for e in explainers])

        return self._score(explain)

    def evaluate_explanations(self, explanations: Any) -> MeGeResult:
        """MeGe / ReCo from explanations already computed with the ``k_splits`` models.

        Parameters
        ----------
        explanations
            ``(k_splits, N, ...)``: ``explanations[i]`` explains every input with model ``i``.
        """
        explanations = tf.convert_to_tensor(explanations)
        expected = (self.k_splits, len(self.labels_))
        if explanations.shape.rank < 3 or tuple(explanations.shape[:2]) != expected:
            raise ValueError(
                f"`explanations` must have shape (k_splits, N, ...) = {expected + ('...',)}, got "
                f"{tuple(explanations.shape)}."
            )
        return self._score(lambda batch: explanations[:, batch])

    def _score(self, explain: Callable[[slice], tf.Tensor]) -> MeGeResult:
        predictions = self.predictions_
        n = len(self.labels_)
        others = np.array(
            [[j for j in range(self.k_splits) if j != i] for i in range(self.k_splits)]
        )
        s_eq, s_ne, nb_undefined = [], [], 0
        batches = list(batch_slices(n, self.batch_size))
        for batch in tqdm(batches, desc="MeGe: explaining", disable=not self.verbose):
            explanations = explain(batch)
            sample_rank = explanations.shape.rank - 2
            distances = pairwise_spearman_distances(
                flatten_explanations(explanations, sample_rank)
            ).numpy()  # (k, k, B)
            idx = np.arange(batch.start, batch.stop)
            fold = self.fold_ids_[idx]  # the model that did not see the sample
            other = others[fold]  # (B, k - 1) the other models
            local = idx - batch.start
            dist = distances[fold[:, None], other, local[:, None]]
            pred_held = predictions[fold, idx][:, None]
            pred_other = predictions[other, idx[:, None]]
            label = self.labels_[idx][:, None]
            kept = (pred_held == label) | (pred_other == label)
            same = kept & (pred_held == pred_other)
            defined = ~np.isnan(dist)
            nb_undefined += int(np.sum(kept & ~defined))
            s_eq.append(dist[same & defined])
            s_ne.append(dist[kept & ~same & defined])
        s_eq, s_ne = np.concatenate(s_eq), np.concatenate(s_ne)
        if s_eq.size == 0:
            warnings.warn(
                "MeGe: no pair of models both predict correctly (S= is empty); MeGe is NaN.",
                RuntimeWarning,
                stacklevel=3,
            )
        if s_eq.size == 0 or s_ne.size == 0:
            if s_ne.size == 0:
                warnings.warn(
                    "MeGe: no pair with exactly one correct model (S!= is empty, the models "
                    "never disagree); ReCo is undefined (NaN). Use harder data or weaker models.",
                    RuntimeWarning,
                    stacklevel=3,
                )
        mege = float(1.0 / (1.0 + np.mean(s_eq))) if s_eq.size else float("nan")
        reco, threshold = reco_score(s_eq, s_ne)
        return MeGeResult(mege, reco, threshold, s_eq, s_ne, nb_undefined)
