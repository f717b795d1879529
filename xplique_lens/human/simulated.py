"""A simulated participant: a model of a learner, to dry-run an experiment without people.

What it assumes. The learner describes an image by a grid of cells (``grid_size`` x
``grid_size``), each by its mean colour, luminance contrast and mean absolute luminance
gradients (horizontal, vertical, diagonal): a crude stand-in for what a person sees in a patch.

- Training (image, decision, explanation): the learner *attends* to the cells that the
  explanation points at (the ``attention`` share of cells with the most explanation mass,
  weighted by it) and remembers their descriptors as evidence for the decided class. Without an
  explanation (baseline), attention is spread uniformly over the whole image: the learner does
  not know where the model looks.
- Test (image alone): for each class, the learner looks for the cell of the test image that
  best matches what it attended to for that class (a kernel density over the remembered
  descriptors, Gaussian kernel of width ``bandwidth`` in standardised units), and answers the
  class with the best match. Each round it learns from every training trial seen so far.
- Individual differences: each simulated participant remembers a random share ``memory`` of the
  training trials and answers at random with probability ``lapse``.

Limits. It is an ideal-ish observer of *where* information is: it takes an explanation as a
pointer to the decisive pixels and learns "what is there" from the cells' colours and textures
only, so it rewards explanations that are spatially precise on parts describable by colour and
texture, and cannot use shapes larger than a cell, semantics, or reasoning about why the model
errs. Its baseline has no bottom-up saliency (people do look at objects without being told), so
its utilities are optimistic. It is a dry run of the pipeline and a sanity check that an
explanation *carries* information about the decision (e.g. ground-truth part masks should
help); it does not predict what people will do, which is what the experiment measures.

References
----------
Colin, Fel, Cadène & Serre, "What I Cannot Predict, I Do Not Understand: A Human-Centered
Evaluation Framework for Explainability Methods", NeurIPS 2022 (arXiv 2112.04417): the protocol
this learner stands in for (participants as meta-predictors of the model).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..commons.validation import check_is_fitted, check_positive_int, check_seed, resolve_seed
from .responses import FORMAT_VERSION, RESPONSES_FORMAT


def cell_features(images: np.ndarray, grid_size: int) -> np.ndarray:
    """Descriptors of the cells of a ``grid_size`` x ``grid_size`` grid: ``(n, cells, C + 4)``.

    Per cell: mean of each channel, standard deviation of the luminance, mean absolute
    luminance difference between horizontal, vertical and diagonal neighbours.
    """
    x = np.asarray(images, np.float64)
    n, height, width, _ = x.shape
    rows = np.linspace(0, height, grid_size + 1).round().astype(int)
    cols = np.linspace(0, width, grid_size + 1).round().astype(int)
    area = np.outer(np.diff(rows), np.diff(cols))[None]  # (1, g, g)

    def pooled(values: np.ndarray) -> np.ndarray:  # (n, H, W[, k]) -> (n, g, g[, k]) means
        summed = np.add.reduceat(np.add.reduceat(values, rows[:-1], axis=1), cols[:-1], axis=2)
        return summed / (area[..., None] if summed.ndim == 4 else area)

    luminance = x.mean(axis=-1)
    dx = np.abs(np.diff(luminance, axis=2, append=luminance[:, :, -1:]))
    dy = np.abs(np.diff(luminance, axis=1, append=luminance[:, -1:, :]))
    diagonal = np.zeros_like(luminance)
    diagonal[:, :-1, :-1] = np.abs(luminance[:, 1:, 1:] - luminance[:, :-1, :-1])
    mean_l = pooled(luminance)
    std_l = np.sqrt(np.clip(pooled(luminance**2) - mean_l**2, 0, None))
    features = np.concatenate(
        [
            pooled(x),
            std_l[..., None],
            pooled(dx)[..., None],
            pooled(dy)[..., None],
            pooled(diagonal)[..., None],
        ],
        axis=-1,
    )
    return features.reshape(n, grid_size * grid_size, -1)


def attention_weights(maps: np.ndarray | None, n: int, grid_size: int, share: float) -> np.ndarray:
    """Where the learner looks: ``(n, cells)`` weights summing to 1 per image.

    The ``share`` of cells with the most absolute map mass, weighted by it; uniform without a
    map (or for an all-zero map).
    """
    cells = grid_size * grid_size
    uniform = np.full((n, cells), 1.0 / cells)
    if maps is None:
        return uniform
    maps = np.abs(np.asarray(maps, np.float64))
    height, width = maps.shape[1:3]
    rows = np.linspace(0, height, grid_size + 1).round().astype(int)
    cols = np.linspace(0, width, grid_size + 1).round().astype(int)
    mass = np.add.reduceat(np.add.reduceat(maps, rows[:-1], axis=1), cols[:-1], axis=2)
    mass = mass.reshape(n, cells) / np.outer(np.diff(rows), np.diff(cols)).reshape(1, cells)
    k = max(1, int(round(share * cells)))
    threshold = -np.sort(-mass, axis=1)[:, k - 1 : k]
    kept = np.where(mass >= threshold, mass, 0.0)
    total = kept.sum(axis=1, keepdims=True)
    return np.where(total > 0, kept / np.where(total > 0, total, 1.0), uniform)


def _check_fraction(value: Any, name: str, low_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number in [0, 1], got {value!r}.")
    value = float(value)
    if not (0 < value <= 1 if low_open else 0 <= value <= 1):
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ValueError(f"`{name}` must lie in {interval}, got {value}.")
    return value


class SimulatedParticipant:
    """A learner that trains on (image, decision, explanation) and predicts decisions.

    See the module documentation for what it assumes and its limits: it checks that an
    explanation carries information about the model's decisions; it is not a model of people.

    Parameters
    ----------
    grid_size
        Cells per side of the grid the images are described on.
    attention
        Share of the cells attended to when an explanation is shown, in ``(0, 1]``.
    bandwidth
        Width of the Gaussian kernel that compares cell descriptors (standardised units).
    memory
        Share of the training trials remembered, in ``(0, 1]`` (drawn per participant).
    lapse
        Probability of answering at random, in ``[0, 1]``.
    seed : int or None, default 0
        Seed of the memory draw and of the lapses; None draws fresh randomness.

    Attributes
    ----------
    classes_
        The decisions seen in training (the only answers it gives, lapses aside).
    features_, weights_, decisions_
        Standardised cell descriptors ``(n, cells, d)``, attention ``(n, cells)`` and decisions
        of the remembered trials.
    mean_, scale_
        Standardisation of the descriptors (from the training images).
    """

    def __init__(
        self,
        grid_size: int = 8,
        attention: float = 0.1,
        bandwidth: float = 0.5,
        memory: float = 1.0,
        lapse: float = 0.0,
        seed: int | None = 0,
    ):
        self.grid_size = check_positive_int(grid_size, "grid_size")
        self.attention = _check_fraction(attention, "attention", low_open=True)
        if isinstance(bandwidth, bool) or not isinstance(bandwidth, numbers.Real):
            raise TypeError(f"`bandwidth` must be a positive number, got {bandwidth!r}.")
        if not bandwidth > 0:
            raise ValueError(f"`bandwidth` must be > 0, got {bandwidth}.")
        self.bandwidth = float(bandwidth)
        self.memory = _check_fraction(memory, "memory", low_open=True)
        self.lapse = _check_fraction(lapse, "lapse", low_open=False)
        self.seed = check_seed(seed, minimum=0)

    def get_params(self) -> dict:
        """The settings (to clone a participant with another seed)."""
        return {
            "grid_size": self.grid_size,
            "attention": self.attention,
            "bandwidth": self.bandwidth,
            "memory": self.memory,
            "lapse": self.lapse,
            "seed": self.seed,
        }

    def _check_images(self, images: Any, name: str) -> np.ndarray:
        array = np.asarray(images)
        if array.dtype == object or not np.issubdtype(array.dtype, np.number):
            raise TypeError(f"`{name}` must be numeric images, got dtype {array.dtype}.")
        if array.ndim != 4 or len(array) == 0:
            raise ValueError(f"`{name}` must be a batch (N, H, W, C), got shape {array.shape}.")
        if min(array.shape[1:3]) < self.grid_size:
            raise ValueError(
                f"`{name}` of size {array.shape[1:3]} is smaller than `grid_size`={self.grid_size}."
            )
        return array

    def fit(self, images: Any, decisions: Any, explanations: Any = None) -> SimulatedParticipant:
        """Learn from training trials.

        Parameters
        ----------
        images
            Training images ``(n, H, W, C)``.
        decisions
            The model's decisions shown with them ``(n,)``.
        explanations
            Heatmaps ``(n, H, W)`` shown with them, or ``None`` (baseline).

        Returns
        -------
        self
        """
        images = self._check_images(images, "images")
        decisions = np.asarray(decisions)
        if decisions.shape != (len(images),) or not np.issubdtype(decisions.dtype, np.integer):
            raise ValueError(
                f"`decisions` must be ({len(images)},) integers, got shape {decisions.shape} "
                f"and dtype {decisions.dtype}."
            )
        if explanations is not None:
            explanations = np.asarray(explanations)
            if explanations.ndim == 4 and explanations.shape[-1] == 1:
                explanations = explanations[..., 0]
            if explanations.shape != images.shape[:3]:
                raise ValueError(
                    f"`explanations` must be maps {images.shape[:3]} (one per image), got shape "
                    f"{explanations.shape}."
                )
        rng = np.random.default_rng(self.seed)
        keep = rng.random(len(images)) < self.memory
        if not keep.any():
            keep[rng.integers(len(images))] = True
        features = cell_features(images, self.grid_size)
        flat = features.reshape(-1, features.shape[-1])
        self.mean_ = flat.mean(axis=0)
        self.scale_ = flat.std(axis=0) + 1e-6
        weights = attention_weights(explanations, len(images), self.grid_size, self.attention)
        self.features_ = ((features - self.mean_) / self.scale_)[keep]
        self.weights_ = weights[keep]
        self.decisions_ = decisions[keep].astype(np.int64)
        self.classes_ = np.unique(self.decisions_)
        self._rng = rng
        return self

    def decision_scores(self, images: Any) -> np.ndarray:
        """How well each test image matches what was learned for each class ``(n, classes)``."""
        if not hasattr(self, "classes_"):
            raise ValueError("This SimulatedParticipant is not fitted: call `fit` first.")
        images = self._check_images(images, "images")
        test = (cell_features(images, self.grid_size) - self.mean_) / self.scale_  # (n, m, d)
        scale = 2.0 * self.bandwidth**2 * test.shape[-1]
        scores = np.zeros((len(images), len(self.classes_)))
        for j, decision in enumerate(self.classes_):
            rows = self.decisions_ == decision
            memory = self.features_[rows].reshape(-1, test.shape[-1])
            weights = self.weights_[rows].reshape(-1) / rows.sum()
            used = weights > 0
            memory, weights = memory[used], weights[used]
            distances = (
                (test**2).sum(-1)[..., None] - 2 * test @ memory.T + (memory**2).sum(-1)[None, None]
            )
            density = np.exp(-np.clip(distances, 0, None) / scale) @ weights  # (n, m)
            scores[:, j] = density.max(axis=1)
        return scores

    def predict(self, images: Any, choices: Any = None) -> np.ndarray:
        """Predicted decision of each image ``(n,)``; lapses answer uniformly in ``choices``.

        ``choices`` (the classes offered) defaults to the classes seen in training.
        """
        scores = self.decision_scores(images)
        answers = self.classes_[scores.argmax(axis=1)]
        pool = self.classes_ if choices is None else np.asarray(choices, np.int64)
        lapses = self._rng.random(len(answers)) < self.lapse
        answers[lapses] = self._rng.choice(pool, size=int(lapses.sum()))
        return answers


def simulate_responses(
    experiment: Any,
    participant: SimulatedParticipant | None = None,
    n_participants: int = 1,
    conditions: list[str] | None = None,
    seed: int | None = 0,
) -> list[dict]:
    """Responses of simulated participants, in the format the site downloads.

    Each simulated participant of a condition learns, round after round, from every training
    trial seen so far (with the condition's explanations merged into one heatmap per trial,
    :meth:`ExplanationSet.heatmaps`), then answers that round's test trials. The result
    round-trips through :func:`~xplique_lens.human.score_responses`.

    Parameters
    ----------
    experiment
        A fitted :class:`~xplique_lens.human.UtilityExperiment`.
    participant
        The learner's settings (default ``SimulatedParticipant()``); cloned per participant
        with a seed drawn from ``(participant.seed, seed, index)``.
    n_participants
        Simulated participants per condition (the same seeds in every condition).
    conditions
        Conditions to simulate (default all).
    seed : int or None, default 0
        Seed of the participants' seeds; None draws fresh randomness (as does a participant
        whose ``seed`` is None).

    Returns
    -------
    list of dict
        One response dict per participant and condition.
    """
    check_is_fitted(experiment, "trials_", hint="experiment.fit()")
    seed = resolve_seed(check_seed(seed, minimum=0))
    if participant is None:
        participant = SimulatedParticipant()
    if not isinstance(participant, SimulatedParticipant):
        raise TypeError(
            f"`participant` must be a SimulatedParticipant, got {type(participant).__name__}."
        )
    n_participants = check_positive_int(n_participants, "n_participants")
    names = list(experiment.conditions) if conditions is None else list(conditions)
    unknown = [name for name in names if name not in experiment.conditions]
    if unknown:
        raise ValueError(
            f"`conditions` {unknown} are not conditions of the experiment "
            f"{list(experiment.conditions)}."
        )
    train, test = experiment.train_trials_, experiment.test_trials_
    train_images, test_images = experiment.trial_images(train), experiment.trial_images(test)
    train_decisions = np.array([t.decision for t in train], np.int64)
    train_rounds = np.array([t.round for t in train])
    test_rounds = np.array([t.round for t in test])
    params = participant.get_params()
    participant_seed = resolve_seed(participant.seed)
    responses = []
    for name in names:
        explanations = experiment.explanations_[name]
        heatmaps = None if explanations is None else explanations.heatmaps()
        for index in range(n_participants):
            state = np.random.SeedSequence([participant_seed, seed, index]).generate_state(1)
            params["seed"] = int(state[0])
            answers = []
            for round_index in range(experiment.n_rounds):
                seen = train_rounds <= round_index
                learner = SimulatedParticipant(**params).fit(
                    train_images[seen],
                    train_decisions[seen],
                    None if heatmaps is None else heatmaps[seen],
                )
                shown = np.flatnonzero(test_rounds == round_index)
                predicted = learner.predict(test_images[shown], experiment.choices_)
                answers.extend(
                    {
                        "trial": test[i].trial_id,
                        "choice": int(choice),
                        "rt_ms": None,
                        "input": "simulated",
                    }
                    for i, choice in zip(shown, predicted)
                )
            responses.append(
                {
                    "format": RESPONSES_FORMAT,
                    "version": FORMAT_VERSION,
                    "experiment_id": experiment.experiment_id_,
                    "participant": f"simulated-{index:03d}",
                    "condition": name,
                    "assignment": "simulated",
                    "training": [{"trial": t.trial_id, "viewed_ms": None} for t in train],
                    "responses": answers,
                }
            )
    return responses
