"""Concept importance estimators and C-fidelity on the built-in model (holistic framework).

Prints, measured in one run: the time of each estimator on NMF codes of the "features" layer,
the floor (the raw compiled forward time of h for the same number of passes), their ratio, and
the C-Deletion / C-Insertion / C-MuFidelity of each estimator next to random orders; then the
extractor comparison table. Asserts nothing about time.

Run: .venv/bin/python benchmarks/bench_concept_importance.py
"""

import time

import numpy as np
import tensorflow as tf

from xplique_lens.commons import split_model
from xplique_lens.concepts import (
    NMF,
    CDeletion,
    CInsertion,
    CMuFidelity,
    ConceptImportance,
    compare_extractors,
)
from xplique_lens.concepts.metrics import format_table
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset

R, BATCH = 10, 256
PASSES = {  # forward (or gradient) passes of h per image
    "sobol": 32 * (R + 1),
    "gradient_input": 1,
    "saliency": 1,
    "integrated_gradients": 50,
    "smoothgrad": 50,
    "occlusion": R + 1,
    "rise": 2000,
}


def main():
    model = get_reference_model()
    g, h = split_model(model, "features")
    data = make_synthetic_dataset(8, seed=123)  # 48 images, 6 classes
    activations = np.asarray(g(data.images))
    nmf = NMF(R).fit(activations.reshape(-1, 64))
    codes = nmf.transform(activations.reshape(-1, 64)).reshape(*activations.shape[:3], R)
    labels = data.labels
    n = len(codes)
    bank = tf.constant(nmf.components_)
    forward = tf.function(lambda a: h(tf.tensordot(a, bank, axes=1)))
    deletion, insertion = (
        CDeletion(h, codes, nmf.components_, labels),
        CInsertion(h, codes, nmf.components_, labels),
    )
    mufidelity = CMuFidelity(h, codes, nmf.components_, labels)
    print(f"built-in model, layer 'features', NMF r={R}, {n} images, spatial codes 16x16")
    print(
        f"{'method':22s} {'time s':>8s} {'floor s':>8s} {'ratio':>6s} "
        f"{'C-Del ↓':>8s} {'C-Ins ↑':>8s} {'C-µFid ↑':>8s}"
    )
    for method, passes in PASSES.items():
        estimator = ConceptImportance(h, nmf.components_, method, batch_size=BATCH)
        estimator(codes[:2], labels[:2])  # trace
        start = time.perf_counter()
        importances = estimator(codes, labels).numpy()
        ours = time.perf_counter() - start
        total = n * passes
        batch = tf.constant(np.repeat(codes[:1], min(BATCH, total), 0))
        forward(batch)
        start = time.perf_counter()
        for _ in range(-(-total // BATCH)):
            forward(batch).numpy()
        floor = time.perf_counter() - start
        print(
            f"{method:22s} {ours:8.3f} {floor:8.3f} {ours / floor:6.1f} "
            f"{deletion(importances):8.3f} {insertion(importances):8.3f} "
            f"{mufidelity(importances):8.3f}"
        )
    rng = np.random.default_rng(0)
    randoms = [rng.random((n, R)) for _ in range(10)]
    print(
        f"{'random order (mean 10)':22s} {'':8s} {'':8s} {'':6s} "
        f"{np.mean([deletion(r) for r in randoms]):8.3f} "
        f"{np.mean([insertion(r) for r in randoms]):8.3f} "
        f"{np.mean([mufidelity(r) for r in randoms]):8.3f}"
    )
    rows = rng.choice(activations.reshape(-1, 64).shape[0], 2000, replace=False)
    start = time.perf_counter()
    table = compare_extractors(activations.reshape(-1, 64)[rows], n_components=R)
    print(
        f"\nextractor comparison, 2000 positions of 'features', r={R} "
        f"({time.perf_counter() - start:.1f} s):"
    )
    print(format_table(table))


if __name__ == "__main__":
    main()
