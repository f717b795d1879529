"""Concept Activation Vectors (CAV): the normal of a linear classifier separating the activations
of examples of a concept from those of counter-examples, at one layer.

Ref. Kim et al., *Interpretability Beyond Feature Attribution: Quantitative Testing with Concept
Activation Vectors (TCAV)* (ICML 2018), https://arxiv.org/abs/1711.11279.
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from ..commons.batching import batch_apply
from ..commons.inputs import model_input_rank, sanitize_inputs
from ..commons.model_splitting import find_layer, split_model
from ..commons.tf_functions import make_forward_function
from ..commons.validation import check_batch_size

CLASSIFIERS = ("SGD", "SVC")


_SPLITS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def layer_split(
    model: keras.Model, target_layer: str | int
) -> tuple[keras.Model, keras.Model | None]:
    """``(g, h)`` with ``h(g(x)) == model(x)``, ``g`` ending at ``target_layer``; ``h`` is
    ``None`` when the layer is the model's output (``g`` is then the model).

    Made once per model and layer (the model held weakly), so every :class:`Cav` and
    :class:`~xplique_lens.concepts.Tcav` of that layer shares ``g`` and ``h``, and with them
    their compiled functions (one trace per process, not per object).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    layer = find_layer(model, target_layer)
    per_model = _SPLITS.setdefault(model, {})
    key = (type(target_layer).__name__, target_layer)
    if key not in per_model:
        if layer is model.layers[-1]:
            per_model[key] = (model, None)
        else:
            per_model[key] = split_model(model, target_layer)
    return per_model[key]


def bottleneck_model(model: keras.Model, target_layer: str | int) -> keras.Model:
    """``g``: inputs to the activations of ``target_layer`` (the model itself for its last
    layer), sharing the model's weights (see :func:`layer_split`)."""
    return layer_split(model, target_layer)[0]


def make_classifier(classifier: Any, verbose: bool, random_state: Any) -> Any:
    """Xplique's CAV classifier: ``"SGD"`` (hinge loss, the official parameters), ``"SVC"``
    (liblinear) or a user object with ``fit`` and ``score`` (and ``coef_`` once fitted)."""
    if isinstance(classifier, str):
        if classifier == "SGD":
            from sklearn.linear_model import SGDClassifier

            return SGDClassifier(
                alpha=0.01, max_iter=1_000, tol=1e-3, verbose=verbose, random_state=random_state
            )
        if classifier == "SVC":
            from sklearn.svm import LinearSVC

            return LinearSVC(verbose=verbose, random_state=random_state)
        raise ValueError(
            f"`classifier` must be one of {list(CLASSIFIERS)} or an object with `fit` and "
            f"`score` methods, got {classifier!r}."
        )
    if not all(callable(getattr(classifier, name, None)) for name in ("fit", "score")):
        raise TypeError(
            f"`classifier` must be one of {list(CLASSIFIERS)} or an object with `fit` and "
            f"`score` methods (e.g. a scikit-learn linear classifier), got "
            f"{type(classifier).__name__}."
        )
    return classifier


def cav_from_classifier(classifier: Any, activation_shape: tuple) -> np.ndarray:
    """The fitted classifier's normal ``coef_[0]``, L1-normalised, shaped as the activations."""
    coef = np.asarray(getattr(classifier, "coef_", None))
    size = int(np.prod(activation_shape))
    if coef.dtype == object or coef.ndim not in (1, 2) or coef.shape[-1] != size:
        raise ValueError(
            "The fitted `classifier` must expose a linear `coef_` with one weight per activation "
            f"({size}), got `coef_` of shape {coef.shape}."
        )
    cav = np.atleast_2d(coef)[0]
    return (cav / np.linalg.norm(cav, 1)).reshape(activation_shape)


class Cav:
    """Concept Activation Vector at ``target_layer``: the direction in activation space that
    increases the concept (``x + eps * cav`` is more "concept").

    The activations of the positive (concept) and negative examples are computed by the model's
    compiled forward pass cut at the layer (:func:`~xplique_lens.commons.split_model`), in
    batches of ``batch_size``; a linear classifier is trained on a random ``1 - test_fraction``
    of them; the CAV is its normal, L1-normalised.

    Ref. Kim et al., *Interpretability Beyond Feature Attribution: Quantitative Testing with
    Concept Activation Vectors (TCAV)* (ICML 2018), https://arxiv.org/abs/1711.11279. Drop-in
    for ``xplique.concepts.Cav`` (same parameters and classifiers; ``fit`` returns the CAV, as
    in Xplique), with these differences:

    - ``seed``: one ``numpy.random.RandomState(seed)`` drives both the train / test split and the
      classifier (``"SGD"`` / ``"SVC"``), so the same seed gives the same CAV; Xplique draws both
      from numpy's global generator, so ``Cav(..., seed=s)`` gives the CAV of Xplique's ``Cav``
      run right after ``np.random.seed(s)`` (``seed=None``: the global generator, as Xplique);
    - the validation accuracy is always kept (``val_accuracy_``), with the CAV (``cav_``);
    - ``target_layer`` may be any layer :func:`~xplique_lens.commons.find_layer` accepts.

    Parameters
    ----------
    model
        Keras model.
    target_layer
        Name or index of the layer whose activations are separated.
    classifier
        ``"SGD"`` (hinge-loss SGD, a linear SVM, the official parameters: ``alpha=0.01``,
        ``max_iter=1000``, ``tol=1e-3``), ``"SVC"`` (``LinearSVC``, slower), or a scikit-learn
        style linear classifier (``fit``, ``score``, ``coef_``).
    test_fraction
        Fraction of the examples held out to measure the classifier's accuracy, in ``]0, 1[``.
    batch_size
        Number of examples whose activations are computed at once; ``None`` for all at once.
    verbose
        Print the classifier's validation accuracy (and its training log).
    seed
        Seed of the split and of the classifier; ``None`` for numpy's global generator.
    """

    def __init__(
        self,
        model: keras.Model,
        target_layer: str | int,
        classifier: str | Callable = "SGD",
        test_fraction: float = 0.2,
        batch_size: int | None = 64,
        verbose: bool = False,
        seed: int | None = 0,
    ):
        if (
            isinstance(test_fraction, bool)
            or not isinstance(test_fraction, numbers.Real)
            or not 0.0 < test_fraction < 1.0
        ):
            raise ValueError(f"`test_fraction` must be in ]0, 1[, got {test_fraction!r}.")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"`seed` must be an integer or None, got {seed!r}.")
        self.model = model
        self.target_layer = target_layer
        self.batch_size = check_batch_size(batch_size)
        self.test_fraction = float(test_fraction)
        self.verbose = verbose
        self.seed = seed
        self.bottleneck_model = bottleneck_model(model, target_layer)
        self._forward = make_forward_function(self.bottleneck_model)
        self._owns_classifier = isinstance(classifier, str)
        self.classifier = make_classifier(classifier, verbose, None)

    def activations(self, examples: Any, name: str = "examples") -> np.ndarray:
        """Activations of ``examples`` at the target layer, ``(N, ...)``."""
        inputs, _ = sanitize_inputs(examples, None, model_input_rank(self.model))
        if inputs.shape[0] == 0:
            raise ValueError(f"`{name}` must hold at least one example.")
        return batch_apply(self._forward, (inputs,), self.batch_size).numpy()

    def fit(self, positive_dataset: Any, negative_dataset: Any) -> tf.Tensor:
        """Train the classifier and return the CAV (shape of the layer's activations, float32).

        Parameters
        ----------
        positive_dataset
            Examples of the concept ``(N+, ...)``: array, tensor or ``tf.data.Dataset``.
        negative_dataset
            Counter-examples ``(N-, ...)``.

        Returns
        -------
        tf.Tensor
            The CAV, L1-normalised (also kept in ``cav_``).
        """
        from sklearn.model_selection import train_test_split
        from sklearn.utils import check_random_state

        positive = self.activations(positive_dataset, "positive_dataset")
        negative = self.activations(negative_dataset, "negative_dataset")
        activations = np.concatenate([positive, negative], axis=0)
        has_concept = np.array([1] * len(positive) + [0] * len(negative), np.float32)
        shape = activations.shape[1:]
        activations = activations.reshape(len(activations), -1)

        # one generator for the split and the classifier, fresh at each fit: a fit depends on
        # the seed only (None: numpy's global generator, as Xplique)
        random_state = check_random_state(self.seed)
        if self._owns_classifier:
            self.classifier.set_params(random_state=random_state)
        x_train, x_test, y_train, y_test = train_test_split(
            activations, has_concept, test_size=self.test_fraction, random_state=random_state
        )
        if len(np.unique(y_train)) < 2:
            raise ValueError(
                "The training split holds examples of one kind only: give more "
                f"`positive_dataset` ({len(positive)}) and `negative_dataset` ({len(negative)}) "
                "examples, or a smaller `test_fraction`."
            )
        self.classifier.fit(x_train, y_train)
        self.val_accuracy_ = float(self.classifier.score(x_test, y_test))
        if self.verbose:
            print(f"[CAV] val_accuracy : {round(self.val_accuracy_ * 100, 2)}")
        self.cav_ = tf.constant(cav_from_classifier(self.classifier, shape), tf.float32)
        return self.cav_

    def __call__(self, positive_dataset: Any, negative_dataset: Any) -> tf.Tensor:
        """Alias of :meth:`fit`."""
        return self.fit(positive_dataset, negative_dataset)
