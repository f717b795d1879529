"""Argument checks that raise clear ``ValueError`` / ``TypeError`` (never ``assert``).

Shared vocabulary of the package:

- ``seed`` (numpy / scikit-learn meaning): an int gives reproducible results, ``None`` draws
  fresh, non-reproducible randomness; classes reproducible by default take ``seed=0``.
- ``verbose``: the progress flag, an argument of the call that does the long work (or of the
  constructor where Xplique's drop-in class has it there); quiet by default. The former name
  ``progress=`` is accepted with a ``DeprecationWarning`` (:func:`resolve_verbose`).
"""

from __future__ import annotations

import math
import numbers
import warnings
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


def check_seed(seed: Any, name: str = "seed", minimum: int | None = None) -> int | None:
    """``seed`` as an int, or ``None`` (fresh randomness); anything else raises ``TypeError``.

    ``minimum`` bounds the int (``0`` where the seed feeds numpy, whose seeds are >= 0).
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`{name}` must be an int or None, got {seed!r}.")
    if minimum is not None and seed < minimum:
        raise ValueError(f"`{name}` must be None or an integer >= {minimum}, got {seed}.")
    return int(seed)


def resolve_seed(seed: int | None) -> int:
    """An int seed for TensorFlow's stateless ops: ``seed`` itself, or a fresh random one when
    ``None`` (drawn from the operating system's entropy, as ``np.random.default_rng()``)."""
    seed = check_seed(seed)
    if seed is None:
        return int(np.random.default_rng().integers(0, 2**31 - 1))
    return seed


def check_real(
    value: Any,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
) -> float:
    """``value`` as a finite float, optionally bounded; raises naming ``name`` otherwise.

    Parameters
    ----------
    value
        The user's setting.
    name
        Argument name quoted in the error.
    minimum, maximum
        Inclusive bounds (``None``: unbounded).
    strict
        Make ``minimum`` exclusive (``value > minimum``).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a real number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number, got {value}.")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        expected = f"> {minimum}" if strict else f">= {minimum}"
        raise ValueError(f"`{name}` must be {expected}, got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be <= {maximum}, got {value}.")
    return value


def check_flag(value: Any, name: str) -> bool:
    """``value`` must be ``True`` or ``False`` (numpy booleans included)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


def check_verbose(verbose: Any, name: str = "verbose") -> bool:
    """``verbose`` as a bool: a bool, or 0 / 1 as Keras users write it."""
    if isinstance(verbose, bool | np.bool_) or (
        isinstance(verbose, int | np.integer) and verbose in (0, 1)
    ):
        return bool(verbose)
    raise TypeError(f"`{name}` must be a bool, got {verbose!r} ({type(verbose).__name__}).")


def resolve_verbose(verbose: Any, progress: Any, where: str, stacklevel: int = 3) -> bool:
    """``verbose`` as a bool, honouring ``progress``, its former name, in the call ``where``.

    ``progress`` is ``None`` when not given; given, it warns (``DeprecationWarning``) and
    replaces ``verbose``. Both given (``verbose`` true) is a ``TypeError``.
    """
    if progress is not None:
        if verbose:
            raise TypeError(f"`{where}`: give `verbose` only; `progress` is its deprecated alias.")
        warnings.warn(
            f"`{where}(..., progress=...)` is deprecated: use `verbose` (same meaning).",
            DeprecationWarning,
            stacklevel=stacklevel,
        )
        verbose = progress
    return check_verbose(verbose)
