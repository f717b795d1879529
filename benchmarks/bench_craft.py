"""CRAFT benchmark: fit + estimate_importance vs Xplique's CraftTf; our NMF vs scikit-learn's.

Plain script, measured in one run on this machine; asserts nothing about time.
Run: ``python benchmarks/bench_craft.py``.
"""

from __future__ import annotations

import os
import sys
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.decomposition import NMF as SkNMF  # noqa: E402

from xplique_lens.commons import split_model  # noqa: E402
from xplique_lens.concepts import NMF, Craft  # noqa: E402
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402

N_IMAGES, RANK, PATCH, NB_DESIGN, CLASS_ID, BATCH = 20, 10, 16, 32, 1, 64


def timed(fn, repeats=1):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def import_xplique_craft():
    try:
        import cv2  # noqa: F401
    except ImportError:  # Xplique's craft imports cv2 only for plotting
        sys.modules["cv2"] = types.ModuleType("cv2")
    try:
        from xplique.concepts import CraftTf

        return CraftTf
    except Exception as error:  # noqa: BLE001
        print(f"xplique not importable ({error}); skipping the comparison")
        return None


def main():
    model = get_reference_model(0)
    g, h = split_model(model, "features")
    data = make_synthetic_dataset(N_IMAGES, seed=11)
    images = data.images[data.labels == CLASS_ID][:N_IMAGES]

    def ours():
        craft = Craft(g, h, number_of_concepts=RANK, batch_size=BATCH, patch_size=PATCH)
        craft.fit(images, class_id=CLASS_ID)
        return craft, craft.estimate_importance(nb_design=NB_DESIGN)

    ours()  # warm-up (tracing)
    t_ours, (craft, imp_ours) = timed(ours, repeats=2)
    n_crops = len(craft.crops_)
    n_h = len(images) * NB_DESIGN * (RANK + 2)

    # floor: the compiled forwards CRAFT needs (g on the crops, h on every perturbed code)
    g_fwd = tf.function(lambda x: g(x))
    h_fwd = tf.function(lambda x: h(x))
    crops = tf.image.resize(craft.crops_, (64, 64), "bicubic")
    acts = tf.random.uniform((n_h, 16, 16, 64))

    def floor():
        for s in range(0, n_crops, BATCH):
            g_fwd(crops[s : s + BATCH])
        for s in range(0, n_h, BATCH):
            h_fwd(acts[s : s + BATCH])

    floor()
    t_floor, _ = timed(floor, repeats=2)
    print(f"images={len(images)} rank={RANK} patch={PATCH} nb_design={NB_DESIGN} crops={n_crops}")
    print(f"ours fit+importance      : {t_ours:8.3f} s  ({t_ours / t_floor:5.2f}x the floor)")
    print(f"floor (g on crops + h)   : {t_floor:8.3f} s  ({n_crops} g + {n_h} h forwards)")

    CraftTf = import_xplique_craft()
    if CraftTf is not None:

        def theirs():
            craft_x = CraftTf(g, h, number_of_concepts=RANK, batch_size=BATCH, patch_size=PATCH)
            craft_x.fit(images, class_id=CLASS_ID)
            return craft_x.estimate_importance(nb_design=NB_DESIGN)

        t_theirs, imp_theirs = timed(theirs)
        print(
            f"xplique CraftTf          : {t_theirs:8.3f} s  -> ours is "
            f"{t_theirs / t_ours:5.1f}x faster"
        )
        print(
            f"top concept importance   : ours {np.max(imp_ours):.3f}, "
            f"xplique {np.max(imp_theirs):.3f}"
        )

    activations = np.asarray(g(data.images[:40])).reshape(-1, 64)
    print(f"NMF on {activations.shape} activations of 'features':")
    for rank in (10, 20):
        NMF(rank).fit(activations)  # warm-up (tracing)
        t_nmf, nmf = timed(lambda rank=rank: NMF(rank).fit(activations))
        t_sk, sk = timed(
            lambda rank=rank: SkNMF(rank, max_iter=200, random_state=0).fit(activations)
        )
        print(
            f"  rank {rank:2d}: ours {t_nmf:6.3f} s err {nmf.reconstruction_err_:8.2f} "
            f"({nmf.n_iter_} it) | sklearn {t_sk:6.3f} s err {sk.reconstruction_err_:8.2f} "
            f"({sk.n_iter_} it) | time ratio {t_sk / t_nmf:4.2f}x, "
            f"error ratio {nmf.reconstruction_err_ / sk.reconstruction_err_:4.3f}"
        )


if __name__ == "__main__":
    main()
