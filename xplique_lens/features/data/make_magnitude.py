"""Recompute the default MACO magnitudes shipped in this folder (run from the repository root).

    python -m xplique_lens.features.data.make_magnitude

Sources: natural photographs that ship inside installed packages, no download needed:
scikit-learn's ``china.jpg`` and ``flower.jpg`` (``sklearn.datasets.load_sample_images``) and
matplotlib's ``grace_hopper.jpg`` (``matplotlib.cbook.get_sample_data``). Each photograph is
taken at three scales (1, 1/2, 1/3: natural images are roughly scale invariant) and cut into
random 128x128 crops; the average magnitude of the crops' spectra (decorrelated colours for RGB,
luminance for grayscale) is saved as ``natural_magnitude_rgb.npy`` (3, 128, 65) and
``natural_magnitude_gray.npy`` (1, 128, 65).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.cbook
import matplotlib.image
import numpy as np
import tensorflow as tf
from sklearn.datasets import load_sample_images

from xplique_lens.features.magnitude import magnitude_from_images

SIZE = 128
CROPS_PER_IMAGE = 64
SEED = 0


def natural_photographs() -> list[np.ndarray]:
    """The shipped photographs as float32 RGB in [0, 1]."""
    photos = [np.asarray(image, dtype=np.float32) / 255.0 for image in load_sample_images().images]
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        hopper = np.asarray(matplotlib.image.imread(handle, format="jpg"), dtype=np.float32)
    photos.append(hopper[..., :3] / (255.0 if hopper.max() > 1.0 else 1.0))
    return photos


def random_crops(photos: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    crops = []
    for photo in photos:
        for factor in (1, 2, 3):
            height, width = photo.shape[0] // factor, photo.shape[1] // factor
            scaled = tf.image.resize(photo, (height, width), antialias=True).numpy()
            for _ in range(CROPS_PER_IMAGE):
                y = rng.integers(0, height - SIZE + 1)
                x = rng.integers(0, width - SIZE + 1)
                crops.append(scaled[y : y + SIZE, x : x + SIZE])
    return np.stack(crops).astype(np.float32)


def main() -> None:
    rng = np.random.default_rng(SEED)
    crops = random_crops(natural_photographs(), rng)
    folder = Path(__file__).parent
    rgb = magnitude_from_images(crops, decorrelate=True)
    gray = magnitude_from_images(crops.mean(axis=-1, keepdims=True), decorrelate=False)
    np.save(folder / "natural_magnitude_rgb.npy", rgb)
    np.save(folder / "natural_magnitude_gray.npy", gray)
    print(f"{len(crops)} crops -> {rgb.shape} and {gray.shape} saved in {folder}")


if __name__ == "__main__":
    main()
