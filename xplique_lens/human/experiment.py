"""A human-centered utility experiment: does an explanation help people predict a model?

Colin, Fel, Cadène & Serre, "What I Cannot Predict, I Do Not Understand: A Human-Centered
Evaluation Framework for Explainability Methods", NeurIPS 2022 (arXiv 2112.04417).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..commons.validation import (
    check_batch_size,
    check_is_fitted,
    check_positive_int,
    check_seed,
    resolve_seed,
    resolve_verbose,
)
from .explanations import ExplanationSet, check_condition, explain_condition
from .responses import FORMAT_VERSION, KEY_FORMAT
from .trials import Trial, check_correct_fraction, select_trials


def _check_images(images: Any) -> np.ndarray:
    if isinstance(images, tf.Tensor | tf.Variable):
        images = images.numpy()
    array = np.asarray(images)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"`images` must be a numeric array or tensor, got dtype {array.dtype}.")
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"`images` must hold floating point values (in the model's value range), got dtype "
            f"{array.dtype}; convert it first, e.g. `images.astype('float32') / 255`."
        )
    if array.ndim != 4 or array.shape[0] == 0:
        raise ValueError(
            f"`images` must be a non-empty batch (N, H, W, C), got shape {array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("`images` contains NaN or inf values; expected finite pixels.")
    return array.astype(np.float32, copy=False)


def _check_classes(values: Any, name: str, n: int) -> np.ndarray:
    if isinstance(values, tf.Tensor | tf.Variable):
        values = values.numpy()
    array = np.asarray(values)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"`{name}` must be integer classes, got dtype {array.dtype}.")
    if array.ndim == 2:  # one-hot
        array = array.argmax(axis=-1)
    if array.ndim != 1 or len(array) != n:
        raise ValueError(
            f"`{name}` must hold one class per image: shape ({n},) or one-hot ({n}, C), got "
            f"shape {np.asarray(values).shape}."
        )
    if not np.all(np.isfinite(array)) or np.any(array != np.round(array)) or np.any(array < 0):
        raise ValueError(f"`{name}` must be non-negative integer classes, got {array[:8]}...")
    return array.astype(np.int64)


class UtilityExperiment:
    """Trials, explanations and answer key of a human-centered utility experiment.

    The protocol of Colin, Fel et al. (NeurIPS 2022): a participant is assigned to one
    *condition*; in each of ``n_rounds`` rounds they first *train* on ``n_train`` images shown
    with the model's decision and, unless the condition is the baseline, an explanation of that
    decision; then they are *tested* on ``n_test`` unseen images shown alone and predict the
    model's decision. An explanation is useful when the participants who trained with it predict
    the model better than those who trained without: its utility is the relative improvement
    ``(accuracy_condition - accuracy_baseline) / accuracy_baseline``
    (:func:`~xplique_lens.human.score_responses`).

    Choices made here (documented because they shape the results):

    - Balance: within every phase of every round, ``round(correct_fraction * n)`` trials show a
      correct decision of the model and the others an incorrect one (0.5 by default, as the
      paper balances them: answering the true class then scores at most the balance, not 100%).
      The decided classes are spread evenly within a phase. ``correct_fraction=None`` keeps the
      model's own accuracy (a model that is never wrong cannot be balanced).
    - Same images for everyone: all conditions share the same training and the same test
      trials in the same order (reproducible from ``seed``); they differ only by the
      explanation shown during training. Test images are never training images.
    - Explanations explain the model's *decision* (its predicted class), as in the paper.

    Parameters
    ----------
    model
        The classifier, a callable ``images -> scores (N, C)`` (a Keras model); may be ``None``
        when ``decisions`` are given.
    images
        ``(N, H, W, C)`` float images in the model's value range: the pool trials are drawn from.
    labels
        True classes ``(N,)`` or one-hot ``(N, C)``.
    conditions
        Name -> ``None`` (baseline), an explainer (callable ``(inputs, targets) -> maps``, e.g.
        ``Saliency(model)``), a fitted ``Craft`` / ``CraftManager`` (concept attribution maps
        of the top concepts, with their crops), or precomputed maps ``(N, H, W[, K])``
        aligned with ``images``. Not modified.
    class_names
        Name of each class (default ``"0"``, ``"1"``...).
    n_rounds, n_train, n_test
        Rounds, and training / test trials per round.
    correct_fraction
        Share of correct model decisions in each phase, or ``None`` (see above).
    decisions
        The model's decisions ``(N,)`` when already known (``model`` is then not called).
    batch_size
        Images per forward pass and per explainer call.
    concepts_shown, crops_shown
        For Craft conditions: concepts shown per image, crops shown per concept.
    seed : int or None, default 0
        Seed of the trial selection and order; None draws fresh randomness at every ``fit``
        (the seed drawn is kept in ``seed_`` and in the answer key).
    progress
        Deprecated (keyword only): use ``fit(verbose=...)`` and ``build_site(verbose=...)``;
        given, it warns and becomes their default.

    Attributes
    ----------
    decisions_, correct_
        The model's decision on every image ``(N,)`` and whether it is right.
    nb_classes_, class_names_
        Number of classes and their names.
    trials_
        All :class:`~xplique_lens.human.trials.Trial` objects, round by round, training then
        test trials in display order (``train_trials_`` and ``test_trials_`` filter them).
    choices_
        Classes a participant may answer in the test phase (those of the trials' decisions and
        labels), sorted.
    explanations_
        Condition name -> :class:`~xplique_lens.human.explanations.ExplanationSet` on the
        training trials, or ``None`` for a baseline.
    baselines_
        Names of the baseline conditions (``None``).
    experiment_id_
        A hash of the trials, images and conditions; responses carry it, scoring checks it.
    seed_
        The seed the trials were drawn with (``seed``, or the fresh one when it is None).

    Examples
    --------
    >>> experiment = UtilityExperiment(model, images, labels,
    ...                                {"baseline": None, "saliency": Saliency(model)}).fit()
    >>> experiment.build_site("experiment_site")            # then collect the JSON responses
    >>> scores = experiment.score(["responses/"])            # accuracy, CI, utility per condition

    References
    ----------
    Colin, Fel, Cadène & Serre, "What I Cannot Predict, I Do Not Understand: A Human-Centered
    Evaluation Framework for Explainability Methods", NeurIPS 2022 (arXiv 2112.04417).
    """

    def __init__(
        self,
        model: Any,
        images: Any,
        labels: Any,
        conditions: Mapping[str, Any],
        class_names: Sequence[str] | None = None,
        n_rounds: int = 3,
        n_train: int = 8,
        n_test: int = 8,
        correct_fraction: float | None = 0.5,
        decisions: Any = None,
        batch_size: int | None = 64,
        concepts_shown: int = 3,
        crops_shown: int = 4,
        seed: int | None = 0,
        *,
        progress: bool | None = None,
    ):
        if model is None and decisions is None:
            raise TypeError("`model` is None: pass a model (callable) or the `decisions`.")
        if model is not None and not callable(model):
            raise TypeError(
                f"`model` must be callable (images -> scores), got {type(model).__name__}."
            )
        self.model = model
        self.images = images
        self.labels = labels
        self._images = _check_images(images)
        n = len(self._images)
        self._labels = _check_classes(labels, "labels", n)
        self._decisions = None if decisions is None else _check_classes(decisions, "decisions", n)
        if not isinstance(conditions, Mapping) or not conditions:
            raise TypeError(
                "`conditions` must be a non-empty dict name -> explainer / Craft / maps / None, "
                f"got {conditions!r}."
            )
        for name, condition in conditions.items():
            check_condition(name, condition, n)
        self.conditions = dict(conditions)
        if class_names is not None:
            if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
                raise TypeError(f"`class_names` must be a list of strings, got {class_names!r}.")
            class_names = list(class_names)
        self.class_names = class_names
        self.n_rounds = check_positive_int(n_rounds, "n_rounds")
        self.n_train = check_positive_int(n_train, "n_train")
        self.n_test = check_positive_int(n_test, "n_test")
        self.correct_fraction = check_correct_fraction(correct_fraction)
        self.decisions = decisions
        self.batch_size = check_batch_size(batch_size)
        self.concepts_shown = check_positive_int(concepts_shown, "concepts_shown")
        self.crops_shown = check_positive_int(crops_shown, "crops_shown", minimum=0)
        self.seed = check_seed(seed, minimum=0)
        self.progress = (
            None if progress is None else resolve_verbose(False, progress, "UtilityExperiment")
        )

    # ------------------------------------------------------------------ fit
    def _decide(self) -> tuple[np.ndarray, int]:
        if self._decisions is not None:
            top = int(max(self._decisions.max(), self._labels.max())) + 1
            return self._decisions, top
        step = len(self._images) if not self.batch_size else self.batch_size
        scores = []
        for start in range(0, len(self._images), step):
            out = self.model(self._images[start : start + step])
            scores.append(np.asarray(out.numpy() if hasattr(out, "numpy") else out))
        scores = np.concatenate(scores, axis=0)
        if scores.ndim != 2 or len(scores) != len(self._images):
            raise ValueError(
                f"`model` must return scores (N, C) for N={len(self._images)} images, got shape "
                f"{scores.shape}."
            )
        return scores.argmax(axis=-1).astype(np.int64), int(scores.shape[1])

    def fit(self, verbose: bool = False, *, progress: bool | None = None) -> UtilityExperiment:
        """Take the model's decisions, draw the trials and explain the training images.

        Parameters
        ----------
        verbose
            Show progress bars while explaining.
        progress
            Deprecated alias of ``verbose`` (``DeprecationWarning``).

        Returns
        -------
        self
        """
        verbose = resolve_verbose(verbose, progress, "UtilityExperiment.fit") or bool(self.progress)
        seed = resolve_seed(self.seed)
        decisions, nb_outputs = self._decide()
        nb_classes = max(nb_outputs, int(self._labels.max()) + 1)
        if self.class_names is not None:
            if len(self.class_names) < nb_classes:
                raise ValueError(
                    f"`class_names` has {len(self.class_names)} names but the classes go up to "
                    f"{nb_classes - 1}; give one name per class."
                )
            nb_classes = max(nb_classes, len(self.class_names))
        names = self.class_names or [str(i) for i in range(nb_classes)]
        trials = select_trials(
            self._labels,
            decisions,
            self.n_rounds,
            self.n_train,
            self.n_test,
            self.correct_fraction,
            seed,
        )
        train = [t for t in trials if t.phase == "train"]
        train_index = np.array([t.image_index for t in train], np.int64)
        train_images = self._images[train_index]
        train_decisions = decisions[train_index]
        explanations: dict[str, ExplanationSet | None] = {}
        for name, condition in tqdm(
            self.conditions.items(),
            disable=not verbose or len(self.conditions) < 2,
            desc="conditions",
        ):
            precomputed = None
            if isinstance(condition, np.ndarray | tf.Tensor):
                precomputed = np.asarray(condition)[train_index]
            explanations[name] = explain_condition(
                name,
                condition,
                train_images,
                train_decisions,
                nb_outputs,
                batch_size=self.batch_size,
                concepts_shown=self.concepts_shown,
                crops_shown=self.crops_shown,
                verbose=verbose,
                precomputed=precomputed,
                class_names=names,
            )
        from ..lens.store import fingerprint

        used = np.array([t.image_index for t in trials], np.int64)
        self.decisions_ = decisions
        self.correct_ = decisions == self._labels
        self.nb_classes_ = nb_classes
        self.class_names_ = list(names)
        self.trials_ = trials
        self.choices_ = sorted({t.decision for t in trials} | {t.label for t in trials})
        self.explanations_ = explanations
        self.baselines_ = [name for name, c in self.conditions.items() if c is None]
        self.experiment_id_ = fingerprint(
            self._images[used],
            [t.to_dict() for t in trials],
            list(self.conditions),
            self.class_names_,
            seed,
        )
        self.seed_ = seed
        return self

    build = fit

    # ------------------------------------------------------------------ views
    @property
    def train_trials_(self) -> list[Trial]:
        """The training trials, round by round, in display order."""
        check_is_fitted(self, "trials_", hint="fit()")
        return [t for t in self.trials_ if t.phase == "train"]

    @property
    def test_trials_(self) -> list[Trial]:
        """The test trials, round by round, in display order."""
        check_is_fitted(self, "trials_", hint="fit()")
        return [t for t in self.trials_ if t.phase == "test"]

    def trial_images(self, trials: Sequence[Trial]) -> np.ndarray:
        """The images of ``trials`` ``(n, H, W, C)`` (a copy)."""
        return self._images[[t.image_index for t in trials]].copy()

    def answer_key(self) -> dict:
        """JSON-able answer key: trials with the model's decisions, conditions, choices.

        Scoring needs only this (:func:`~xplique_lens.human.score_responses` accepts it or
        its file); keep it away from participants: it holds the test decisions.
        """
        check_is_fitted(self, "trials_", hint="fit()")
        return {
            "format": KEY_FORMAT,
            "version": FORMAT_VERSION,
            "experiment_id": self.experiment_id_,
            "conditions": [
                {"name": name, "baseline": condition is None}
                for name, condition in self.conditions.items()
            ],
            "class_names": self.class_names_,
            "choices": [int(c) for c in self.choices_],
            "correct_fraction": self.correct_fraction,
            "n_rounds": self.n_rounds,
            "seed": self.seed_,
            "trials": [t.to_dict() for t in self.trials_],
        }

    # ------------------------------------------------------------------ shortcuts
    def build_site(self, out: str | Path, **kwargs: Any) -> Path:
        """Write the static site; see :func:`~xplique_lens.human.build_experiment_site`."""
        from .site import build_experiment_site

        return build_experiment_site(self, out, **kwargs)

    def score(self, responses: Any, **kwargs: Any) -> Any:
        """Score responses; see :func:`~xplique_lens.human.score_responses`."""
        from .scoring import score_responses

        return score_responses(self, responses, **kwargs)

    def simulate(self, participant: Any = None, **kwargs: Any) -> list[dict]:
        """Simulated responses; see :func:`~xplique_lens.human.simulate_responses`."""
        from .simulated import simulate_responses

        return simulate_responses(self, participant, **kwargs)

    def __repr__(self) -> str:
        state = "built" if hasattr(self, "trials_") else "not built"
        return (
            f"UtilityExperiment(conditions={list(self.conditions)}, n_rounds={self.n_rounds}, "
            f"n_train={self.n_train}, n_test={self.n_test}, "
            f"correct_fraction={self.correct_fraction}, seed={self.seed}; {state})"
        )
