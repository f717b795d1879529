"""Peak memory of a Lens build: one class at a time, whatever the size of the dataset.

Writes, into a temporary folder, a dataset of ``--nb-classes`` x ``--per-class`` images at
``--size`` px (default 100 x 50 at 224x224: 718 MiB as uint8, 2.8 GiB as the float32 the
model reads) in four forms: an uncompressed ``.npz`` (``np.savez``: memory-mapped), a compressed one
(``np.savez_compressed``: streamed), an ``.npy`` without labels (memory-mapped, grouped by the
model's predictions in one batched pass) and a folder of JPEG files, written chunk by chunk so
that this parent process never holds the dataset either. Then, in a fresh subprocess per
setting, it builds the Lens of a tiny 224-px CNN (tiny options, ``--images-per-class`` = the
class size, classes ``--classes``: the first and last, so the compressed archive is streamed to
its end) and prints the peak resident memory (``ru_maxrss``) of that process:

- ``one class (array)``: the reference, ``build_lens`` called once per class with an array of
  just that class's images: the same work with one class in memory;
- ``npz``, ``npz compressed``, ``npy unlabeled``, ``folder``: ``xplique-lens build`` on the
  whole dataset (the lazy loading path of the command line); the ``.npy`` has no labels, so it
  is first run through the model in batches and the classes built are those the (untrained)
  model predicts;
- ``eager (all in memory)`` with ``--with-eager``: the whole dataset loaded first, as before
  lazy loading (needs ~11 GB of free memory at the default size).

``baseline`` is the resident memory once TensorFlow, the package and the model are loaded;
``peak - baseline`` is what the build added: each lazy setting should stay at (or below) the
reference, far below the dataset's size printed above the table. There is no Xplique
counterpart. Nothing is asserted.

Run: ``.venv/bin/python benchmarks/bench_lens_memory.py [--with-eager]
[--nb-classes 100 --per-class 50 --size 224 --classes 0,99]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _class_images(class_id: int, per_class: int, size: int) -> np.ndarray:
    """Smooth blocky uint8 images (fast to write as JPEG), a pattern per class plus noise."""
    rng = np.random.default_rng(class_id)
    cells = size // 32 or 1
    small = rng.integers(0, 256, (per_class, cells, cells, 3), dtype=np.uint8)
    images = np.repeat(np.repeat(small, size // cells, axis=1), size // cells, axis=2)
    images = images[:, :size, :size]
    noise = rng.integers(-8, 9, images.shape)
    return np.clip(images.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def write_datasets(root: Path, nb_classes: int, per_class: int, size: int) -> dict[str, Path]:
    """The four forms of the dataset, written one class at a time."""
    from PIL import Image

    shape = (nb_classes * per_class, size, size, 3)
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    labels = np.repeat(np.arange(nb_classes), per_class)
    names = np.array([f"class_{c:03d}" for c in range(nb_classes)])
    paths = {
        "npz": root / "data.npz",
        "npz compressed": root / "data_compressed.npz",
        "npy unlabeled": root / "images.npy",
        "folder": root / "folder",
    }
    archives = [
        zipfile.ZipFile(paths["npz"], "w", zipfile.ZIP_STORED, allowZip64=True),
        zipfile.ZipFile(
            paths["npz compressed"], "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=1
        ),
    ]
    members = [a.open("images.npy", "w", force_zip64=True) for a in archives]
    npy = open(paths["npy unlabeled"], "wb")  # noqa: SIM115 - closed below
    for file in (*members, npy):
        np.lib.format.write_array_header_1_0(file, header)
    for class_id in range(nb_classes):
        images = _class_images(class_id, per_class, size)
        for file in (*members, npy):
            file.write(images.tobytes())
        folder = paths["folder"] / names[class_id]
        folder.mkdir(parents=True)
        for i, image in enumerate(images):
            Image.fromarray(image).save(folder / f"{i:03d}.jpg", quality=90)
    npy.close()
    for archive, member in zip(archives, members):
        member.close()
        archive.writestr("labels.npy", _npy_bytes(labels))
        archive.writestr("class_names.npy", _npy_bytes(names))
        archive.close()
    return paths


def _make_model(path: Path, size: int, nb_classes: int) -> None:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 7, strides=4, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="features")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inputs, keras.layers.Dense(nb_classes, name="logits")(x)).save(path)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(args: argparse.Namespace) -> None:
    """One setting, in its own process: print ``{"baseline_mb", "peak_mb", "seconds"}``."""
    import keras

    from xplique_lens.cli import main as cli_main
    from xplique_lens.lens import LensOptions, build_lens
    from xplique_lens.lens.loading import load_images

    keras.models.load_model(args.model)  # the imports and a model: the floor of every setting
    baseline = _rss_mb()
    start = time.perf_counter()
    classes = [int(c) for c in args.classes.split(",")]
    flags = ["--preset", "tiny", "--images-per-class", str(args.per_class)]
    flags += ["--patch-size", str(args.size // 2), "--maco-size", "64"]
    options = LensOptions.preset(
        "tiny", images_per_class=args.per_class, patch_size=args.size // 2, maco_size=64
    )
    out = Path(args.out)
    names = [f"class_{c:03d}" for c in range(args.nb_classes)]
    if args.setting == "one class (array)":
        model = keras.models.load_model(args.model)
        for class_id in classes:  # the same work, with only one class's images in memory
            images = _class_images(class_id, args.per_class, args.size).astype(np.float32) / 255
            labels = np.full(len(images), class_id)
            build_lens(
                model, images, names, "features", out, labels=labels, classes=[class_id],
                options=options,
            )  # fmt: skip
            del images
    elif args.setting == "eager (all in memory)":
        model = keras.models.load_model(args.model)
        images, labels, _ = load_images(args.data)
        build_lens(
            model, images, names, "features", out, labels=labels, classes=classes,
            options=options,
        )  # fmt: skip
    else:
        # no labels: the classes the model predicts (one batched pass over every image)
        subset = [] if args.setting == "npy unlabeled" else ["--classes", args.classes]
        cli_main(
            ["build", "--model", args.model, "--images", args.data, "--layer", "features",
             "--out", str(out), "--quiet", *subset, *flags]
        )  # fmt: skip
    seconds = time.perf_counter() - start
    manifests = [json.loads(p.read_text()) for p in (out / "manifests").glob("*.json")]
    built = f"{len(manifests)} / {sum(m['n_images'] for m in manifests)}"
    print(json.dumps({"baseline_mb": baseline, "peak_mb": _rss_mb(), "seconds": seconds,
                      "built": built}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nb-classes", type=int, default=100)
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", default=None, help="classes built (default: first,last)")
    parser.add_argument("--with-eager", action="store_true", help="also load everything first")
    parser.add_argument("--child", dest="setting", help=argparse.SUPPRESS)
    for hidden in ("--model", "--data", "--out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.classes = args.classes or f"0,{args.nb_classes - 1}"
    if args.setting:
        child(args)
        return

    n = args.nb_classes * args.per_class
    pixels = args.size * args.size * 3
    print(
        f"dataset: {args.nb_classes} classes x {args.per_class} images at {args.size}x"
        f"{args.size}: {n * pixels / 2**20:.0f} MiB as uint8, {4 * n * pixels / 2**20:.0f} MiB "
        f"as float32; one class: {4 * args.per_class * pixels / 2**20:.1f} MiB as float32"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        paths = write_datasets(root, args.nb_classes, args.per_class, args.size)
        model = root / "model.keras"
        subprocess.run(
            [sys.executable, "-c", f"import bench_lens_memory as b; b._make_model("
             f"{str(model)!r}, {args.size}, {args.nb_classes})"],
            check=True, cwd=Path(__file__).parent, capture_output=True,
        )  # fmt: skip
        print(f"written in {time.perf_counter() - start:.0f} s; classes built: {args.classes}")
        settings = {"one class (array)": paths["npz"], **paths}
        if args.with_eager:
            settings["eager (all in memory)"] = paths["npz"]
        print(
            f"{'setting':>22} | baseline MiB | peak RSS MiB | peak - baseline | classes / "
            f"images built | seconds"
        )
        for number, (setting, data) in enumerate(settings.items()):
            command = [
                sys.executable, __file__, "--child", setting, "--model", str(model),
                "--data", str(data), "--out", str(root / f"site_{number}"),
                "--nb-classes", str(args.nb_classes), "--per-class", str(args.per_class),
                "--size", str(args.size), "--classes", args.classes,
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                print(f"{setting:>22} | failed:\n{result.stderr[-3000:]}")
                continue
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"{setting:>22} | {figures['baseline_mb']:12.0f} | {figures['peak_mb']:12.0f} | "
                f"{figures['peak_mb'] - figures['baseline_mb']:+15.0f} | {figures['built']:>21} | "
                f"{figures['seconds']:7.1f}"
            )


if __name__ == "__main__":
    main()
