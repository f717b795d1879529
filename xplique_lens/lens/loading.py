"""Read what ``xplique-lens build`` is given, one class at a time: image folders, ``.npz``/``.npy``.

A Lens build only ever needs the images of the class it is building, so the sources here are
*lazy*: :func:`open_images` lists what a folder or file holds (labels, class names, shapes) and
decodes the pixels of a class only when :meth:`ImageSource.read` asks for them. Peak memory is
then that of one class (``images_per_class`` images), whatever the size of the dataset
(``benchmarks/bench_lens_memory.py`` measures it).

- A folder ``DIR/<class name>/*.png`` (or ``.jpg``, ``.jpeg``, ``.bmp``, ``.gif``): the labels
  follow the sorted sub-folder names, which are the class names; only the files of the images
  used are decoded, resized to the model's input size and scaled to ``values_range``.
- An ``.npz`` with ``images`` ``(N, H, W, C)`` and optionally ``labels`` ``(N,)`` (or one-hot)
  and ``class_names``: ``labels`` is read first, then only the rows of one class. An
  uncompressed archive (``np.savez``) is memory-mapped; a compressed one (``np.savez_compressed``)
  cannot be, so its ``images`` member is streamed (decompressed from the start up to the last
  row needed, in bounded memory: time grows with the classes, memory does not). Save with
  ``np.savez`` (or a ``.npy``) for large datasets.
- An ``.npy`` of images ``(N, H, W, C)``: memory-mapped; no labels, so the build groups the
  images by the model's predicted class (one pass over the images, in batches).

Float images are taken to be in ``values_range`` already; integer images (``uint8``) are pixel
values in [0, 255], scaled to ``values_range``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..commons.preprocessing import check_values_range
from .image_source import ImageSource, check_indices, check_labels, to_values_range
from .npz_images import NpzImages

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

__all__ = [
    "ArrayImages",
    "FolderImages",
    "ImageSource",
    "NpzImages",
    "load_images",
    "open_images",
    "read_class_names",
    "to_values_range",
]


class ArrayImages(ImageSource):
    """Images already in memory (what :func:`build_lens` wraps arrays and datasets in).

    Parameters
    ----------
    images
        ``(N, H, W, C)`` float images in the model's value range.
    labels
        ``(N,)`` integer labels (or one-hot ``(N, C)``), or ``None``.
    class_names
        Optional class names.
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: Any = None,
        class_names: Sequence[str] | None = None,
    ):
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(f"`images` must have shape (N, H, W, C), got {images.shape}.")
        self._images = images
        self._labels = None if labels is None else check_labels(labels, len(images), "images")
        self.class_names = None if class_names is None else [str(n) for n in class_names]

    def __len__(self) -> int:
        return len(self._images)

    def labels(self) -> np.ndarray | None:
        return self._labels

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        indices = check_indices(indices, len(self))
        return np.asarray(self._images[indices], dtype=np.float32)


class FolderImages(ImageSource):
    """A folder ``DIR/<class name>/<image files>``: files listed now, decoded when read.

    Parameters
    ----------
    root
        The folder; each sub-folder (sorted by name) is a class.
    image_size
        ``(height, width)`` the images are resized to (the model's input size); ``None``
        requires all images read together to have the same size.
    values_range
        Range the pixels are scaled to (e.g. ``(0, 255)`` for a model that expects 0-255).
    channels
        Colour channels to decode (3: RGB, 1: grayscale).
    """

    def __init__(
        self,
        root: str | Path,
        image_size: tuple[int, int] | None = None,
        values_range: Sequence[float] = (0.0, 1.0),
        channels: int = 3,
    ):
        root = Path(root)
        if not root.is_dir():
            raise ValueError(f"`images` must be a folder of class folders, got {root}.")
        if channels not in (1, 3, 4):
            raise ValueError(f"`channels` must be 1, 3 or 4, got {channels!r}.")
        class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
        if not class_dirs:
            raise ValueError(f"{root} holds no class sub-folders (expected DIR/<class>/*.png).")
        files, labels = [], []
        for label, folder in enumerate(class_dirs):
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    files.append(file)
                    labels.append(label)
        if not files:
            raise ValueError(f"No image files ({', '.join(IMAGE_SUFFIXES)}) found under {root}.")
        self.root = root
        self.files = files
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        self.values_range = check_values_range(values_range)
        self.channels = channels
        self.class_names = [p.name for p in class_dirs]
        self._labels = np.asarray(labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.files)

    def labels(self) -> np.ndarray:
        return self._labels

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        import tensorflow as tf

        indices = check_indices(indices, len(self))
        images = []
        for i in indices:
            data = self.files[i].read_bytes()
            image = tf.io.decode_image(data, channels=self.channels, expand_animations=False)
            image = to_values_range(image.numpy()[None], self.values_range, self.image_size)
            images.append(image[0])
        if not images:
            return np.zeros((0, *(self.image_size or (0, 0)), self.channels), np.float32)
        shapes = {image.shape for image in images}
        if len(shapes) > 1:
            raise ValueError(
                f"images under {self.root} have different sizes {sorted(shapes)}; give "
                f"`image_size` (the model's input size) to resize them."
            )
        return np.stack(images)


def open_images(
    source: str | Path,
    image_size: tuple[int, int] | None = None,
    values_range: Sequence[float] = (0.0, 1.0),
    channels: int = 3,
) -> ImageSource:
    """A lazy :class:`ImageSource` over a folder of class folders, an ``.npz`` or an ``.npy``.

    Parameters
    ----------
    source
        ``DIR`` with ``DIR/<class name>/*.png``, or an ``.npz`` / ``.npy`` file (see the module
        docstring for what they hold and how they are read).
    image_size
        ``(height, width)`` of the model's input: images are resized to it.
    values_range
        Range of the model's inputs: decoded pixels and integer arrays are scaled to it.
    channels
        Channels to decode from image files.

    Returns
    -------
    ImageSource
        Nothing is decoded yet: images are read class by class by the build.
    """
    path = Path(source)
    if path.is_dir():
        return FolderImages(path, image_size, values_range, channels)
    if path.is_file() and path.suffix in (".npz", ".npy"):
        return NpzImages(path, values_range, image_size)
    raise ValueError(
        f"`images` must be a folder of class folders, an .npz or an .npy file, got {source}."
    )


def load_images(
    source: str | Path,
    image_size: tuple[int, int] | None = None,
    values_range: Sequence[float] = (0.0, 1.0),
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Load ``(images, labels, class_names)`` from a folder or an ``.npz`` file, all at once.

    Eager version of :func:`open_images` (all images in memory): prefer ``open_images`` for
    large datasets; ``build_lens`` accepts its result directly.
    """
    images = open_images(source, image_size, values_range)
    return images.read(np.arange(len(images))), images.labels(), images.class_names


def read_class_names(path: str | Path) -> list[str]:
    """One class name per line (blank lines ignored)."""
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
