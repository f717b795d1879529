"""Per-class results on disk: written atomically, keyed by what they depend on.

Each stage of a class stores ``<out>/cache/<class>/<stage>.npz`` holding its arrays and a
``key``: the hash of the stage's inputs (its options, its code, model weights, the class's
images and the keys of the stages it reads; see :meth:`xplique_lens.lens.stages.Stage.key`).
A stage whose key matches is loaded, not recomputed, so an interrupted build resumes where it
stopped and changing one option recomputes only the stages that depend on it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def fingerprint(*parts: Any) -> str:
    """A short stable hash of arrays, strings, numbers and JSON-able structures."""
    digest = hashlib.sha1()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(str((part.shape, part.dtype.str)).encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, list | tuple) and part and isinstance(part[0], np.ndarray):
            for item in part:
                digest.update(fingerprint(item).encode())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


def model_fingerprint(model: Any) -> str:
    """Hash of a Keras model's weights and architecture name."""
    weights = [np.asarray(w) for w in model.get_weights()]
    return fingerprint(getattr(model, "name", ""), weights)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


class StageStore:
    """Load and save the arrays of one (class, stage) pair, keyed by their dependencies."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, class_id: int, stage: str) -> Path:
        return self.root / "cache" / f"{class_id:05d}" / f"{stage}.npz"

    def load(self, class_id: int, stage: str, key: str) -> dict[str, np.ndarray] | None:
        """The stored arrays if they exist and were computed with ``key``, else ``None``."""
        path = self._path(class_id, stage)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["__key__"]) != key:
                    return None
                return {name: data[name] for name in data.files if name != "__key__"}
        except (OSError, ValueError, KeyError):  # truncated or foreign file: recompute
            return None

    def save(self, class_id: int, stage: str, key: str, arrays: dict[str, Any]) -> None:
        """Store ``arrays`` (numpy-convertible values) atomically under ``key``."""
        buffer = io.BytesIO()
        np.savez(buffer, __key__=np.asarray(key), **{k: np.asarray(v) for k, v in arrays.items()})
        atomic_write_bytes(self._path(class_id, stage), buffer.getvalue())
