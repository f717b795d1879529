"""Cost of a Lens build on a real network: ``keras.applications.ResNet50V2`` at 224x224.

Measured in this one run on this machine (ResNet50V2 with ``weights=None``: the cost does not
depend on the weights; random images, all of class 0, ``preprocess="tf"`` as a user would):

1. the forward floor of ResNet50V2: seconds per image of one batched forward pass, and of one
   forward + backward pass (gradient with respect to the input), batches of ``--batch``;
2. real builds of ResNet50V2 (``--real-presets``, default ``tiny``): per-stage seconds and the
   exact forward / backward passes of images through the model
   (:func:`xplique_lens.commons.cost.count_passes`);
3. the costlier presets (``--presets``, default ``fast,paper``), too slow to run on ResNet50V2 in
   minutes on 2 CPU cores: the same build on a *stand-in* network with the same 224x224 input
   and the same concept-layer shape (7x7x2048; average pooling and a 1x1 convolution, nearly
   free). Pass counts depend only on the options and the image size, not on the architecture,
   so they are exact; the stand-in's per-stage seconds are the work outside the model (Sobol
   masks, MACO's Fourier images and crops, NMF, t-SNE...). A stage's time on ResNet50V2 is then
   **extrapolated linearly**::

       seconds = stand-in seconds + forwards * (t_fwd - t_fwd stand-in)
                                  + backwards * (t_bwd - t_bwd stand-in)

   with ``t_bwd`` the extra time of the backward pass (forward + backward minus forward), plus
   the per-class fixed cost that the linear model misses (tracing ResNet50V2's compiled
   functions), measured on the real builds of step 2 as ``measured - linear``.

Prints one table (``how``: measured or extrapolated), the model floor of each row (passes x
per-image cost) and the ratio to it, then the extrapolated cost of a 1,000-class ImageNet Lens
per preset (per-class figure x 1,000: classes are independent). Nothing is asserted.

``--builtin-presets tiny,fast,default,paper`` measures instead (or as well) the per-class cost
of the presets on the built-in 64x64 reference CNN and its synthetic dataset (the README's
table of presets).

Run: ``.venv/bin/python benchmarks/bench_lens_real.py`` (about 7 minutes on 2 CPU cores;
``--presets fast`` to skip the paper preset), and
``.venv/bin/python benchmarks/bench_lens_real.py --real-presets "" --presets "" --builtin-presets
tiny,fast,default,paper`` (about 5 minutes).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from xplique_lens.lens import LensOptions, build_lens  # noqa: E402

SIZE = 224
LAYER = "post_relu"  # ResNet50V2's last ReLU: (7, 7, 2048), non-negative
CLASSES = 1000


def resnet() -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.applications.ResNet50V2(weights=None, input_shape=(SIZE, SIZE, 3))


def stand_in() -> keras.Model:
    """Same input and concept-layer shape as ResNet50V2, nearly free: only the passes count."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 3)),
            keras.layers.AveragePooling2D(32),
            keras.layers.Conv2D(2048, 1, activation="relu", name=LAYER),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(CLASSES),
        ],
        name="stand_in",
    )


def per_image_costs(model: keras.Model, batch: int, repeats: int = 5) -> tuple[float, float]:
    """Seconds per image of a batched forward pass, and of the backward pass on top of it."""
    images = tf.random.uniform((batch, SIZE, SIZE, 3))
    forward = tf.function(lambda x: model(x, training=False))

    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(model(x, training=False)[:, 0])
        return tape.gradient(score, x)

    times: dict = {forward: [], gradient: []}
    for fn in times:
        fn(images).numpy()  # tracing and first allocations
    for _ in range(repeats):  # interleaved, the best of each: the machine may be shared
        for fn, measured in times.items():
            start = time.perf_counter()
            fn(images).numpy()
            measured.append(time.perf_counter() - start)
    t_forward = min(times[forward]) / batch
    return t_forward, max(min(times[gradient]) / batch - t_forward, 0.0)


def build(model, preset: str, nb_classes: int, seed: int = 0):
    options = LensOptions.preset(preset, preprocess="tf")
    n = options.images_per_class
    rng = np.random.default_rng(seed)
    images = rng.random((n * nb_classes, SIZE, SIZE, 3), dtype=np.float32)
    labels = np.repeat(np.arange(nb_classes), n)
    names = [f"class_{i}" for i in range(CLASSES)]
    with tempfile.TemporaryDirectory() as out:
        report = build_lens(
            model, images, names, LAYER, out, labels=labels, options=options,
            classes=list(range(nb_classes)),
        )  # fmt: skip
    stages = list(report.cost[0])
    per_class = {}
    for stage in stages:
        costs = [report.cost[c][stage] for c in report.cost]
        per_class[stage] = (
            float(np.mean([c.seconds for c in costs])),
            int(np.mean([c.forwards for c in costs])),
            int(np.mean([c.backwards for c in costs])),
        )
    return per_class


def builtin(presets: list[str], nb_classes: int) -> None:
    """Measured per-class cost of each preset on the built-in reference CNN (64x64)."""
    from xplique_lens.datasets import FEATURE_LAYER, get_reference_model, make_synthetic_dataset

    model = get_reference_model()
    print(f"\nbuilt-in reference CNN (64x64), mean of {nb_classes} class(es), measured:")
    print(f"{'preset':>7} | {'images':>6} | {'forwards':>9} | {'backwards':>9} | {'s / class':>9}")
    for preset in presets:
        options = LensOptions.preset(preset)
        data = make_synthetic_dataset(options.images_per_class, seed=7)
        with tempfile.TemporaryDirectory() as out:
            report = build_lens(
                model, data.images, data.class_names, FEATURE_LAYER, out, labels=data.labels,
                classes=list(range(nb_classes)), options=options,
            )  # fmt: skip
        costs = [c for per_class in report.cost.values() for c in per_class.values()]
        forwards = sum(c.forwards for c in costs) / nb_classes
        backwards = sum(c.backwards for c in costs) / nb_classes
        seconds = sum(c.seconds for c in costs) / nb_classes
        print(f"{preset:>7} | {options.images_per_class:6d} | {forwards:9,.0f} | "
              f"{backwards:9,.0f} | {seconds:9.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="fast,paper", help="extrapolated presets")
    parser.add_argument("--real-presets", default="tiny", help="presets run on ResNet50V2")
    parser.add_argument("--classes", type=int, default=1, help="classes per build")
    parser.add_argument("--batch", type=int, default=32, help="batch of the floor")
    parser.add_argument("--builtin-presets", default="", help="presets on the built-in model")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.builtin_presets:
        builtin(args.builtin_presets.split(","), max(args.classes, 2))
    if not (args.presets or args.real_presets):
        return

    real = resnet()
    t_fwd, t_bwd = per_image_costs(real, args.batch)
    cheap = stand_in()
    s_fwd, s_bwd = per_image_costs(cheap, args.batch)
    print(f"ResNet50V2 (weights=None), {SIZE}x{SIZE}, {os.cpu_count()} CPU cores, no GPU")
    print(f"forward floor: {1e3 * t_fwd:.1f} ms / image (batches of {args.batch}); backward: ")
    print(f"  +{1e3 * t_bwd:.1f} ms / image; stand-in: {1e3 * s_fwd:.2f} + {1e3 * s_bwd:.2f} ms")

    def linear(stand_in_seconds: float, forwards: int, backwards: int) -> float:
        return stand_in_seconds + forwards * (t_fwd - s_fwd) + backwards * (t_bwd - s_bwd)

    rows, fixed = [], []
    for preset in filter(None, args.real_presets.split(",")):
        measured = build(real, preset, args.classes)
        modelled = build(cheap, preset, args.classes)
        for stage, (seconds, forwards, backwards) in measured.items():
            rows.append((preset, stage, forwards, backwards, seconds, "measured"))
        predicted = sum(linear(*modelled[s]) for s in modelled)
        fixed.append(sum(v[0] for v in measured.values()) - predicted)
        print(f"{preset}: measured {sum(v[0] for v in measured.values()):.1f} s / class on "
              f"ResNet50V2, linear model {predicted:.1f} s")  # fmt: skip
    overhead = max(float(np.mean(fixed)), 0.0) if fixed else 0.0
    for preset in filter(None, args.presets.split(",")):
        modelled = build(cheap, preset, args.classes)
        for stage, values in modelled.items():
            rows.append((preset, stage, values[1], values[2], linear(*values), "extrapolated"))
        rows.append((preset, "(fixed, tracing)", 0, 0, overhead, "from real runs"))

    print(f"\nper class ({args.classes} class(es) of random images per build):")
    head = f"{'preset':>7} | {'stage':<16} | {'forwards':>9} | {'backwards':>9} | "
    print(head + f"{'floor s':>8} | {'seconds':>8} | {'x floor':>7} | how")
    totals: dict[str, list[float]] = {}
    for preset, stage, forwards, backwards, seconds, how in rows:
        floor = forwards * t_fwd + backwards * t_bwd
        ratio = f"{seconds / floor:7.1f}" if floor > 0 else f"{'-':>7}"
        print(f"{preset:>7} | {stage:<16} | {forwards:9,d} | {backwards:9,d} | {floor:8.1f} | "
              f"{seconds:8.1f} | {ratio} | {how}")  # fmt: skip
        total = totals.setdefault(preset, [0, 0, 0.0, 0.0])
        total[0] += forwards
        total[1] += backwards
        total[2] += floor
        total[3] += seconds
    print("\nper class, all stages, and a 1,000-class ImageNet Lens (extrapolation x 1,000):")
    for preset, (forwards, backwards, floor, seconds) in totals.items():
        hours = CLASSES * seconds / 3600
        print(f"{preset:>7}: {forwards:,} forwards, {backwards:,} backwards, floor {floor:.0f} s, "
              f"{seconds:.0f} s / class -> 1,000 classes: {hours:,.0f} h ({hours / 24:,.1f} days)"
              f" on this CPU")  # fmt: skip
    print(f"\nbenchmark wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
