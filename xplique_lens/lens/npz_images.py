"""``.npz`` / ``.npy`` images read by rows: memory-mapped when stored, streamed when compressed."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..commons.preprocessing import check_values_range
from .image_source import ImageSource, check_indices, check_labels, to_values_range

#: Bytes decompressed at a time when streaming a compressed ``.npz`` member.
_STREAM_CHUNK = 16 << 20


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
            self._labels = check_labels(self._labels, self.shape[0], self.path)

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
        indices = check_indices(indices, len(self))
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
