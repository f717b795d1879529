"""Faithfulness of CRAFT's concept ranking across seeds, against the planted parts.

The built-in dataset plants two parts in every image (the class's coloured object and its
black-and-white pattern, ``data.part_masks``); both identify the class. For every data seed
(``make_synthetic_dataset(n_per_class, seed=s)``), every extractor seed and every class, a Craft
is fitted on the class's images (with Craft's default NMF, ``CRAFT_NMF_SETTINGS``, unless
``--nmf`` / ``--nmf-alpha`` change it) and, for each concept, the positive mass of its ``"input"``
concept attribution map (Integrated Gradients of the concept code, as in
``bench_craft_maps.py``) is split over the masks. The *best-covering* concept is the one whose
map puts the largest share of its positive mass on the planted parts (object or pattern); a
ranking is faithful when its top concept is that one. For each importance estimator the tables
give, over all runs:

- ``parts`` / ``obj``: mean (std) share of the top concept's positive map mass on the planted
  parts / on the object alone (``best`` rows: the same for the best-covering concept, i.e. the
  ceiling of any ranking);
- ``hit``: share of runs whose top concept is the best-covering one;
- ``gap``: mean relative importance gap ``(I_top - I_best) / I_top`` (0 on hits);
- ``flip``: share of runs whose top concept changes when the QMC design is re-scrambled
  (Sobol rows only, ``--design-seeds`` scrambles).

Estimators: total Sobol indices on the whole images' spatial codes (the default of
``Craft.estimate_importance``) at several ``nb_design``, Sobol on the crops' codes (the
factorised matrix ``U``), Gradient x Input and Occlusion (``ConceptImportance``), and Xplique's
``CraftTf`` when installed (its own sklearn NMF and importance; the mass of its concepts is
measured with the same ``"input"`` maps, built on its concept bank ``W``, since Xplique only
upsamples the codes), and ``sobol-ridge-bank``: the default Sobol estimator and the same maps
on the concept bank of scikit-learn's ridge-penalised NMF (``alpha_W=0.01``, Xplique's
extractor) fitted on the same crop activations, which isolates the extraction from the
estimator (both reference rows on the first ``--reference-seeds`` extractor seeds only, to keep
the run short). The last table gives the mass of the pixel Sobol attribution
(``SobolAttributionMethod``, grid 8, 32 designs) of the class logit for reference.

Extractor seeds. NNDSVDa (the default NMF initialisation) is deterministic, so an extractor seed
``e > 0`` shifts the crop grid: the images (and masks) are rolled by a seeded offset in
``[0, stride)`` before everything; ``--extractor-seed-mode init`` instead starts the NMF from a
seeded random initialisation (``NMF(init="random", seed=e)``) on the unshifted images.

Run: ``nice -n 10 python benchmarks/bench_faithfulness.py`` (5 data seeds x 3 extractor seeds x
6 classes, 6 minutes on 2 shared CPU cores); ``--data-seeds 10 --extractor-seeds 5`` for more;
``--out DIR`` writes the per-run records as ``.npz``. Writes nothing otherwise; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from xplique_lens.attributions import SobolAttributionMethod  # noqa: E402
from xplique_lens.attributions.sobol.samplers import HaltonSampler  # noqa: E402
from xplique_lens.concepts import NMF, ConceptImportance, Craft  # noqa: E402
from xplique_lens.concepts.craft_settings import CRAFT_NMF_SETTINGS  # noqa: E402
from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402

LAYER = "features"
#: reference rows of the tables -> key of their record in a run
REFERENCES = {"sobol-ridge-bank": "ridge", "xplique": "xq"}


def shares(maps: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of each concept's positive mass inside ``mask``: maps ``(N, H, W, r)``,
    mask ``(N, H, W)`` -> ``(r,)`` (0 for a concept without positive mass)."""
    positive = np.maximum(maps, 0.0)
    total = positive.sum(axis=(0, 1, 2))
    inside = (positive * mask[..., None]).sum(axis=(0, 1, 2))
    return np.where(total > 0, inside / np.maximum(total, 1e-30), 0.0)


def presence(maps: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """Share of each concept in the positive map mass, each map weighted by ``||W_k||``.

    A map adds up to the change of the code ``U_k``, which NMF's scale ambiguity
    (``U W = (U D)(D^-1 W)``) makes arbitrary; ``U_k ||W_k||`` is the size of the concept's
    part of the reconstruction, which is not. Concepts below ``--min-presence`` are absent from
    the images (their maps are noise around zero) and cannot be the best-covering concept.
    """
    mass = np.maximum(maps, 0.0).sum(axis=(0, 1, 2)) * np.linalg.norm(bank, axis=1)
    return mass / max(float(mass.sum()), 1e-30)


def roll(array: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """Roll images ``(N, H, W, ...)`` by ``(dy, dx)`` pixels (the crop grid moves over them)."""
    return np.roll(array, offset, axis=(1, 2))


def crop_importance(craft: Craft, nb_design: int) -> np.ndarray:
    """Total Sobol indices on the crops' codes ``U``, averaged: each crop's pooled activation
    is tiled over the layer's grid (``h`` starts with a global average pooling)."""
    codes = craft.crops_u_[:, None, None, :]
    grid = craft.transform(craft.inputs_[:1]).shape[1:3]

    def h(activations):
        return craft.latent_to_logit_model(tf.tile(activations, [1, *grid, 1]))

    estimator = ConceptImportance(
        h,
        craft.concept_bank_,
        "sobol",
        batch_size=256,
        nb_design=nb_design,
        sampler=HaltonSampler(scramble=False),
    )
    targets = np.full(len(codes), craft.class_id_, np.int64)
    return estimator.explain(codes, targets).numpy().mean(axis=0)


def local_method(craft: Craft, method: str) -> np.ndarray:
    """Mean local importance of ``method`` on the whole images' codes."""
    codes = craft.transform(craft.inputs_)
    targets = np.full(len(codes), craft.class_id_, np.int64)
    return ConceptImportance.from_craft(craft, method).explain(codes, targets).numpy().mean(0)


def with_bank(craft: Craft, bank: np.ndarray) -> Craft:
    """A copy of the fitted ``craft`` state whose concept bank is ``bank`` (NNLS codes)."""
    other = Craft(
        craft.input_to_latent_model,
        craft.latent_to_logit_model,
        number_of_concepts=len(bank),
        batch_size=craft.batch_size,
        patch_size=craft.patch_size,
    )
    other.__dict__.update({k: v for k, v in craft.__dict__.items() if k.endswith("_")})
    other.extractor.components_ = np.asarray(bank, np.float32)
    other.extractor.n_features_in_ = bank.shape[1]
    other.extractor.transform_max_iter, other.extractor.transform_tol = 100, 1e-6
    other.concept_bank_ = np.asarray(bank, np.float32)
    other.children_ = {}
    other._input_maps_fn = None
    return other


def xplique_run(model, images, class_id, rank, patch):
    """Xplique's CraftTf on the same images: ``(W, importances)``, or None when absent."""
    try:
        from xplique.concepts import CraftTf
    except ImportError:
        return None
    from xplique_lens.commons import split_model

    g, h = split_model(model, LAYER)
    craft = CraftTf(g, h, number_of_concepts=rank, patch_size=patch, batch_size=256)
    craft.fit(images, class_id=class_id)
    return craft.factorization.concept_bank_w, np.asarray(craft.estimate_importance())


def one_run(model, images, parts, class_id, args, extractor_seed, nmf_kwargs=None):
    """Everything measured on one (data, extractor seed, class): a dict of arrays."""
    rng = np.random.default_rng(extractor_seed)
    stride = max(int(0.8 * args.patch), 1)
    mode = args.extractor_seed_mode
    if mode == "roll" and extractor_seed > 0:
        offset = tuple(int(v) for v in rng.integers(0, stride, size=2))
        images, parts = roll(images, offset), {k: roll(m, offset) for k, m in parts.items()}
    kwargs = dict(nmf_kwargs or {})
    if mode == "init" and extractor_seed > 0:
        kwargs.update(init="random", seed=extractor_seed)
    craft = Craft.from_model(
        model,
        LAYER,
        number_of_concepts=args.rank,
        patch_size=args.patch,
        batch_size=256,
        extractor=NMF(args.rank, **kwargs),
    )
    craft.fit(images, class_id=class_id)
    union = parts["object"] | parts["pattern"]
    maps = craft.concept_attribution_maps(images, method="input", steps=args.steps).numpy()
    out = {
        "parts": shares(maps, union),
        "obj": shares(maps, parts["object"]),
        "presence": presence(maps, craft.concept_bank_),
    }
    imps = {}
    for nb in args.nb_design:
        imps[f"sobol-{nb}"] = craft.estimate_importance(nb_design=nb)
    flips = []
    nb = args.nb_design[len(args.nb_design) // 2]
    for s in range(args.design_seeds):
        scrambled = craft.estimate_importance(nb_design=nb, sampler=HaltonSampler(seed=s))
        flips.append(int(np.argmax(scrambled)))
    out["design_tops"] = np.asarray(flips)
    out["design_ref"] = f"sobol-{nb}"
    imps[f"sobol-{args.nb_design[0]}-crops"] = crop_importance(craft, args.nb_design[0])
    imps["gradient_input"] = local_method(craft, "gradient_input")
    imps["occlusion"] = local_method(craft, "occlusion")
    out["imps"] = imps
    if extractor_seed < args.reference_seeds:
        # the same estimator and maps on a ridge-penalised scikit-learn NMF bank (Xplique's)
        from sklearn.decomposition import NMF as SklearnNMF

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ridge = SklearnNMF(args.rank, alpha_W=1e-2).fit(craft.crops_activations_)
        bank = ridge.components_.astype(np.float32)
        other = with_bank(craft, bank)
        rmaps = other.concept_attribution_maps(images, method="input", steps=args.steps).numpy()
        out["ridge"] = {
            "parts": shares(rmaps, union),
            "obj": shares(rmaps, parts["object"]),
            "presence": presence(rmaps, bank),
            "imp": other.estimate_importance(nb_design=nb),
        }
    if args.xplique and extractor_seed < args.reference_seeds:
        result = xplique_run(model, images, class_id, args.rank, args.patch)
        if result is not None:
            bank, importances = result
            xq = with_bank(craft, bank)
            xmaps = xq.concept_attribution_maps(images, method="input", steps=args.steps).numpy()
            out["xq"] = {
                "parts": shares(xmaps, union),
                "obj": shares(xmaps, parts["object"]),
                "presence": presence(xmaps, bank),
                "imp": importances,
            }
    return out


def summarise(runs, imp_key, min_presence=0.0):
    """Per-run ``(parts, obj, hit, gap, best parts, best obj)`` for an estimator; the
    best-covering concept is chosen among those whose presence is ``>= min_presence``."""
    rows = []
    for index, run in enumerate(runs):
        if imp_key in REFERENCES:
            if REFERENCES[imp_key] not in run:
                continue
            run = {**run[REFERENCES[imp_key]], "imps": {imp_key: run[REFERENCES[imp_key]]["imp"]}}
        parts, obj, imp = run["parts"], run["obj"], run["imps"][imp_key]
        top = int(np.argmax(imp))
        best = int(np.argmax(np.where(run["presence"] >= min_presence, parts, -1.0)))
        gap = (imp[top] - imp[best]) / max(abs(imp[top]), 1e-12)
        rows.append((parts[top], obj[top], top == best, gap, parts[best], obj[best], index))
    return np.asarray(rows, np.float64) if rows else None


def table(runs, seeds_by_run, nb_classes, min_presence=0.0) -> None:
    """Print the estimator table and the per-class hit table."""
    keys = list(runs[0]["imps"]) + list(REFERENCES)
    print(f"\nbest-covering among concepts of presence >= {min_presence}")
    print(
        f"\n{'estimator':>22} {'parts':>12} {'obj':>12} {'hit':>5} {'gap':>6} {'flip':>5}"
        f" {'best parts':>12} {'best obj':>12}"
    )
    per_class = {}
    for key in keys:
        rows = summarise(runs, key, min_presence)
        if rows is None:
            continue
        flip = ""
        if key == runs[0]["design_ref"] and len(runs[0]["design_tops"]):
            changed = [np.any(r["design_tops"] != np.argmax(r["imps"][key])) for r in runs]
            flip = f"{np.mean(changed):5.2f}"
        print(
            f"{key:>22} {rows[:, 0].mean():5.3f}({rows[:, 0].std():4.2f})"
            f" {rows[:, 1].mean():5.3f}({rows[:, 1].std():4.2f}) {rows[:, 2].mean():5.2f}"
            f" {rows[:, 3].mean():6.3f} {flip:>5} {rows[:, 4].mean():5.3f}({rows[:, 4].std():4.2f})"
            f" {rows[:, 5].mean():5.3f}({rows[:, 5].std():4.2f})"
        )
        classes = np.asarray([seeds_by_run[int(i)][2] for i in rows[:, 6]])
        per_class[key] = [
            rows[classes == c, 2].mean() if np.any(classes == c) else np.nan
            for c in range(nb_classes)
        ]
    print(f"\nhit rate per class\n{'estimator':>22} " + " ".join(f"{c:>5}" for c in range(6)))
    for key, hits in per_class.items():
        print(f"{key:>22} " + " ".join(f"{h:5.2f}" for h in hits))


def main(args) -> None:
    model = get_reference_model(seed=args.model_seed)
    runs, seeds_by_run, pixel = [], [], []
    start = time.perf_counter()
    classes = args.classes or list(range(6))
    for data_seed in range(args.first_data_seed, args.first_data_seed + args.data_seeds):
        data = make_synthetic_dataset(n_per_class=args.n_per_class, seed=data_seed)
        for class_id in classes:
            selected = data.labels == class_id
            images = data.images[selected]
            parts = {k: m[selected] for k, m in data.part_masks.items()}
            if args.pixel_sobol:
                explainer = SobolAttributionMethod(model, grid_size=8, nb_design=32)
                targets = np.full(len(images), class_id, np.int64)
                attr = explainer(images, targets).numpy()
                pixel.append(
                    [
                        shares(attr, parts["object"] | parts["pattern"])[0],
                        shares(attr, parts["object"])[0],
                    ]
                )
            for extractor_seed in range(args.extractor_seeds):
                nmf_kwargs = {**CRAFT_NMF_SETTINGS, **dict(args.nmf)}
                if args.nmf_alpha is not None:
                    nmf_kwargs["alpha"] = args.nmf_alpha
                run = one_run(model, images, parts, class_id, args, extractor_seed, nmf_kwargs)
                runs.append(run)
                seeds_by_run.append((data_seed, extractor_seed, class_id))
        print(
            f"data seed {data_seed}: {len(runs)} runs, {time.perf_counter() - start:.0f} s",
            flush=True,
        )
    print(
        f"\n{len(runs)} runs: data seeds {args.first_data_seed}..+{args.data_seeds}, "
        f"extractor seeds {args.extractor_seeds} ({args.extractor_seed_mode}), classes "
        f"{classes}, {args.n_per_class} images per class, r={args.rank}, patch={args.patch}"
    )
    for min_presence in (0.0, args.min_presence):
        table(runs, seeds_by_run, 6, min_presence)
    if pixel:
        pixel = np.asarray(pixel)
        print(
            f"\npixel Sobol attribution (grid 8, 32 designs): parts {pixel[:, 0].mean():5.3f}"
            f"({pixel[:, 0].std():4.2f})  obj {pixel[:, 1].mean():5.3f}({pixel[:, 1].std():4.2f})"
        )
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "faithfulness_runs.npz")
        keys = list(runs[0]["imps"])
        np.savez(
            path,
            seeds=np.asarray(seeds_by_run),
            parts=np.stack([r["parts"] for r in runs]),
            obj=np.stack([r["obj"] for r in runs]),
            presence=np.stack([r["presence"] for r in runs]),
            **(
                {
                    "xq_parts": np.stack([r["xq"]["parts"] for r in runs]),
                    "xq_obj": np.stack([r["xq"]["obj"] for r in runs]),
                    "xq_presence": np.stack([r["xq"]["presence"] for r in runs]),
                    "xq_imp": np.stack([r["xq"]["imp"] for r in runs]),
                }
                if "xq" in runs[0]
                else {}
            ),
            **{f"imp_{k}": np.stack([r["imps"][k] for r in runs]) for k in keys},
        )
        print(f"records written to {path}")


def _setting(text: str) -> tuple[str, float | int | str]:
    """``KEY=VALUE`` -> ``(key, value)``, the value as an int, a float or a string."""
    key, _, value = text.partition("=")
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, value


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-seeds", type=int, default=5)
    parser.add_argument("--first-data-seed", type=int, default=100)
    parser.add_argument("--extractor-seeds", type=int, default=3)
    parser.add_argument("--extractor-seed-mode", choices=("roll", "init"), default="roll")
    parser.add_argument("--classes", type=int, nargs="*", default=None)
    parser.add_argument("--n-per-class", type=int, default=8)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--patch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8, help="Integrated Gradients steps")
    parser.add_argument("--nb-design", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--design-seeds", type=int, default=3)
    parser.add_argument("--min-presence", type=float, default=0.05)
    parser.add_argument("--model-seed", type=int, default=0)
    parser.add_argument("--no-xplique", dest="xplique", action="store_false")
    parser.add_argument(
        "--reference-seeds",
        type=int,
        default=1,
        help="extractor seeds on which the ridge-bank and Xplique rows are run",
    )
    parser.add_argument("--no-pixel-sobol", dest="pixel_sobol", action="store_false")
    parser.add_argument(
        "--nmf-alpha", type=float, default=None, help="ridge of our NMF (scikit-learn's alpha_W)"
    )
    parser.add_argument(
        "--nmf",
        type=_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting of our NMF over Craft's default (CRAFT_NMF_SETTINGS), repeatable; the "
        "former default: --nmf alpha=0 --nmf max_iter=500 --nmf inner_sweeps=3 --nmf tol=1e-4",
    )
    parser.add_argument("--out", default=None, help="folder for the per-run records (.npz)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse())
