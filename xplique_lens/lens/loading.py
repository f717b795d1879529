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

import abc
import struct
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..commons.preprocessing import check_values_range

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

#: Bytes decompressed at a time when streaming a compressed ``.npz`` member.
_STREAM_CHUNK = 16 << 20


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


def _check_indices(indices: Sequence[int] | np.ndarray, size: int) -> np.ndarray:
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(indices) and (indices.min() < 0 or indices.max() >= size):
        raise IndexError(
            f"image indices must lie in [0, {size}), got [{indices.min()}, {indices.max()}]."
        )
    if np.any(np.diff(indices) <= 0):
        raise ValueError("image indices must be strictly increasing.")
    return indices


def _check_labels(labels: Any, size: int, source: object) -> np.ndarray:
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
        self._labels = None if labels is None else _check_labels(labels, len(images), "images")
        self.class_names = None if class_names is None else [str(n) for n in class_names]

    def __len__(self) -> int:
        return len(self._images)

    def labels(self) -> np.ndarray | None:
        return self._labels

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        indices = _check_indices(indices, len(self))
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

        indices = _check_indices(indices, len(self))
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


class _ArrayFile:
    """Where the rows of a ``.npy`` array lie in a file (or in a member of a zip archive)."""

    def __init__(self, shape, fortran_order, dtype, offset):
        self.shape, self.fortran_order, self.dtype, self.offset = (
            shape,
            fortran_order,
            dtype,
            offset,
        )

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize


def _read_npy_header(file) -> tuple[tuple[int, ...], bool, np.dtype] | None:
    """``(shape, fortran_order, dtype)`` of the ``.npy`` data at the file's position, or None."""
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(file)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(file)
    return None  # format 3.0 (unicode field names): read with np.load


def _zip_member_data_offset(path: Path, info: zipfile.ZipInfo) -> int:
    """Offset in the archive file of a stored (uncompressed) member's first byte."""
    with open(path, "rb") as file:
        file.seek(info.header_offset)
        header = file.read(30)
    if header[:4] != b"PK\x03\x04":
        raise ValueError(f"{path} is not a valid zip archive (bad local header).")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_length + extra_length


class NpzImages(ImageSource):
    """The ``images`` of an ``.npz`` (and its ``labels``, ``class_names``), or of an ``.npy``.

    Uncompressed archives and ``.npy`` files are memory-mapped: a read copies only the rows
    asked for (and unmaps the file again, so the resident memory stays that of the rows);
    compressed archives are streamed; Fortran-ordered arrays and ``.npy`` format 3.0 cannot be
    read by rows and are loaded whole (the only case where memory grows with the dataset).

    Parameters
    ----------
    path
        ``.npz`` holding ``images`` (and optionally ``labels``, ``class_names``) or ``.npy``
        holding images.
    values_range
        Range of the model's inputs: integer images (0-255 pixels) are scaled to it, float
        images must already be in it.
    image_size
        ``(height, width)`` the images are resized to if they differ, or ``None``.
    """

    def __init__(
        self,
        path: str | Path,
        values_range: Sequence[float] = (0.0, 1.0),
        image_size: tuple[int, int] | None = None,
    ):
        self.path = Path(path)
        self.values_range = check_values_range(values_range)
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        self._labels = None
        self._array: _ArrayFile | None = None
        self._member: str | None = None  # name in the archive of a compressed images member
        self._whole: np.ndarray | None = None  # arrays that cannot be read by rows
        if self.path.suffix == ".npy":
            self._open_npy()
        elif self.path.suffix == ".npz":
            self._open_npz()
        else:
            raise ValueError(f"`images` must be an .npz or .npy file, got {self.path}.")
        shape = self._whole.shape if self._whole is not None else self._array.shape
        dtype = self._whole.dtype if self._whole is not None else self._array.dtype
        if len(shape) != 4:
            raise ValueError(f"images of {self.path} must have shape (N, H, W, C), got {shape}.")
        if dtype.hasobject or not np.issubdtype(dtype, np.number):
            raise TypeError(f"images of {self.path} must be numbers, got dtype {dtype}.")
        self.shape = tuple(int(s) for s in shape)
        if self._labels is not None:
            self._labels = _check_labels(self._labels, self.shape[0], self.path)

    def _open_npy(self) -> None:
        with open(self.path, "rb") as file:
            header = _read_npy_header(file)
            offset = file.tell()
        if header is None or header[1]:
            self._whole = np.load(self.path, allow_pickle=False)
        else:
            self._array = _ArrayFile(*header, offset)

    def _open_npz(self) -> None:
        try:
            archive = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as error:
            raise ValueError(f"`images` {self.path} is not a readable .npz: {error}") from None
        with archive:
            names = {Path(n).stem: n for n in archive.namelist()}
            if "images" not in names:
                raise ValueError(f"{self.path} must hold an 'images' array, found {sorted(names)}.")
            info = archive.getinfo(names["images"])
            with archive.open(info) as member:
                header = _read_npy_header(member)
                header_bytes = member.tell()
        with np.load(self.path, allow_pickle=False) as data:  # members are read on access
            if "labels" in data.files:
                self._labels = data["labels"]
            if "class_names" in data.files:
                self.class_names = [str(n) for n in data["class_names"]]
            if header is None or header[1]:
                self._whole = data["images"]
                return
        if info.compress_type == zipfile.ZIP_STORED:
            offset = _zip_member_data_offset(self.path, info) + header_bytes
            self._array = _ArrayFile(*header, offset)
        else:
            self._array = _ArrayFile(*header, header_bytes)
            self._member = names["images"]

    @property
    def memory_mapped(self) -> bool:
        """Whether reads are memory-mapped (else streamed, or from an array held whole)."""
        return self._array is not None and self._member is None

    def __len__(self) -> int:
        return self.shape[0]

    def labels(self) -> np.ndarray | None:
        return self._labels

    def _raw(self, indices: np.ndarray) -> np.ndarray:
        if self._whole is not None:
            return self._whole[indices]
        array = self._array
        if self._member is None:
            mapped = np.memmap(
                self.path, array.dtype, mode="r", offset=array.offset, shape=array.shape
            )
            rows = np.array(mapped[indices])  # copies the rows; the map goes with `mapped`
            del mapped
            return rows
        rows = np.empty((len(indices), *array.shape[1:]), array.dtype)
        with zipfile.ZipFile(self.path) as archive, archive.open(self._member) as member:
            for k, i in enumerate(indices):  # increasing: forward seeks only
                member.seek(array.offset + int(i) * array.row_bytes)
                rows[k] = np.frombuffer(member.read(array.row_bytes), array.dtype).reshape(
                    array.shape[1:]
                )
        return rows

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        indices = _check_indices(indices, len(self))
        return to_values_range(self._raw(indices), self.values_range, self.image_size)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        if self._member is None:
            yield from super().batches(batch_size)
            return
        array = self._array  # compressed: one sequential pass, not one per batch
        with zipfile.ZipFile(self.path) as archive, archive.open(self._member) as member:
            member.seek(array.offset)
            for start in range(0, len(self), batch_size):
                count = min(batch_size, len(self) - start)
                data = member.read(count * array.row_bytes)
                rows = np.frombuffer(data, array.dtype).reshape(count, *array.shape[1:])
                yield to_values_range(rows, self.values_range, self.image_size)


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
