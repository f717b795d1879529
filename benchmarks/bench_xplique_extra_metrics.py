"""Benchmark the metrics and concept methods ported from Xplique 2.0.2: time against Xplique and
the floor.

Same model (the built-in reference CNN, 64x64x3), same ``N`` images, same settings for both
libraries (batch_size=64; Saliency explanations; RandomLogit with the same off-classes; Model
Randomization with the same ``ProgressiveLayerRandomization(0.5, seed=0)`` object, so the same
randomized weights; Cav with the same seed; Tcav with the same CAV). For each row it prints, as
the minimum over ``--repeats`` interleaved rounds (ours, Xplique and the floor alternate, so a
busy machine slows them alike):

- ``cold#1`` / ``cold``: a fresh object, construction + one evaluation (``cold#1``: the first
  round, which pays the process's one-off tracing; ``cold``: the minimum over the rounds);
- ``warm``: a second evaluation on the same object (Average Drop / Increase / Gain reuse the
  unmasked scores; Model Randomization its randomized copy; Tcav its compiled gradients), with
  other explanations / another class;
- ``xplique``: Xplique's construction + evaluation (it caches nothing);
- ``floor``: what the computation costs with zero overhead, all compiled, batches of 64:
  Average X: the model's forward pass on ``2 N`` images (inputs and masked inputs); Random Logit
  and Model Randomization: the two Saliency passes (``2 N`` input gradients) the metric needs;
  Cav: the forward pass to the layer on the ``N`` examples (the classifier's fit, the same
  sklearn call for both, is not in it); Tcav: the forward pass to the layer and the ``N``
  gradients from there. Complexity and Sparseness use no model (no floor);
- the ratios xplique / ours (cold and warm) and ours / floor, and the agreement of the values
  (Cav: the dot product of the CAV of "not class 0" against "class 0" with a fixed CAV; Tcav:
  the score of class 0 along the CAV of "class 0").

Asserts nothing about time. Re-run (from the repository root, on an idle machine):

    python benchmarks/bench_xplique_extra_metrics.py [--n 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from xplique_lens import concepts as lc  # noqa: E402
from xplique_lens import metrics as lm  # noqa: E402
from xplique_lens.attributions import Saliency  # noqa: E402
from xplique_lens.commons import split_model  # noqa: E402
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402

BATCH = 64


def timed(fn: Callable, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def batched_time(fn: Callable, x: tf.Tensor, *extra) -> float:
    start = time.perf_counter()
    for s in range(0, len(x), BATCH):
        out = fn(x[s : s + BATCH], *(e[s : s + BATCH] for e in extra))
    np.asarray(out)
    return time.perf_counter() - start


def make_floors(model, x: tf.Tensor, y: tf.Tensor) -> dict[str, Callable[[], float]]:
    forward = tf.function(model, reduce_retracing=True)
    g, h = split_model(model, "features")
    g_forward = tf.function(g, reduce_retracing=True)

    @tf.function(reduce_retracing=True)
    def input_gradients(inputs, targets):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = tf.reduce_sum(model(inputs) * targets, -1)
        return tape.gradient(score, inputs)

    @tf.function(reduce_retracing=True)
    def layer_gradients(inputs, targets):
        a = g(inputs)
        with tf.GradientTape() as tape:
            tape.watch(a)
            score = tf.reduce_sum(h(a) * targets, -1)
        # the activations are returned too: when h is linear after a pooling, as here, the
        # gradient does not depend on them and the forward pass would be pruned from the graph
        return tape.gradient(score, a) + 0.0 * a

    doubled = tf.concat([x, x], 0)
    doubled_y = tf.concat([y, y], 0)
    floors = {
        "forward 2N": lambda: batched_time(forward, doubled),
        "gradients 2N": lambda: batched_time(input_gradients, doubled, doubled_y),
        "forward to layer N": lambda: batched_time(g_forward, x),
        "layer gradients N": lambda: batched_time(layer_gradients, x, y),
    }
    for floor in floors.values():  # trace once, outside the timings
        floor()
    return floors


def _s(seconds: float | None) -> str:
    return f"{seconds:7.3f}s" if seconds is not None else f"{'-':>8s}"


def _x(num: float | None, den: float | None) -> str:
    return f"{num / den:8.2f}x" if num is not None and den is not None else f"{'-':>9s}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    tf.get_logger().setLevel("ERROR")
    try:
        import xplique.attributions as xa
        import xplique.concepts as xc
        import xplique.metrics as xm
    except ImportError:
        raise SystemExit(
            "xplique is needed for this benchmark (pip install --no-deps xplique)"
        ) from None
    import keras

    keras.config.disable_interactive_logging()  # Xplique's Cav calls predict
    model = get_reference_model(0)
    n = args.n
    data = make_synthetic_dataset(n_per_class=n // 6 + 1, seed=42)
    x, y = tf.constant(data.images[:n]), tf.constant(data.one_hot()[:n])
    first = Saliency(model)(x, y).numpy()
    second = np.random.default_rng(0).random(first.shape).astype("float32")
    floors = make_floors(model, x, y)
    strategy = lm.ProgressiveLayerRandomization(0.5, seed=0)
    # the concept "class 0": its images against the others' (interleaved classes)
    is_zero = data.labels[:n] == 0
    positive, negative = x[is_zero], x[~is_zero]
    cav_for_tcav = lc.Cav(model, "features", seed=0)(positive, negative)

    def average_x(name: str):
        def ours():
            metric = getattr(lm, name)(model, x, y, batch_size=BATCH, activation="softmax")
            return metric, metric.evaluate(first)

        def warm(metric):
            return metric.evaluate(second)

        def theirs():
            metric = getattr(xm, name)(model, x, y, batch_size=BATCH, activation="softmax")
            return metric.evaluate(first)

        return ours, warm, theirs, "forward 2N"

    def complexity(name: str):
        def ours():
            metric = getattr(lm, name)()
            return metric, metric.evaluate(first)

        return ours, lambda m: m.evaluate(second), lambda: getattr(xm, name)()(first), None

    def random_logit():
        explainer = Saliency(model)
        off_targets = lm.RandomLogitMetric(model, x, y).off_targets_  # the seed's classes

        def ours():
            metric = lm.RandomLogitMetric(model, x, y, batch_size=BATCH)
            return metric, metric.evaluate(explainer)

        def theirs():
            metric = xm.RandomLogitMetric(model, x, y, batch_size=BATCH)
            position = {"start": 0}

            def context(inputs, targets, explainer_):  # Xplique's batches, in order
                start = position["start"]
                position["start"] = start + len(inputs)
                return inputs, off_targets[start : start + len(inputs)], explainer_

            metric._get_perturbed_context = context
            return metric.evaluate(explainer)

        return ours, lambda m: m.evaluate(explainer), theirs, "gradients 2N"

    def model_randomization():
        def ours():
            metric = lm.ModelRandomizationMetric(model, x, y, strategy, batch_size=BATCH)
            return metric, metric.evaluate(Saliency(model))

        def theirs():
            metric = xm.ModelRandomizationMetric(model, x, y, strategy, batch_size=BATCH)
            return metric.evaluate(xa.Saliency(model))

        return ours, lambda m: m.evaluate(Saliency(model)), theirs, "gradients 2N"

    def cav():
        def ours():
            cav_object = lc.Cav(model, "features", seed=0)
            return cav_object, float(tf.reduce_sum(cav_object(negative, positive) * cav_for_tcav))

        def theirs():
            np.random.seed(0)  # noqa: NPY002 (Xplique draws from the global generator)
            vector = xc.Cav(model, "features")(negative, positive)
            return float(tf.reduce_sum(vector * cav_for_tcav))

        return ours, None, theirs, "forward to layer N"

    def tcav():
        def ours():
            tcav_object = lc.Tcav(model, "features", batch_size=BATCH)
            return tcav_object, tcav_object.score(x, 0, cav_for_tcav)

        def theirs():
            return float(xc.Tcav(model, "features", batch_size=BATCH).score(x, 0, cav_for_tcav))

        return ours, lambda t: t.score(x, 1, cav_for_tcav), theirs, "layer gradients N"

    rows = [
        (name, average_x(name))
        for name in ("AverageDropMetric", "AverageIncreaseMetric", "AverageGainMetric")
    ]
    rows += [(name, complexity(name)) for name in ("Complexity", "Sparseness")]
    rows += [("RandomLogitMetric", random_logit()), ("ModelRandomization", model_randomization())]
    rows += [("Cav", cav()), ("Tcav", tcav())]

    print(
        f"model: built-in reference CNN 64x64x3, N={n}, batch_size={BATCH}, Saliency "
        f"explanations, Cav/Tcav at 'features' (16x16x64); min over {args.repeats} rounds"
    )
    print(
        f"{'':21s} {'cold#1':>8s} {'cold':>8s} {'warm':>8s} {'xplique':>8s} {'floor':>8s} "
        f"{'xpl/cold':>9s} {'xpl/warm':>9s} {'cold/flr':>9s} {'warm/flr':>9s}  agreement"
    )
    for name, (ours, warm, theirs, floor_name) in rows:
        runs: dict[str, list[float]] = {"cold": [], "warm": [], "xplique": [], "floor": []}
        for _ in range(args.repeats):
            cold_time, (obj, score) = timed(ours)
            runs["cold"].append(cold_time)
            if warm is not None:
                runs["warm"].append(timed(warm, obj)[0])
            xplique_time, their_score = timed(theirs)
            runs["xplique"].append(xplique_time)
            if floor_name is not None:
                runs["floor"].append(floors[floor_name]())
        best = {k: (min(v) if v else None) for k, v in runs.items()}
        diff = abs(float(score) - float(their_score))
        agreement = f"{float(score):.4g} vs {float(their_score):.4g} (|diff| {diff:.1e})"
        print(
            f"{name:21s} {runs['cold'][0]:7.3f}s {_s(best['cold'])} {_s(best['warm'])} "
            f"{_s(best['xplique'])} {_s(best['floor'])} "
            f"{_x(best['xplique'], best['cold'])} {_x(best['xplique'], best['warm'])} "
            f"{_x(best['cold'], best['floor'])} {_x(best['warm'], best['floor'])}  {agreement}"
        )
    print("floor of each row: " + "; ".join(f"{name}: {row[3] or 'none'}" for name, row in rows))


if __name__ == "__main__":
    main()
