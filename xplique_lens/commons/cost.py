"""Count the images that go through a model: the cost of an explanation, in forward passes.

The cost of a black-box explanation is a number of forward passes of the model (and, for a
gradient method, of backward passes). :func:`count_passes` measures it exactly, whatever calls
the model: it returns the model behind a *counting input layer* (an identity whose forward adds
the batch size to a counter, and whose gradient adds it to another), and a :class:`PassCounter`.
Because the count is an operation of the graph, not a Python side effect, it is exact inside
``tf.function`` s and ``tf.while_loop`` s traced once and run many times (the Sobol kernel, the
MACO steps, ``model.predict``), and for every part of the model that starts at its input: a model
split at a layer (CRAFT's ``g``, a MACO feature model) counts too.

What is counted:

- ``forwards``: images fed to the model's input, whether they run through the whole network or
  through its part up to an inner layer (CRAFT's crops through ``g``, MACO's crops up to a concept
  layer);
- ``backwards``: gradients propagated back to the input images (Saliency, MACO's steps...).

Passes that start inside the model (CRAFT's concept codes through ``h``, the part after the
layer, for its Sobol importance and C-Deletion) feed no image and are not counted: their cost is
a small share of a pass for a concept layer deep in the network, and it is in the wall time.

:class:`StageCost` is what the Lens builder records per class and stage (wall time and passes).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import keras
import tensorflow as tf

from .model_splitting import SEPARATOR, LayerSpec, layer_path

__all__ = ["CountingLayer", "PassCounter", "StageCost", "count_passes", "counted_layer"]


class PassCounter:
    """Running totals of the forward and backward passes of images through a model.

    The totals are ``tf.Variable`` s incremented by the graph of the counted model (see
    :func:`count_passes`); read them with :attr:`forwards`, :attr:`backwards`, or
    :meth:`measure` around a computation.
    """

    def __init__(self) -> None:
        self._forwards = tf.Variable(0, dtype=tf.int64, trainable=False, name="forwards")
        self._backwards = tf.Variable(0, dtype=tf.int64, trainable=False, name="backwards")

    @property
    def forwards(self) -> int:
        """Images fed to the model's input so far."""
        return int(self._forwards.numpy())

    @property
    def backwards(self) -> int:
        """Gradients propagated back to the input images so far."""
        return int(self._backwards.numpy())

    def reset(self) -> None:
        """Set both totals to 0."""
        self._forwards.assign(0)
        self._backwards.assign(0)

    @contextmanager
    def measure(self) -> Iterator[dict[str, Any]]:
        """Measure the passes and wall time of the ``with`` block.

        Yields
        ------
        dict
            Filled when the block ends: ``seconds``, ``forwards``, ``backwards``.

        Examples
        --------
        >>> counted, counter = count_passes(model)  # doctest: +SKIP
        >>> with counter.measure() as cost:  # doctest: +SKIP
        ...     Saliency(counted)(images, labels)
        >>> cost["forwards"], cost["backwards"]  # doctest: +SKIP
        (8, 8)
        """
        result: dict[str, Any] = {}
        forwards, backwards = self.forwards, self.backwards
        start = time.perf_counter()
        try:
            yield result
        finally:
            result["seconds"] = time.perf_counter() - start
            result["forwards"] = self.forwards - forwards
            result["backwards"] = self.backwards - backwards

    def count(self, inputs: tf.Tensor) -> tf.Tensor:
        """``inputs`` unchanged; adds their batch size to ``forwards`` now and to ``backwards``
        when a gradient flows back through them."""
        return _counted_identity(inputs, self._forwards, self._backwards)

    def __repr__(self) -> str:
        return f"PassCounter(forwards={self.forwards}, backwards={self.backwards})"


def _batch(tensor: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.shape(tensor)[0], tf.int64)


def _counted_identity(inputs: tf.Tensor, forwards: tf.Variable, backwards: tf.Variable):
    @tf.custom_gradient
    def identity(x):
        with tf.control_dependencies([forwards.assign_add(_batch(x))]):
            y = tf.identity(x)

        def gradient(upstream):
            with tf.control_dependencies([backwards.assign_add(_batch(upstream))]):
                return tf.identity(upstream)

        return y, gradient

    return identity(inputs)


class CountingLayer(keras.layers.Layer):
    """Identity layer that counts the images (and gradients) going through it.

    A measuring device for :func:`count_passes`, not meant to be saved with a model (its
    counter is not part of its config).

    Parameters
    ----------
    counter
        The :class:`PassCounter` to add to.
    **kwargs
        Those of ``keras.layers.Layer`` (``name``...).
    """

    def __init__(self, counter: PassCounter, **kwargs: Any):
        super().__init__(autocast=False, **kwargs)
        if not isinstance(counter, PassCounter):
            raise TypeError(f"`counter` must be a PassCounter, got {type(counter).__name__}.")
        self._pass_counter = counter

    def call(self, inputs):
        return self._pass_counter.count(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


def _unique_name(model: keras.Model, base: str) -> str:
    taken = {layer.name for layer in model.layers} | {model.name}
    name, suffix = base, 1
    while name in taken:
        name, suffix = f"{base}_{suffix}", suffix + 1
    return name


def count_passes(model: keras.Model) -> tuple[keras.Model, PassCounter]:
    """``model`` behind a counting input layer, and its counter.

    The returned model computes exactly ``model`` (same weights, nothing copied, ``model`` is
    left as it is); ``model`` is nested in it, so its layers are reached as
    ``"<model.name>/<layer path>"`` (:func:`counted_layer`) or by a bare name unique in the
    nested tree. Everything that calls the returned model, or a model split from it at a layer
    (:func:`~xplique_lens.commons.model_splitting.split_model`,
    :func:`~xplique_lens.commons.model_splitting.layer_model`), adds to the counter.

    Parameters
    ----------
    model
        A built Keras model with one input (e.g. images ``(N, H, W, C)``).

    Returns
    -------
    counted
        The counting model; build explainers, metrics and CRAFT on it.
    counter
        Its :class:`PassCounter`.

    Raises
    ------
    TypeError
        If ``model`` is not a ``keras.Model``.
    ValueError
        If ``model`` is not built with one known input.

    Examples
    --------
    >>> counted, counter = count_passes(model)  # doctest: +SKIP
    >>> SobolAttributionMethod(counted, grid_size=8, nb_design=32)(images, labels)  # doctest: +SKIP
    >>> counter.forwards == len(images) * 32 * (8 * 8 + 1)  # doctest: +SKIP
    True
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    inputs = getattr(model, "inputs", None) if model.built else None
    if not inputs or len(inputs) != 1:
        found = "no known input" if not inputs else f"{len(inputs)} inputs"
        raise ValueError(
            f"`model` must be built with exactly one known input (keras.Input) to count its "
            f"passes, got {found}."
        )
    counter = PassCounter()
    spec = inputs[0]
    image = keras.Input(batch_shape=spec.shape, dtype=spec.dtype, name="counted_input")
    layer = CountingLayer(counter, name=_unique_name(model, "pass_counter"))
    counted = keras.Model(image, model(layer(image)), name=f"{model.name}_counted")
    return counted, counter


def counted_layer(model: keras.Model, layer: LayerSpec) -> str:
    """The path, in ``count_passes(model)[0]``, of ``layer`` of ``model``.

    Parameters
    ----------
    model
        The model given to :func:`count_passes`.
    layer
        A layer of ``model``: index, name, path or bare name (see
        :func:`~xplique_lens.commons.model_splitting.find_layer`).

    Returns
    -------
    str
        ``"<model.name>/<path of layer in model>"``.
    """
    return model.name + SEPARATOR + layer_path(model, layer)


@dataclass(frozen=True)
class StageCost:
    """Cost of one computation: wall time and passes of images through the model.

    Parameters
    ----------
    seconds
        Wall time.
    forwards
        Images fed to the model's input (see :mod:`xplique_lens.commons.cost`); ``None`` when
        not counted.
    backwards
        Gradients propagated back to the input images; ``None`` when not counted.
    """

    seconds: float
    forwards: int | None = None
    backwards: int | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (``seconds`` rounded to the millisecond)."""
        values = asdict(self)
        values["seconds"] = round(float(self.seconds), 3)
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> StageCost:
        """The cost written by :meth:`to_json`.

        Raises
        ------
        ValueError
            If ``values`` has no ``seconds`` or holds unknown keys.
        """
        if not isinstance(values, dict) or "seconds" not in values:
            raise ValueError(f"a stage cost needs at least 'seconds', got {values!r}.")
        unknown = set(values) - {"seconds", "forwards", "backwards"}
        if unknown:
            raise ValueError(f"unknown stage cost field(s) {sorted(unknown)} in {values!r}.")

        def count(name: str) -> int | None:
            value = values.get(name)
            return None if value is None else int(value)

        return cls(float(values["seconds"]), count("forwards"), count("backwards"))
