"""Benchmark Deletion / Insertion / MuFidelity: time against Xplique 2.0.2 and the forward floor.

Same model (the built-in reference CNN, 64x64x3), same images, same settings (batch_size=64,
zero baseline, steps=10 / nb_samples=100), two explanations (Saliency, then random noise: two
"explainers"). For each metric and N it prints, as the minimum over ``--repeats`` interleaved
rounds (the rounds alternate ours, Xplique and the floor, so a busy machine slows them alike):

- ``cold``: a fresh metric object, construction + ``evaluate(first explanation)``: what a user
  pays for one number. The one-off costs of a process (tracing the model into the compiled
  perturb-and-score function, shared by every metric of that model; the XLA compilation of the
  perturbation kernel for a new input shape) are paid in the first round only: ``cold#1`` is that
  first round (for Insertion and MuFidelity, after the metrics above already ran on the model),
  ``cold`` the minimum over the rounds.
- ``warm``: ``evaluate(second explanation)`` on the same object: what each further explainer
  costs (the explanation-independent scores are cached by the object).
- ``xplique``: ``xplique.metrics`` construction + ``evaluate`` (it caches nothing, so its cold and
  warm costs are the same).
- ``floor``: the model's own compiled forward pass on ``N * (steps + 1)`` images
  (``N * (nb_samples + 1)`` for MuFidelity) in batches of 64: what the metric costs when computed
  the textbook way with zero overhead. Ours can go below it by doing fewer forward passes.
- the ratios xplique / ours and ours / floor, and the agreement of the scores (Deletion and
  Insertion equal Xplique's; MuFidelity draws other random subsets: equal in expectation only).

Ours runs fewer images than ``images``: Deletion / Insertion skip the explanation-independent
points (cold: ``N`` inputs + one zero-baseline image per class + ``N * (steps - 1)``; warm:
``N * (steps - 1)``), MuFidelity runs all ``N * (nb_samples + 1)`` once (cold) and none warm.

Asserts nothing about time. Re-run (from the repository root, on an idle machine):

    python benchmarks/bench_fidelity.py [--sizes 128 512] [--steps 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from functools import partial

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from xplique_lens.attributions import Saliency  # noqa: E402
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402
from xplique_lens.metrics import Deletion, Insertion, MuFidelity  # noqa: E402

BATCH = 64
NB_SAMPLES = 100  # MuFidelity subsets per input


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def floor_time(forward: Callable, inputs: tf.Tensor, nb_images: int) -> float:
    """The compiled forward pass on ``nb_images`` images (tiled inputs), batches of 64."""
    images = tf.tile(inputs, (nb_images // len(inputs) + 1, 1, 1, 1))[:nb_images]
    start = time.perf_counter()
    for s in range(0, nb_images, BATCH):
        forward(images[s : s + BATCH]).numpy()
    return time.perf_counter() - start


def ours_cold_warm(make: Callable, first, second) -> tuple[float, float, float]:
    """(cold time, warm time, cold score) of a fresh metric object ``make()``."""
    start = time.perf_counter()
    metric = make()
    score = float(metric.evaluate(first))
    cold = time.perf_counter() - start
    warm, _ = timed(metric.evaluate, second)
    return cold, warm, score


def print_row(name, n, nb_images, best, first_cold, diff) -> None:
    cold, warm, theirs, floor = (best[k] for k in ("cold", "warm", "xplique", "floor"))
    print(
        f"{name:10s} {n:4d} {nb_images:7d} {first_cold:7.3f}s {cold:7.3f}s {warm:7.3f}s "
        f"{theirs:8.3f}s "
        f"{floor:7.3f}s {theirs / cold:9.2f}x {theirs / warm:9.2f}x "
        f"{cold / floor:9.2f}x {warm / floor:9.2f}x  {diff}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    tf.get_logger().setLevel("ERROR")
    try:
        import xplique.metrics as xm
    except ImportError:
        raise SystemExit(
            "xplique is needed for this benchmark (pip install --no-deps xplique)"
        ) from None

    model = get_reference_model(0)
    forward = tf.function(model, reduce_retracing=True)
    data = make_synthetic_dataset(n_per_class=max(args.sizes) // 6 + 1, seed=42)
    print(
        f"model: built-in reference CNN, 64x64x3; steps={args.steps}, batch_size={BATCH}, "
        f"MuFidelity nb_samples={NB_SAMPLES}; min over {args.repeats} interleaved rounds"
    )
    print(
        "metric        N  images  cold#1     cold     warm   xplique    floor  xpl/cold  xpl/warm "
        "cold/floor warm/floor  score"
    )
    for n in args.sizes:
        x, y = data.images[:n], data.one_hot()[:n]
        first = Saliency(model)(x, y).numpy()
        second = np.random.default_rng(0).normal(size=first.shape).astype("float32")
        forward(tf.constant(x[:BATCH]))
        jobs = [
            (name, ours, getattr(xm, name), n * (args.steps + 1), dict(steps=args.steps))
            for name, ours in (("Deletion", Deletion), ("Insertion", Insertion))
        ]
        if n == min(args.sizes):
            nb_images = n * (NB_SAMPLES + 1)
            settings = dict(nb_samples=NB_SAMPLES)
            jobs.append(("MuFidelity", MuFidelity, xm.MuFidelity, nb_images, settings))
        for name, ours, theirs, nb_images, settings in jobs:
            runs: dict[str, list[float]] = {"cold": [], "warm": [], "xplique": [], "floor": []}
            for _ in range(args.repeats):
                make = partial(ours, model, x, y, batch_size=BATCH, **settings)
                cold, warm, score = ours_cold_warm(make, first, second)
                make = partial(theirs, model, x, y, batch_size=BATCH, **settings)
                xplique_time, theirs_score = timed(lambda m=make, e=first: float(m()(e)))
                runs["cold"].append(cold)
                runs["warm"].append(warm)
                runs["xplique"].append(xplique_time)
                runs["floor"].append(floor_time(forward, tf.constant(x), nb_images))
            best = {k: min(v) for k, v in runs.items()}
            if name == "MuFidelity":
                diff = f"ours {score:.3f} vs xplique {theirs_score:.3f}"
            else:
                diff = f"|diff| {abs(score - theirs_score):.1e}"
            print_row(name, n, nb_images, best, runs["cold"][0], diff)


if __name__ == "__main__":
    main()
