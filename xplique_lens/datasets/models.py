"""Tiny reference CNNs trained on the built-in dataset, cached in a user cache directory.

The architecture ends with a ReLU feature map (layer ``"features"``, 16x16x64) before global
average pooling and a linear ``"logits"`` layer, so CRAFT and the concept tools have a
non-negative spatial layer to work on. Models output logits (no softmax).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

from .synthetic import CLASS_SPECS, make_synthetic_dataset

#: Bump when the dataset generator or the training recipe changes: cached models become stale.
RECIPE_VERSION = "1"
FEATURE_LAYER = "features"
LOGITS_LAYER = "logits"
TRAIN_SEED, TEST_SEED = 1000, 2000
TRAIN_PER_CLASS, TEST_PER_CLASS = 300, 50
EPOCHS = 8


def cache_dir() -> Path:
    """Where reference models are cached: ``$XPLIQUE_LENS_CACHE``, else the user cache dir."""
    root = os.environ.get("XPLIQUE_LENS_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xplique_lens"


def build_reference_model(nb_classes: int = len(CLASS_SPECS), image_size: int = 64):
    """The untrained reference architecture (conv-pool-conv-pool-conv, GAP, dense logits)."""
    return keras.Sequential(
        [
            keras.Input((image_size, image_size, 3), name="image"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2, name="pool2"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu", name=FEATURE_LAYER),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(nb_classes, name=LOGITS_LAYER),
        ],
        name="reference_cnn",
    )


def _recipe_key(seed: int) -> str:
    recipe = {
        "recipe": RECIPE_VERSION,
        "seed": seed,
        "keras": keras.__version__,
        "train": [TRAIN_SEED, TRAIN_PER_CLASS, EPOCHS],
    }
    return hashlib.sha1(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:10]


def train_reference_model(seed: int = 0, verbose: bool = False) -> tuple[keras.Model, float]:
    """Train the reference CNN deterministically from ``seed``; return it and its test accuracy."""
    keras.utils.set_random_seed(seed)
    train = make_synthetic_dataset(TRAIN_PER_CLASS, seed=TRAIN_SEED)
    test = make_synthetic_dataset(TEST_PER_CLASS, seed=TEST_SEED)
    model = build_reference_model(train.nb_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train.images, train.labels, batch_size=64, epochs=EPOCHS, verbose=2 if verbose else 0)
    logits = model.predict(test.images, batch_size=256, verbose=0)
    accuracy = float(np.mean(np.argmax(logits, axis=-1) == test.labels))
    return model, accuracy


def get_reference_model(
    seed: int = 0, cache: str | os.PathLike | None = None, verbose: bool = False
) -> keras.Model:
    """Load the reference CNN trained with ``seed``, training and caching it first if needed.

    The cache file name carries a hash of the recipe (dataset and training settings, Keras
    version): a missing, stale or unreadable file is retrained and replaced atomically.

    Parameters
    ----------
    seed
        Training seed; seeds 0 and 1 give the two reference models.
    cache
        Cache directory (default: :func:`cache_dir`).
    verbose
        Show the training progress.
    """
    folder = Path(cache) if cache is not None else cache_dir()
    path = folder / f"reference_cnn_seed{seed}_{_recipe_key(seed)}.keras"
    if path.exists():
        try:
            return keras.models.load_model(path)
        except Exception:  # unreadable cache (partial copy, other format): retrain below
            path.unlink(missing_ok=True)
    model, accuracy = train_reference_model(seed, verbose=verbose)
    folder.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(suffix=".keras", dir=folder)
    os.close(handle)
    model.save(tmp)
    os.replace(tmp, path)
    path.with_suffix(".json").write_text(json.dumps({"test_accuracy": accuracy}))
    return model
