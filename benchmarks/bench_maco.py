"""Benchmark MACO: time per visualization vs Xplique 2.0.2, batched objectives, and the
feature-visualization metrics of MACO vs the Fourier baseline on the built-in model.

    python benchmarks/bench_maco.py            # a few minutes on 2 CPU cores
    python benchmarks/bench_maco.py --save out.png   # also draw the visualizations
    python benchmarks/bench_maco.py --breakdown      # only the per-step cost of each part

Prints our time, the floor (the model's compiled forward + backward on the same crops, the
unavoidable cost of the step), Xplique's time when importable, and the ratios. With
``--breakdown``, the per-step milliseconds of the parts Xplique's step shares with ours (noise,
image render forward + backward) and of the crops' forward + backward, ours (exact) vs
TensorFlow's op (its CPU gradient races), at three box sizes. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402
from xplique_lens.features import (  # noqa: E402
    FID,
    Objective,
    Plausibility,
    Transferability,
    fourier,
    maco,
)
from xplique_lens.features.crops import add_noise, random_crops  # noqa: E402
from xplique_lens.features.maco import resolve_magnitude  # noqa: E402
from xplique_lens.features.parametrisations import maco_image, spectrum_shape  # noqa: E402


def timed(fn, repeats: int = 2) -> float:
    fn()  # warm-up (tracing)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def floor_time(model, nb_steps: int, nb_crops: int) -> float:
    """Compiled forward + input gradient of the model on nb_crops inputs, nb_steps times."""
    crops = tf.random.uniform((nb_crops, *model.inputs[0].shape[1:]))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(model(x, training=False)[:, 0])
        return tape.gradient(loss, x)

    def run():
        for _ in range(nb_steps):
            step(crops)

    return timed(run)


def per_call_ms(fn, repeats: int = 30) -> float:
    """Median milliseconds of a compiled call (after two warm-up calls)."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def print_breakdown(model, size: int, nb_crops: int) -> None:
    """Per-step cost of the parts of a MACO step, one objective, compiled each on its own."""
    crop_size = tuple(model.inputs[0].shape[1:3])
    crops = tf.random.uniform((nb_crops, *crop_size, 3))
    seed = tf.constant([0, 1], tf.int64)
    magnitude = tf.constant(resolve_magnitude(None, size, size, 3))
    phase = tf.Variable(tf.random.normal((1, 3, *spectrum_shape(size, size))))
    upstream_image = tf.random.normal((1, size, size, 3))
    upstream_crops = tf.random.normal((nb_crops, *crop_size, 3))
    image = tf.Variable(tf.random.uniform((1, size, size, 3)))

    @tf.function
    def noise():
        return add_noise(crops, tf.constant(0.1), seed)

    @tf.function
    def render():
        with tf.GradientTape() as tape:
            rendered = maco_image(phase, magnitude, (0, 1), width=size)
            loss = tf.reduce_sum(rendered * upstream_image)
        return tape.gradient(loss, phase)

    def crop_gradient(box: float, exact: bool):
        @tf.function
        def run():
            with tf.GradientTape() as tape:
                if exact:
                    cut = random_crops(image, nb_crops, tf.constant(box), crop_size, seed)
                else:  # the same boxes through TensorFlow's op
                    draws = tf.random.stateless_normal((3, nb_crops), seed=seed)
                    side = tf.clip_by_value(box + 0.05 * draws[2], 0.05, 1.0)
                    y, x = 0.5 + 0.15 * draws[0], 0.5 + 0.15 * draws[1]
                    boxes = tf.stack([y - side / 2, x - side / 2, y + side / 2, x + side / 2], -1)
                    indices = tf.zeros((nb_crops,), tf.int32)
                    cut = tf.image.crop_and_resize(image, boxes, indices, crop_size)
                loss = tf.reduce_sum(cut * upstream_crops)
            return tape.gradient(loss, image)

        return run

    print(f"per-step breakdown, {size}x{size} image, {nb_crops} crops of {crop_size} (ms):")
    print(f"  noise (Gaussian + uniform on the crops)      {per_call_ms(noise):6.2f}")
    print(f"  image render, forward + backward             {per_call_ms(render):6.2f}")
    for box in (0.5, 0.25, 0.05):
        ours = per_call_ms(crop_gradient(box, exact=True))
        theirs = per_call_ms(crop_gradient(box, exact=False))
        print(f"  crops box {box:4.2f}, fwd + bwd: ours {ours:6.2f} | tf op (racy) {theirs:6.2f}")


def xplique_maco_time(model, settings) -> float | None:
    try:
        from xplique.features_visualizations import Objective as XObjective
        from xplique.features_visualizations import maco as xmaco
    except Exception as error:  # noqa: BLE001
        print(f"xplique not importable: {error}")
        return None
    objective = XObjective.neuron(model, "logits", 0)
    try:
        return timed(lambda: xmaco(objective, **settings), repeats=3)
    except Exception as error:  # noqa: BLE001
        print(f"xplique maco failed: {type(error).__name__}: {error}")
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--crops", type=int, default=32)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--save", default=None, help="PNG of the MACO / Fourier visualizations")
    parser.add_argument("--breakdown", action="store_true", help="per-step cost of each part")
    args = parser.parse_args()
    model = get_reference_model(0)
    settings = dict(
        nb_steps=args.steps,
        nb_crops=args.crops,
        custom_shape=(args.size, args.size),
        values_range=(0, 1),
    )
    print(
        f"tf {tf.__version__}, {os.cpu_count()} CPUs; steps={args.steps} crops={args.crops} "
        f"size={args.size}"
    )

    if args.breakdown:
        print_breakdown(model, args.size, args.crops)
        floor = floor_time(model, args.steps, args.crops)
        print(f"  floor (model forward + backward on the crops) {1e3 * floor / args.steps:6.2f}")
        return

    # 1. one objective: ours vs Xplique vs the floor
    single = Objective.neuron(model, "logits", 0)
    ours = timed(lambda: maco(single, seed=0, **settings), repeats=3)
    floor = floor_time(model, args.steps, args.crops)
    theirs = xplique_maco_time(model, settings)
    print(
        f"maco, 1 objective : ours {ours:.2f}s | floor {floor:.2f}s (ours/floor "
        f"{ours / floor:.2f}x)"
    )
    if theirs is not None:
        print(
            f"                    xplique {theirs:.2f}s | speed-up vs xplique {theirs / ours:.2f}x"
        )

    # 2. k objectives: one batched call vs k single calls
    k = 6
    batched = Objective.neuron(model, "logits", list(range(k)))
    t_batch = timed(lambda: maco(batched, seed=0, **settings), repeats=1)
    singles = [Objective.neuron(model, "logits", c) for c in range(k)]

    def run_singles():
        for objective in singles:
            maco(objective, seed=0, **settings)

    t_singles = timed(run_singles, repeats=1)
    print(
        f"maco, {k} objectives: batched {t_batch:.2f}s | {k} single calls {t_singles:.2f}s "
        f"(batched/singles {t_batch / t_singles:.2f})"
    )

    # 3. metrics of MACO vs the Fourier baseline (class logits, 64x64, 128 steps)
    data = make_synthetic_dataset(20, seed=321)
    other = get_reference_model(1)
    objective = Objective.class_logit(model, list(range(6)))
    run = dict(nb_steps=128, nb_crops=16, box_size=0.8, custom_shape=(64, 64), values_range=(0, 1))
    labels = np.arange(6)
    plausibility = Plausibility(model, data.images, data.labels)
    fid = FID(model, data.images)
    transfer = Transferability([other])
    results = {}
    for name, method in (("maco", maco), ("fourier", fourier)):
        scores = []
        for seed in range(3):
            images, _ = method(objective, seed=seed, **run)
            results[name] = images
            scores.append(
                (
                    plausibility(images, labels),
                    fid(images),
                    transfer(images, labels),
                    float(np.mean(model(images).numpy().argmax(1) == labels)),
                )
            )
        p, f, t, a = np.mean(scores, axis=0)
        print(
            f"metrics {name:8s}: plausibility {p:.3f} | FID {f:.1f} | transferability "
            f"(seed-1 model) {t:.2f} | accuracy (own model) {a:.2f}   [mean of 3 seeds]"
        )
    real = Plausibility(model, data.images, data.labels)(data.images[:60], data.labels[:60])
    print(f"reference: plausibility of real images {real:.3f}")
    if args.save:
        from xplique_lens.plots import plot_maco_grid

        names = [f"{n} {c}" for n in ("MACO", "Fourier") for c in range(6)]
        fig = plot_maco_grid(np.concatenate([results["maco"], results["fourier"]]), titles=names)
        fig.savefig(args.save, dpi=100)
        print(f"saved {args.save}")


if __name__ == "__main__":
    main()
