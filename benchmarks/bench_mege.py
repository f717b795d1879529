"""Benchmark MeGe / ReCo: ``evaluate`` time against Xplique 2.0.2 on the same k = 4 models.

Prints, for N samples: our ``evaluate(Saliency)`` time (with our Saliency, and with Xplique's
Saliency so that only the metric differs), Xplique's ``MeGe.evaluate(Saliency)``, the floor (the
models' raw compiled forward cost for the same number of passes: k * N predictions plus k * N
gradients, counted as 2 k N forward passes), and the kernel alone (distances + ReCo from given
explanations). Asserts nothing about time.

    python benchmarks/bench_mege.py [--sizes 256 1024]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from xplique_lens.attributions import Saliency  # noqa: E402
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402
from xplique_lens.metrics import MeGe  # noqa: E402

K = 4
BATCH = 64


def perturbed(model: keras.Model, seed: int, scale: float = 0.05) -> keras.Model:
    """A copy of ``model`` with multiplicative weight noise (a different but accurate model)."""
    clone = keras.models.clone_model(model)
    rng = np.random.default_rng(seed)
    clone.set_weights([w * (1 + scale * rng.standard_normal(w.shape)) for w in model.weights])
    return clone


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def floor_time(models, inputs, passes_per_model: int) -> float:
    forwards = [tf.function(m, reduce_retracing=True) for m in models]
    for f in forwards:
        f(inputs[:BATCH])
    start = time.perf_counter()
    for f in forwards:
        for _ in range(passes_per_model):
            for s in range(0, len(inputs), BATCH):
                f(inputs[s : s + BATCH])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    args = parser.parse_args()
    try:
        from xplique.attributions import Saliency as XSaliency
        from xplique.metrics import MeGe as XMeGe
    except ImportError:
        XMeGe = XSaliency = None
    base = [get_reference_model(0), get_reference_model(1)]
    # two reference CNNs and two noisy copies (about 90% accurate) so that the models disagree
    models = [base[0], base[1], perturbed(base[0], 1, 0.2), perturbed(base[1], 2, 0.3)]
    print(f"MeGe benchmark, k={K}, batch_size={BATCH}, reference CNN 64x64, CPU")
    for n in args.sizes:
        data = make_synthetic_dataset(n_per_class=-(-n // 6), seed=11)
        inputs, targets = data.images[:n], data.one_hot()[:n]
        tf_inputs = tf.constant(inputs)
        ours = MeGe(None, inputs, targets, BATCH, K, shuffle=False, models=models, verbose=False)
        ours.evaluate(Saliency)  # warm-up: traces, predictions cached as in any 2nd explainer
        t_ours, (mege, reco) = timed(ours.evaluate, Saliency)
        fresh = MeGe(None, inputs, targets, BATCH, K, shuffle=False, models=models, verbose=False)
        t_cold, _ = timed(fresh.evaluate, Saliency)
        t_floor = floor_time(models, tf_inputs, 2)
        explanations = np.stack([Saliency(m)(inputs, targets).numpy() for m in models])
        t_kernel, _ = timed(ours.evaluate_explanations, explanations)
        print(f"\nN={n}: MeGe={mege:.4f} ReCo={reco:.4f}")
        print(f"  ours evaluate(Saliency), warm    {t_ours:8.3f} s")
        print(f"  ours evaluate(Saliency), cold    {t_cold:8.3f} s  (new MeGe: predictions)")
        print(
            f"  floor (2 k N compiled forwards)  {t_floor:8.3f} s  "
            f"ours/floor={t_ours / t_floor:.2f}"
        )
        print(f"  ours kernel (distances + ReCo)   {t_kernel:8.3f} s")
        if XMeGe is None:
            print("  xplique not importable: no comparison")
            continue
        t_ours_x, _ = timed(ours.evaluate, XSaliency)
        iterator = iter(models)
        reference = XMeGe(lambda *_, it=iterator: next(it), inputs, targets, BATCH, K)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ref, (mege_x, reco_x) = timed(reference.evaluate, XSaliency)
            votes = np.stack([np.argmax(m.predict(inputs, verbose=0), -1) for m in models])
            t_ref_kernel, _ = timed(reference._pairwise_distances, votes, explanations)
        print(f"  ours evaluate(xplique Saliency)  {t_ours_x:8.3f} s")
        print(
            f"  xplique evaluate(Saliency)       {t_ref:8.3f} s  MeGe={mege_x:.4f} "
            f"ReCo={reco_x:.4f} (sampled thresholds)"
        )
        print(f"  xplique kernel (pairwise dists)  {t_ref_kernel:8.3f} s")
        print(
            f"  speed-up evaluate: {t_ref / t_ours:.1f}x (warm), {t_ref / t_cold:.1f}x (cold), "
            f"{t_ref / t_ours_x:.1f}x (both with xplique's Saliency); "
            f"kernel: {t_ref_kernel / t_kernel:.1f}x"
        )


if __name__ == "__main__":
    main()
