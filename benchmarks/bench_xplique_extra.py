"""Benchmark of the explainers ported from Xplique 2.0.2: ours vs the floor vs Xplique.

For each method it prints, measured in this one run on this machine (best of 5 warm calls for
ours and the floor, of 2 for Xplique: tracing excluded everywhere; best-of because a shared
machine only ever adds time):

- ours: ``Method(model, ...)(images, one_hot)``;
- floor: what the method cannot avoid, compiled, in batches of the same size. Gradient methods
  (GradCAM, GradCAMPP, GuidedBackprop, DeconvNet): one forward and backward pass of the model
  per image (gradient of the score with respect to the input). FEM: the forward pass up to the
  feature layer. Black-box methods (Lime, KernelShap, HsicAttributionMethod): the model's forward
  pass on ``N * nb_samples`` (``N * nb_design``) inputs;
- xplique: ``xplique.attributions.<Method>`` with the same settings, when xplique is importable.
  Lime and KernelShap get the same features on both sides (an 8x8 grid; Xplique's default
  quickshift is a per-image scikit-image loop that would dominate its time).

Run: ``.venv/bin/python benchmarks/bench_xplique_extra.py`` (about four minutes on 2 CPU cores).
Nothing is asserted about time.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from xplique_lens.attributions import (  # noqa: E402
    FEM,
    DeconvNet,
    GradCAM,
    GradCAMPP,
    GridSegmentation,
    GuidedBackprop,
    HsicAttributionMethod,
    KernelShap,
    Lime,
)
from xplique_lens.commons.model_splitting import layer_model  # noqa: E402
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402


def timed(fn, repeats: int = 5) -> float:
    fn()  # warm-up: tracing and first allocations
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def forward_floor(model, images: np.ndarray, nb_passes: int, batch_size: int) -> float:
    """Compiled forward passes of ``model`` on ``nb_passes`` inputs, ``batch_size`` at a time."""
    forward = tf.function(lambda x: model(x), reduce_retracing=True)
    full = tf.constant(np.resize(images, (batch_size, *images.shape[1:])))
    rest = nb_passes % batch_size
    last = full[:rest] if rest else None

    def run():
        for _ in range(nb_passes // batch_size):
            forward(full).numpy()
        if last is not None:
            forward(last).numpy()

    return timed(run)


def gradient_floor(model, images: np.ndarray, one_hot: np.ndarray, batch_size: int) -> float:
    """Compiled forward + backward (gradient of the score w.r.t. the input), in batches."""

    @tf.function(reduce_retracing=True)
    def gradient(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = tf.reduce_sum(model(x) * y, axis=-1)
        return tape.gradient(score, x)

    def run():
        for start in range(0, len(images), batch_size):
            stop = start + batch_size
            gradient(tf.constant(images[start:stop]), tf.constant(one_hot[start:stop])).numpy()

    return timed(run)


def main() -> None:
    try:
        import xplique.attributions as xplique
    except ImportError:  # pragma: no cover
        xplique = None
    model = get_reference_model(0)
    data = make_synthetic_dataset(n_per_class=11, seed=7)
    images, one_hot = data.images, data.one_hot()  # 66 images, 64x64x3
    grid = GridSegmentation(8)
    features = layer_model(model, "features")
    # (name, ours, xplique, N, floor kind, passes per image, batch size)
    settings = [
        ("GradCAM", lambda: GradCAM(model), lambda: xplique.GradCAM(model), 64, "grad", 1, 32),
        (
            "GradCAMPP",
            lambda: GradCAMPP(model),
            lambda: xplique.GradCAMPP(model),
            64,
            "grad",
            1,
            32,
        ),
        (
            "GuidedBackprop",
            lambda: GuidedBackprop(model),
            lambda: xplique.GuidedBackprop(model),
            64,
            "grad",
            1,
            32,
        ),
        (
            "DeconvNet",
            lambda: DeconvNet(model),
            lambda: xplique.DeconvNet(model),
            64,
            "grad",
            1,
            32,
        ),
        ("FEM", lambda: FEM(model), lambda: xplique.FEM(model), 64, "features", 1, 32),
        (
            "Lime",
            lambda: Lime(model, map_to_interpret_space=grid),
            lambda: xplique.Lime(model, map_to_interpret_space=grid),
            8,
            "forward",
            150,
            150,
        ),
        (
            "KernelShap",
            lambda: KernelShap(model, map_to_interpret_space=grid),
            lambda: xplique.KernelShap(model, map_to_interpret_space=grid),
            4,
            "forward",
            800,
            64,
        ),
        (
            "Hsic",
            lambda: HsicAttributionMethod(model),
            lambda: xplique.HsicAttributionMethod(model),
            4,
            "forward",
            500,
            256,
        ),
    ]
    print(
        f"device: {'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}, reference CNN "
        f"64x64x3, TF {tf.__version__}"
    )
    print(
        f"{'method':>14} {'N':>3} {'passes':>6} {'batch':>5} {'ours s':>7} {'floor':>8} "
        f"{'floor s':>7} {'ours/floor':>10} {'xplique s':>9} {'xplique/ours':>12}"
    )
    for name, ours, theirs, n, floor_kind, per_image, batch in settings:
        x, y = images[:n], one_hot[:n]
        explainer = ours()
        t_ours = timed(lambda e=explainer, x=x, y=y: e(x, y).numpy())
        passes = n * per_image
        if floor_kind == "grad":
            t_floor = gradient_floor(model, x, y, batch)
        elif floor_kind == "features":
            t_floor = forward_floor(features, x, passes, batch)
        else:
            t_floor = forward_floor(model, x, passes, batch)
        line = (
            f"{name:>14} {n:>3} {passes:>6} {batch:>5} {t_ours:>7.3f} {floor_kind:>8} "
            f"{t_floor:>7.3f} {t_ours / t_floor:>10.2f}"
        )
        if xplique is not None:
            reference = theirs()
            t_x = timed(lambda e=reference, x=x, y=y: np.asarray(e(x, y)), repeats=2)
            line += f" {t_x:>9.3f} {t_x / t_ours:>12.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
