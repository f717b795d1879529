"""Objectives for feature visualization, with an algebra that means what it says.

An :class:`Objective` is a weighted sum of *terms*; each term reads one layer and holds one or
several targets (neurons, channels, directions). As in Xplique, the targets of different terms
are combined by cartesian product: ``Objective.channel(m, "c", [0, 1]) + Objective.neuron(m,
"logits", [2, 3, 4])`` is a batch of 2 x 3 = 6 objectives, all optimised together, one image
each, in one compiled step.

The algebra is exact and never mutates its operands: ``a + b`` is the sum of the two objective
values, ``a - b`` their difference, ``k * a`` the objective scaled by ``k``. (Xplique 2.0.2
multiplies the *running total* by each multiplier, so ``a + 3 * b`` optimises ``3 * (a + b)``,
and its ``*`` / ``-`` modify the operands in place.)

Values are the natural ones: a neuron objective is the neuron's activation, a channel objective
the spatial mean of the channel, a layer objective the mean of the layer (or of its square), a
direction objective ``dot(a, v) * max(cos(a, v), 0.1) ** cossim_pow`` (Fel et al. 2023, MACO;
Olah et al. 2017) averaged over positions. Xplique averages the neuron and channel masks over
the whole layer, which rescales each term by the layer size and makes sums of terms on different
layers meaningless.
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import keras
import numpy as np
import tensorflow as tf

from ..commons.model_splitting import find_layer, layer_model

_KINDS = ("neuron", "channel", "layer_mean", "layer_magnitude", "direction")


@dataclass(frozen=True)
class _Term:
    """One layer, one kind of reduction, ``n`` targets (rows of ``masks``), one multiplier."""

    layer: keras.layers.Layer
    kind: str
    masks: np.ndarray  # (n, *target_shape) float32
    multiplier: float
    names: tuple[str, ...]
    cossim_pow: float = 2.0


def _as_id_list(ids, name: str) -> list:
    if isinstance(ids, numbers.Integral) and not isinstance(ids, bool):
        return [int(ids)]
    if isinstance(ids, np.ndarray):
        ids = ids.tolist()
    if isinstance(ids, tuple) and ids and all(isinstance(i, numbers.Integral) for i in ids):
        # a tuple of ints is one multi-dimensional index for neurons, kept as is by callers
        return [ids]
    if not isinstance(ids, list | tuple) or len(ids) == 0:
        raise TypeError(f"`{name}` must be an int or a non-empty list of ints, got {ids!r}.")
    return list(ids)


def _names(names, default: list[str], name: str = "names") -> tuple[str, ...]:
    if names is None:
        return tuple(default)
    names = [names] if isinstance(names, str) else list(names)
    if len(names) != len(default):
        raise ValueError(f"`{name}` must give {len(default)} names, got {len(names)}: {names}.")
    return tuple(str(n) for n in names)


def _layer_shape(layer: keras.layers.Layer) -> tuple[int, ...]:
    shape = tuple(layer.output.shape[1:])
    if any(d is None for d in shape):
        raise ValueError(
            f"Layer {layer.name!r} has an undefined output shape {shape}; feature visualization "
            "needs a model with a fixed input size."
        )
    return shape


def _check_multiplier(multiplier) -> float:
    if isinstance(multiplier, bool) or not isinstance(multiplier, numbers.Real):
        raise TypeError(f"`multiplier` must be a real number, got {multiplier!r}.")
    return float(multiplier)


class Objective:
    """A (batch of) feature-visualization objective(s) on a Keras model.

    Build objectives with the constructors :meth:`neuron`, :meth:`channel`, :meth:`layer`,
    :meth:`direction` and :meth:`class_logit`, and combine them with ``+``, ``-``, ``*``. Every
    constructor takes its ``layer`` in any form of :func:`~xplique_lens.commons.find_layer`,
    including the layers of a nested base model (``"mobilenetv2_1.00_224/out_relu"`` or
    ``"out_relu"`` in ``Sequential([preprocessing, base, pooling, Dense])``).

    Parameters
    ----------
    model
        The Keras 3 model (built, fixed input size).
    terms
        Internal list of terms; use the constructors.

    References
    ----------
    Fel et al. (2023). *Unlocking Feature Visualization for Deeper Networks with MAgnitude
    Constrained Optimization.* NeurIPS. https://arxiv.org/abs/2306.06805
    """

    def __init__(self, model: keras.Model, terms: Sequence[_Term]):
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
        self.model = model
        self.terms = tuple(terms)

    # ------------------------------------------------------------------ constructors
    @staticmethod
    def neuron(
        model: keras.Model,
        layer: str | int,
        neurons_ids: int | list[int],
        multiplier: float = 1.0,
        names: str | list[str] | None = None,
    ) -> Objective:
        """Maximise neuron(s) of a layer; one objective per neuron.

        Parameters
        ----------
        model
            Keras model.
        layer
            Index or name of a top-level layer, a path through nested models
            (``"base/name"``), or a bare name unique in the nested tree (see
            :func:`~xplique_lens.commons.find_layer`).
        neurons_ids
            Index (flat, or a tuple over the layer's shape) or list of indices.
        multiplier
            Scale of the objective.
        names
            One name per neuron.
        """
        return _neuron(model, layer, neurons_ids, multiplier, names)

    @staticmethod
    def class_logit(
        model: keras.Model,
        class_ids: int | list[int],
        layer: str | int = -1,
        multiplier: float = 1.0,
        names: str | list[str] | None = None,
    ) -> Objective:
        """Maximise class logit(s): a neuron objective on the output layer (``layer=-1``).

        Point ``layer`` at the pre-softmax layer if the model ends with a softmax: optimising a
        probability mostly lowers the other classes.
        """
        layer_obj = find_layer(model, layer)
        ids = _as_id_list(class_ids, "class_ids")
        default = [f"Logit#{layer_obj.name}_{i}" for i in ids]
        return _neuron(model, layer, ids, multiplier, _names(names, default))

    @staticmethod
    def channel(
        model: keras.Model,
        layer: str | int,
        channel_ids: int | list[int],
        multiplier: float = 1.0,
        names: str | list[str] | None = None,
    ) -> Objective:
        """Maximise the spatial mean of channel(s) of a layer; one objective per channel."""
        layer = find_layer(model, layer)
        shape = _layer_shape(layer)
        ids = _as_id_list(channel_ids, "channel_ids")
        masks = np.zeros((len(ids), *shape), np.float32)
        for row, channel in enumerate(ids):
            if isinstance(channel, bool) or not isinstance(channel, numbers.Integral):
                raise TypeError(f"`channel_ids` must hold ints, got {channel!r}.")
            if not -shape[-1] <= channel < shape[-1]:
                raise ValueError(
                    f"`channel_ids` {channel} is out of range for layer {layer.name!r} with "
                    f"{shape[-1]} channels."
                )
            masks[row, ..., channel] = 1.0
        default = [f"Channel#{layer.name}_{i}" for i in ids]
        term = _Term(layer, "channel", masks, _check_multiplier(multiplier), _names(names, default))
        return Objective(model, [term])

    @staticmethod
    def layer(
        model: keras.Model,
        layer: str | int,
        reducer: str = "magnitude",
        multiplier: float = 1.0,
        name: str | None = None,
    ) -> Objective:
        """Maximise a whole layer: the mean of its squares (``"magnitude"``) or its ``"mean"``."""
        layer = find_layer(model, layer)
        shape = _layer_shape(layer)
        if reducer not in ("magnitude", "mean"):
            raise ValueError(f"`reducer` must be 'magnitude' or 'mean', got {reducer!r}.")
        kind = "layer_magnitude" if reducer == "magnitude" else "layer_mean"
        names = _names(name, [f"Layer#{layer.name}"], "name")
        term = _Term(
            layer, kind, np.ones((1, *shape), np.float32), _check_multiplier(multiplier), names
        )
        return Objective(model, [term])

    @staticmethod
    def direction(
        model: keras.Model,
        layer: str | int,
        vectors,
        multiplier: float = 1.0,
        cossim_pow: float = 2.0,
        names: str | list[str] | None = None,
    ) -> Objective:
        """Maximise ``dot(a, v) * max(cos(a, v), 0.1) ** cossim_pow`` for direction(s) ``v``.

        Parameters
        ----------
        vectors
            A vector or a list / array of vectors (one objective each). A vector of the size of
            the channel axis is applied at every position of a spatial layer and the values are
            averaged (e.g. a CRAFT concept); a vector of the layer's full shape is applied to
            the flattened layer.
        cossim_pow
            Power of the cosine: higher values care more about the angle.
        """
        layer = find_layer(model, layer)
        shape = _layer_shape(layer)
        if isinstance(vectors, list | tuple):
            vectors = np.stack([np.asarray(v, np.float32) for v in vectors])
        else:
            vectors = np.asarray(vectors, np.float32)
            if vectors.shape in ((shape[-1],), shape):
                vectors = vectors[None]
        if vectors.shape[1:] not in ((shape[-1],), shape):
            raise ValueError(
                f"`vectors` must have shape ({shape[-1]},) or {shape} (or a batch of them) for "
                f"layer {layer.name!r}, got {vectors.shape}."
            )
        if not np.all(np.isfinite(vectors)):
            raise ValueError("`vectors` contains NaN or inf values.")
        default = [f"Direction#{layer.name}_{i}" for i in range(len(vectors))]
        term = _Term(
            layer,
            "direction",
            vectors,
            _check_multiplier(multiplier),
            _names(names, default),
            float(cossim_pow),
        )
        return Objective(model, [term])

    # ------------------------------------------------------------------ algebra
    def _check_other(self, other) -> Objective:
        if not isinstance(other, Objective):
            raise TypeError(f"Can only combine an Objective with an Objective, got {other!r}.")
        if other.model is not self.model:
            raise ValueError("Cannot combine objectives defined on two different models.")
        return other

    def __add__(self, other: Objective) -> Objective:
        other = self._check_other(other)
        return Objective(self.model, self.terms + other.terms)

    def __sub__(self, other: Objective) -> Objective:
        return self + (-1.0) * self._check_other(other)

    def __neg__(self) -> Objective:
        return (-1.0) * self

    def __mul__(self, factor: float) -> Objective:
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real):
            return NotImplemented
        terms = [replace(t, multiplier=t.multiplier * float(factor)) for t in self.terms]
        return Objective(self.model, terms)

    __rmul__ = __mul__

    def __truediv__(self, factor: float) -> Objective:
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or factor == 0:
            raise TypeError(f"Can only divide an Objective by a non-zero number, got {factor!r}.")
        return self * (1.0 / float(factor))

    # ------------------------------------------------------------------ batch structure
    @property
    def nb_objectives(self) -> int:
        """Number of objectives in the batch (product of the number of targets of each term)."""
        return int(np.prod([len(t.masks) for t in self.terms]))

    @property
    def names(self) -> list[str]:
        """Name of each objective of the batch (term names joined with ``" & "``)."""
        return [" & ".join(c) for c in itertools.product(*[t.names for t in self.terms])]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """``(H, W, C)`` of the model input."""
        shape = tuple(self.model.inputs[0].shape[1:])
        if len(shape) != 3 or any(d is None for d in shape):
            raise ValueError(f"Feature visualization needs (H, W, C) image inputs, got {shape}.")
        return shape

    def __repr__(self) -> str:
        terms = " + ".join(
            f"{t.multiplier:g} * {t.kind}({t.layer.name}, n={len(t.masks)})" for t in self.terms
        )
        return f"Objective({terms})"

    def structure(self) -> tuple:
        """Everything the compiled scoring depends on except the target values (a cache key).

        Two objectives of one model with the same structure (e.g. the logits of two classes)
        differ only by :meth:`target_masks`, which compiled code takes as inputs.
        """
        return tuple(
            (t.layer, t.kind, t.masks.shape, t.multiplier, t.cossim_pow) for t in self.terms
        )

    def target_masks(self) -> list[np.ndarray]:
        """The targets of each term, one row per objective of the batch (float32 arrays)."""
        combos = np.array(list(itertools.product(*[range(len(t.masks)) for t in self.terms])))
        combos = combos.reshape(len(combos), len(self.terms))
        return [t.masks[combos[:, i]].astype(np.float32) for i, t in enumerate(self.terms)]

    def build_parametric(
        self,
    ) -> tuple[keras.Model, Callable[[list[tf.Tensor], list[tf.Tensor]], tf.Tensor]]:
        """Like :meth:`build`, with the targets as an input: ``scores(outputs, masks)``.

        ``masks`` is :meth:`target_masks` (or the masks of any objective of the same
        :meth:`structure`), so one compiled function serves all of them.
        """
        layers: list[keras.layers.Layer] = []
        for term in self.terms:
            if all(term.layer is not seen for seen in layers):
                layers.append(term.layer)
        layer_index = [next(i for i, s in enumerate(layers) if s is t.layer) for t in self.terms]
        nb_objectives = self.nb_objectives
        # layers of nested models (a keras.applications base) are rewired from the model input
        feature_model = layer_model(self.model, layers)
        terms = self.terms

        def scores(outputs: list[tf.Tensor], masks: list[tf.Tensor]) -> tf.Tensor:
            if not isinstance(outputs, list | tuple):
                outputs = [outputs]
            total = 0.0
            for term, index, mask in zip(terms, layer_index, masks):
                activations = tf.cast(outputs[index], tf.float32)
                shape = tf.concat([[nb_objectives, -1], tf.shape(activations)[1:]], axis=0)
                activations = tf.reshape(activations, shape)  # (B, K, *S)
                total += term.multiplier * _term_value(term, activations, mask[:, None])
            return total

        return feature_model, scores

    def build(self) -> tuple[keras.Model, Callable[[list[tf.Tensor]], tf.Tensor]]:
        """Compile the objective into a feature model and a batched scoring function.

        Returns
        -------
        feature_model
            ``keras.Model`` mapping the model input to the list of the needed layer outputs.
        scores
            ``scores(outputs) -> (B, K)``: for outputs of ``B * K`` samples ordered objective
            by objective (``K`` samples per objective, e.g. crops), the value of objective ``b``
            on each of its samples.
        """
        feature_model, scores = self.build_parametric()
        masks = [tf.constant(m) for m in self.target_masks()]
        return feature_model, lambda outputs: scores(outputs, masks)

    def evaluate(self, inputs) -> np.ndarray:
        """Value of each objective on each input: ``(nb_objectives, N)`` numpy array.

        Parameters
        ----------
        inputs
            ``(N, H, W, C)`` images at the model's input size.
        """
        inputs = tf.cast(tf.convert_to_tensor(inputs), tf.float32)
        if inputs.shape.rank != 4 or tuple(inputs.shape[1:]) != self.input_shape:
            raise ValueError(
                f"`inputs` must have shape (N, *{self.input_shape}), got {tuple(inputs.shape)}."
            )
        feature_model, scores = self.build()
        outputs = feature_model(inputs, training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        tiled = [
            tf.tile(o, tf.concat([[self.nb_objectives], tf.ones_like(tf.shape(o)[1:])], 0))
            for o in outputs
        ]
        return scores(tiled).numpy()


def _term_value(term: _Term, activations: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Value ``(B, K)`` of one term on activations ``(B, K, *S)`` with targets ``(B, 1, ...)``."""
    axes = list(range(2, activations.shape.rank))
    if term.kind == "neuron":
        return tf.reduce_sum(activations * mask, axis=axes)
    if term.kind == "channel":
        return tf.reduce_sum(activations * mask, axis=axes) / tf.reduce_sum(mask, axis=axes)
    if term.kind == "layer_mean":
        return tf.reduce_mean(activations, axis=axes)
    if term.kind == "layer_magnitude":
        return tf.reduce_mean(tf.square(activations), axis=axes)
    # direction: per position when the vector spans the channels, else over the whole layer
    vector_rank = mask.shape.rank - 2
    if vector_rank == 1 and activations.shape.rank > 3:
        flat_a = tf.reshape(
            activations, tf.concat([tf.shape(activations)[:2], [-1, tf.shape(activations)[-1]]], 0)
        )
        flat_v = mask[:, :, None, :]
    else:
        flat_a = tf.reshape(activations, tf.concat([tf.shape(activations)[:2], [1, -1]], 0))
        flat_v = tf.reshape(mask, tf.concat([tf.shape(mask)[:2], [1, -1]], 0))
    dot = tf.reduce_sum(flat_a * flat_v, axis=-1)
    norms = tf.norm(flat_a, axis=-1) * tf.norm(flat_v, axis=-1)
    cosine = dot / (norms + 1e-8)
    value = dot * tf.maximum(cosine, 0.1) ** term.cossim_pow
    return tf.reduce_mean(value, axis=-1)


def _neuron(model, layer, neurons_ids, multiplier, names) -> Objective:
    layer = find_layer(model, layer)
    shape = _layer_shape(layer)
    size = int(np.prod(shape))
    ids = _as_id_list(neurons_ids, "neurons_ids")
    masks = np.zeros((len(ids), size), np.float32)
    for row, neuron in enumerate(ids):
        flat = int(np.ravel_multi_index(neuron, shape)) if isinstance(neuron, tuple) else neuron
        if isinstance(flat, bool) or not isinstance(flat, numbers.Integral):
            raise TypeError(f"`neurons_ids` must hold ints, got {neuron!r}.")
        if not -size <= flat < size:
            raise ValueError(
                f"`neurons_ids` {neuron} is out of range for layer {layer.name!r} of {size} units."
            )
        masks[row, flat] = 1.0
    masks = masks.reshape((len(ids), *shape))
    default = [f"Neuron#{layer.name}_{i}" for i in ids]
    term = _Term(layer, "neuron", masks, _check_multiplier(multiplier), _names(names, default))
    return Objective(model, [term])
