"""The lazy image source a Lens build reads class by class, and the scaling of its pixels."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..commons.preprocessing import check_values_range


class ImageSource(abc.ABC):
    """Images that a Lens build reads class by class (never all at once).

    Subclasses give the number of images, their labels when known without the model, and the
    images at given indices. :func:`~xplique_lens.lens.build_lens` accepts any ``ImageSource``
    in place of an array.

    Attributes
    ----------
    class_names
        Names of the classes when the source knows them (folder names, ``class_names`` of an
        ``.npz``), else ``None``.
    """

    class_names: list[str] | None = None

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of images."""

    @abc.abstractmethod
    def labels(self) -> np.ndarray | None:
        """Integer label of every image ``(N,)``, or ``None`` if only the model can tell."""

    @abc.abstractmethod
    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The images at ``indices`` (increasing), float32 ``(n, H, W, C)``."""

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """All images in order, ``batch_size`` at a time (for one pass of the model)."""
        for start in range(0, len(self), batch_size):
            yield self.read(np.arange(start, min(start + batch_size, len(self))))


def check_indices(indices: Sequence[int] | np.ndarray, size: int) -> np.ndarray:
    """``indices`` as a flat int64 array, or ``IndexError`` if one is outside ``[0, size)``."""
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(indices) and (indices.min() < 0 or indices.max() >= size):
        raise IndexError(
            f"image indices must lie in [0, {size}), got [{indices.min()}, {indices.max()}]."
        )
    if np.any(np.diff(indices) <= 0):
        raise ValueError("image indices must be strictly increasing.")
    return indices


def check_labels(labels: Any, size: int, source: object) -> np.ndarray:
    """Integer labels (one-hot decoded) of the ``size`` images of ``source``, or raise."""
    labels = np.asarray(labels)
    if labels.ndim == 2:  # one-hot
        labels = labels.argmax(-1)
    if labels.ndim != 1 or len(labels) != size:
        raise ValueError(
            f"`labels` of {source} must hold one integer per image ({size}), got shape "
            f"{labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.number):
        raise TypeError(f"`labels` of {source} must be integers, got dtype {labels.dtype}.")
    return labels.astype(np.int64)


def to_values_range(
    images: np.ndarray,
    values_range: Sequence[float] = (0.0, 1.0),
    image_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Float32 images in ``values_range``: integers are 0-255 pixels, floats are kept as they are.

    Parameters
    ----------
    images
        ``(n, H, W, C)`` images, integer (pixels in [0, 255]) or float (already in range).
    values_range
        ``(low, high)`` of the model's inputs.
    image_size
        ``(height, width)`` to resize to (antialiased bilinear), or ``None``.

    Returns
    -------
    np.ndarray
        A new float32 array (``images`` is not modified).
    """
    low, high = check_values_range(values_range)
    images = np.asarray(images)
    if not np.issubdtype(images.dtype, np.number):
        raise TypeError(f"images must be numbers (uint8 pixels or floats), got {images.dtype}.")
    out = images.astype(np.float32)  # a copy, even for float32: scaled in place below
    if np.issubdtype(images.dtype, np.integer):
        out *= np.float32((high - low) / 255.0)
        out += np.float32(low)
    if image_size is not None and tuple(out.shape[1:3]) != tuple(image_size):
        import tensorflow as tf

        out = tf.image.resize(out, image_size, antialias=True).numpy()
    return out
