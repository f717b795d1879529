"""Argument checks that raise clear ``ValueError`` / ``TypeError`` (never ``assert``)."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import tensorflow as tf


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value}.")
    return int(value)


def check_batch_size(batch_size: Any, name: str = "batch_size") -> int | None:
    """``None`` (everything at once) or a positive integer."""
    if batch_size is None:
        return None
    return check_positive_int(batch_size, name)


def check_power_of_two(value: Any, name: str) -> int:
    """Positive integer that is a power of two (QMC designs need it)."""
    value = check_positive_int(value, name)
    if value & (value - 1):
        raise ValueError(f"`{name}` must be a power of two (e.g. 16, 32, 64), got {value}.")
    return value


def check_finite(tensor: tf.Tensor, name: str) -> None:
    """Raise if ``tensor`` holds NaN or inf (a silent wrong answer otherwise)."""
    if tensor.dtype.is_floating and not bool(tf.reduce_all(tf.math.is_finite(tensor))):
        raise ValueError(f"`{name}` contains NaN or inf values; expected finite numbers.")


def check_choice(value: Any, name: str, choices: tuple | list) -> Any:
    """``value`` must be one of ``choices``."""
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}, got {value!r}.")
    return value


def to_float_tensor(array: Any, name: str) -> tf.Tensor:
    """Convert a numpy array / tensor of real numbers to a float32 tensor (copy, never in place).

    Raises a ``TypeError`` for non-numeric or non-float data such as ``uint8`` images: those
    need an explicit scaling the library cannot guess.
    """
    if isinstance(array, tf.Tensor | tf.Variable):
        dtype = array.dtype
    else:
        array = np.asarray(array)
        if array.dtype == object or not np.issubdtype(array.dtype, np.number):
            raise TypeError(f"`{name}` must be a numeric array or tensor, got dtype {array.dtype}.")
        dtype = tf.as_dtype(array.dtype)
    if not dtype.is_floating:
        raise TypeError(
            f"`{name}` must hold floating point values (e.g. images scaled to [0, 1]), got "
            f"dtype {dtype.name}; convert it first, e.g. `images.astype('float32') / 255`."
        )
    return tf.cast(tf.convert_to_tensor(array), tf.float32)


class NotFittedError(ValueError, AttributeError):
    """Raised when an estimator (extractor, Craft, experiment) is used before ``fit``.

    A ``ValueError`` and an ``AttributeError``, as scikit-learn's, so both ``except`` clauses
    users already write keep working.
    """


def check_is_fitted(estimator: Any, attributes: str | tuple[str, ...], hint: str = "fit") -> None:
    """Raise :class:`NotFittedError` unless ``estimator`` has every learned attribute named.

    The public check shared by every family (scikit-learn's ``check_is_fitted`` idea): learned
    state ends in ``_`` and exists only after fitting.

    Parameters
    ----------
    estimator
        The object to check.
    attributes
        Name(s) of learned attributes that exist once fitted, e.g. ``"concept_bank_"``.
    hint
        The call that fits it, quoted in the message (``"fit(inputs, class_id)"``).
    """
    names = (attributes,) if isinstance(attributes, str) else tuple(attributes)
    missing = [name for name in names if not hasattr(estimator, name)]
    if missing:
        raise NotFittedError(
            f"This {type(estimator).__name__} is not fitted yet (no {', '.join(missing)}): "
            f"call `{hint}` first."
        )
