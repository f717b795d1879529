"""Read what ``xplique-lens build`` is given: image folders or ``.npz`` files, class names."""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def load_images(
    source: str | Path, image_size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None]:
    """Load ``(images, labels, class_names)`` from a folder or an ``.npz`` file.

    - A folder with one sub-folder per class (``DIR/<class name>/*.png``): labels follow the
      sorted sub-folder names, which are the class names. Images are resized to
      ``image_size`` (the model's input size) and scaled to [0, 1].
    - An ``.npz`` with ``images`` (N, H, W, C) float, and optionally ``labels`` (N,) and
      ``class_names`` (C,).
    """
    source = Path(source)
    if source.is_file() and source.suffix == ".npz":
        with np.load(source, allow_pickle=False) as data:
            if "images" not in data.files:
                raise ValueError(f"{source} must hold an 'images' array, found {data.files}.")
            images = data["images"].astype(np.float32)
            labels = data["labels"].astype(np.int64) if "labels" in data.files else None
            names = [str(n) for n in data["class_names"]] if "class_names" in data.files else None
        return images, labels, names
    if not source.is_dir():
        raise ValueError(f"`images` must be a folder of class folders or an .npz, got {source}.")
    import tensorflow as tf

    class_dirs = sorted(p for p in source.iterdir() if p.is_dir())
    if not class_dirs:
        raise ValueError(f"{source} holds no class sub-folders (expected DIR/<class>/*.png).")
    images, labels = [], []
    for label, folder in enumerate(class_dirs):
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            image = tf.io.decode_image(file.read_bytes(), channels=3, expand_animations=False)
            image = tf.image.convert_image_dtype(image, tf.float32)
            if image_size is not None:
                image = tf.image.resize(image, image_size)
            images.append(image.numpy())
            labels.append(label)
    if not images:
        raise ValueError(f"No image files ({', '.join(IMAGE_SUFFIXES)}) found under {source}.")
    return np.stack(images), np.asarray(labels), [p.name for p in class_dirs]


def read_class_names(path: str | Path) -> list[str]:
    """One class name per line (blank lines ignored)."""
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
