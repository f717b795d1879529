"""Benchmark of the Sobol attribution kernel: ours vs the model's forward floor vs Xplique 2.0.2.

For each setting (image size, grid_size, nb_design, number of images N) it prints, measured in
this one run on this machine:

- ours: ``SobolAttributionMethod(...)(images, labels)`` (after one warm-up call: tracing excluded);
- floor: the raw compiled forward pass of the same model on the same number of inputs,
  ``N * nb_design * (grid_size**2 + 1)`` (what total indices need), in batches of the same size;
- xplique: ``xplique.attributions.SobolAttributionMethod`` on the same workload (it evaluates
  ``N * nb_design * (grid_size**2 + 2)`` inputs), when xplique is importable.

Run: ``.venv/bin/python benchmarks/bench_sobol.py`` (a few minutes on 2 CPU cores). Nothing is
asserted about time.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from xplique_lens.attributions import SobolAttributionMethod  # noqa: E402
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402

BATCH_SIZE = 256


def timed(fn, repeats: int = 2) -> float:
    fn()  # warm-up: tracing and first allocations
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def floor_time(model, image_shape, nb_passes: int) -> float:
    forward = tf.function(lambda x: model(x), reduce_retracing=True)
    full = tf.random.uniform((BATCH_SIZE, *image_shape))
    rest = nb_passes % BATCH_SIZE
    last = tf.random.uniform((rest, *image_shape)) if rest else None

    def run():
        for _ in range(nb_passes // BATCH_SIZE):
            forward(full).numpy()
        if last is not None:
            forward(last).numpy()

    return timed(run)


def cnn(size: int) -> keras.Model:
    """The reference architecture at another input size (untrained: speed only)."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(6),
        ]
    )


def main() -> None:
    try:
        import xplique.attributions as xplique
    except ImportError:  # pragma: no cover
        xplique = None
    data = make_synthetic_dataset(n_per_class=4, seed=7)
    settings = [  # (model name, image size, grid, nb_design, N)
        ("reference", 64, 8, 32, 4),
        ("reference", 64, 4, 16, 16),
        ("reference", 64, 11, 16, 2),
        ("cnn48", 48, 8, 32, 4),
        ("cnn48", 48, 4, 16, 16),
        ("cnn48", 48, 8, 32, 1),
        ("cnn128", 128, 8, 16, 2),
    ]
    header = (
        f"{'model':>9} {'size':>4} {'grid':>4} {'design':>6} {'N':>3} {'passes':>7} "
        f"{'ours s':>7} {'floor s':>7} {'ours/floor':>10} {'xplique s':>9} {'xplique/ours':>12}"
    )
    print(
        f"device: {'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}, batch_size "
        f"{BATCH_SIZE}, TF {tf.__version__}"
    )
    print(header)
    for name, size, grid, design, n in settings:
        model = get_reference_model(0) if name == "reference" else cnn(size)  # cnn48: 3 convs
        images = tf.image.resize(data.images[:n], (size, size)).numpy()
        labels = data.labels[:n]
        passes = n * design * (grid**2 + 1)
        ours = SobolAttributionMethod(
            model, grid_size=grid, nb_design=design, batch_size=BATCH_SIZE
        )
        t_ours = timed(lambda e=ours, x=images, y=labels: e(x, y).numpy())
        t_floor = floor_time(model, images.shape[1:], passes)
        line = (
            f"{name:>9} {size:>4} {grid:>4} {design:>6} {n:>3} {passes:>7} {t_ours:>7.2f} "
            f"{t_floor:>7.2f} {t_ours / t_floor:>10.2f}"
        )
        if xplique is not None:
            theirs = xplique.SobolAttributionMethod(
                model, grid_size=grid, nb_design=design, batch_size=BATCH_SIZE
            )
            one_hot = np.eye(6, dtype=np.float32)[labels]
            t_x = timed(lambda e=theirs, x=images, y=one_hot: e(x, y).numpy(), repeats=1)
            line += f" {t_x:>9.2f} {t_x / t_ours:>12.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
