"""Benchmark Deletion / Insertion: ``evaluate`` time against Xplique 2.0.2 and the floor.

Same model (the built-in reference CNN), same images, same explanations (Saliency), same
settings (batch_size=64, steps=10, zero baseline). Prints for each N: our time (a fresh metric:
construction + evaluate, i.e. with tracing; and a second, warm evaluate), Xplique's time
(construction + evaluate), the floor (the model's raw compiled forward time for the same
N * (steps + 1) perturbed images in batches of 64), the agreement of the scores, and the ratios.
Asserts nothing about time.

    python benchmarks/bench_fidelity.py [--sizes 128 512] [--steps 10]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from xplique_lens.attributions import Saliency  # noqa: E402
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402
from xplique_lens.metrics import Deletion, Insertion, MuFidelity  # noqa: E402

BATCH = 64


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def fresh_evaluate(cls, model, x, y, phi, **settings) -> float:
    """Construct the metric and evaluate once (what a user runs)."""
    return float(cls(model, x, y, **settings).evaluate(phi))


def floor_time(model, inputs, nb_images: int) -> float:
    forward = tf.function(model, reduce_retracing=True)
    forward(inputs[:BATCH])
    images = tf.tile(inputs, (nb_images // len(inputs) + 1, 1, 1, 1))[:nb_images]
    start = time.perf_counter()
    for s in range(0, nb_images, BATCH):
        forward(images[s : s + BATCH]).numpy()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    tf.get_logger().setLevel("ERROR")
    try:
        import xplique.metrics as xm
    except ImportError:
        xm = None
        print("xplique not importable: its columns are skipped")

    model = get_reference_model(0)
    data = make_synthetic_dataset(n_per_class=max(args.sizes) // 6 + 1, seed=42)
    print(f"model: built-in reference CNN, 64x64x3; steps={args.steps}, batch_size={BATCH}")
    header = "metric     N  forwards   ours(cold)  ours(warm)  xplique    floor    "
    print(header + "xplique/ours  ours/floor  |score diff|")
    for n in args.sizes:
        x, y = data.images[:n], data.one_hot()[:n]
        phi = Saliency(model)(x, y)
        nb_images = n * (args.steps + 1)
        floor = floor_time(model, tf.constant(x), nb_images)
        for ours, name in ((Deletion, "Deletion"), (Insertion, "Insertion")):
            settings = dict(batch_size=BATCH, steps=args.steps)
            cold, score = timed(fresh_evaluate, ours, model, x, y, phi, **settings)
            metric = ours(model, x, y, **settings)
            metric.evaluate(phi)
            warm, _ = timed(metric.evaluate, phi)
            theirs_t, theirs_s, ratio, diff = float("nan"), float("nan"), float("nan"), "n/a"
            if xm is not None:
                xcls = getattr(xm, name)
                theirs_t, theirs_s = timed(fresh_evaluate, xcls, model, x, y, phi, **settings)
                ratio = theirs_t / cold
                diff = f"{abs(score - float(theirs_s)):.1e}"
            print(
                f"{name:9s} {n:4d} {nb_images:8d} {cold:10.3f}s {warm:10.3f}s {theirs_t:8.3f}s "
                f"{floor:7.3f}s {ratio:11.2f}x {cold / floor:10.2f}x  {diff}"
            )
    # MuFidelity (random subsets: scores agree in expectation only)
    n = min(args.sizes)
    x, y = data.images[:n], data.one_hot()[:n]
    phi = Saliency(model)(x, y)
    nb = 100
    floor = floor_time(model, tf.constant(x), n * nb + n)
    cold, score = timed(lambda: MuFidelity(model, x, y, BATCH, nb_samples=nb).evaluate(phi))
    line = f"MuFidelity {n:4d} {n * nb + n:8d} {cold:10.3f}s {'':>11s} "
    if xm is not None:
        theirs_t, theirs_s = timed(
            lambda: xm.MuFidelity(model, x, y, BATCH, nb_samples=nb).evaluate(phi)
        )
        line += f"{theirs_t:8.3f}s {floor:7.3f}s {theirs_t / cold:11.2f}x {cold / floor:10.2f}x"
        line += f"  ours {score:.3f} vs xplique {theirs_s:.3f}"
    else:
        line += f"{'':>9s} {floor:7.3f}s"
    print(line)


if __name__ == "__main__":
    main()
