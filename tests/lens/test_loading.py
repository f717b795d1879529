import json
from dataclasses import replace

import keras
import matplotlib.image
import numpy as np
import pytest

from xplique_lens.cli import main
from xplique_lens.lens import LensOptions, build_lens
from xplique_lens.lens import builder as builder_module
from xplique_lens.lens.loading import (
    ArrayImages,
    FolderImages,
    ImageSource,
    NpzImages,
    load_images,
    open_images,
    to_values_range,
)
from xplique_lens.lens.stages import STAGES

TINY = LensOptions(
    images_per_class=3,
    nb_examples=1,
    nb_concepts=2,
    patch_size=8,
    nb_crops_shown=2,
    maco_steps=4,
    maco_size=16,
    maco_crops=2,
    sobol_grid=4,
    sobol_design=8,
    metric_images=2,
    metric_steps=4,
)


@pytest.fixture
def only_stages(monkeypatch):
    """Run only the named stages in build_lens (the loading is what these tests check)."""

    def restrict(*names):
        monkeypatch.setattr(builder_module, "STAGES", [s for s in STAGES if s.name in names])

    return restrict


@pytest.fixture(scope="module")
def pixels():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (9, 16, 16, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def labels():
    return np.array([0, 1, 2, 0, 1, 2, 0, 1, 2])


@pytest.fixture(scope="module")
def folder(tmp_path_factory, pixels, labels):
    root = tmp_path_factory.mktemp("folder")
    for i, (image, label) in enumerate(zip(pixels, labels)):
        (root / f"class_{label}").mkdir(exist_ok=True)
        matplotlib.image.imsave(root / f"class_{label}" / f"{i:02d}.png", image)
    (root / "class_1" / "notes.txt").write_text("not an image")
    return root


def test_folder_lists_now_decodes_only_what_is_read(folder, pixels, labels):
    source = open_images(folder, values_range=(0, 255))
    assert isinstance(source, FolderImages)
    assert source.class_names == ["class_0", "class_1", "class_2"]
    np.testing.assert_array_equal(source.labels(), np.sort(labels))
    (folder / "class_2" / "bad.png").write_bytes(b"not a png")  # never decoded below
    try:
        source = open_images(folder, values_range=(0, 255))
        class_0 = source.read(np.flatnonzero(source.labels() == 0))
    finally:
        (folder / "class_2" / "bad.png").unlink()
    np.testing.assert_array_equal(class_0, pixels[labels == 0].astype(np.float32))
    unit = open_images(folder, values_range=(0, 1)).read([0])
    np.testing.assert_allclose(unit, pixels[:1] / 255, atol=1e-6)
    resized = open_images(folder, image_size=(8, 12)).read([0, 1])
    assert resized.shape == (2, 8, 12, 3) and resized.dtype == np.float32


def _write_npz(path, compressed=False, **arrays):
    (np.savez_compressed if compressed else np.savez)(path, **arrays)
    return path


@pytest.mark.parametrize("compressed", [False, True])
def test_npz_reads_rows_of_one_class(tmp_path, pixels, labels, compressed):
    images = pixels.astype(np.float32) / 255
    path = _write_npz(
        tmp_path / "data.npz",
        compressed,
        images=images,
        labels=labels,
        class_names=np.array(["a", "b", "c"]),
    )
    source = open_images(path)
    assert isinstance(source, NpzImages) and source.memory_mapped is not compressed
    assert source.class_names == ["a", "b", "c"] and len(source) == 9
    rows = np.flatnonzero(source.labels() == 1)
    np.testing.assert_array_equal(source.read(rows), images[labels == 1])
    batches = list(source.batches(4))
    assert [len(b) for b in batches] == [4, 4, 1]
    np.testing.assert_array_equal(np.concatenate(batches), images)


def test_npz_uint8_scaled_to_range_floats_kept(tmp_path, pixels):
    path = _write_npz(tmp_path / "u8.npz", images=pixels)
    np.testing.assert_allclose(NpzImages(path, (0, 255)).read([2]), pixels[2:3].astype(float))
    np.testing.assert_allclose(
        NpzImages(path, (-1, 1)).read([2]), pixels[2:3] / 127.5 - 1, atol=1e-6
    )
    floats = pixels.astype(np.float32)
    kept = to_values_range(floats, (0, 255))
    np.testing.assert_array_equal(kept, floats)
    assert kept is not floats  # never the caller's array


def test_npy_and_fortran_order(tmp_path, pixels):
    np.save(tmp_path / "images.npy", pixels)
    source = open_images(tmp_path / "images.npy", values_range=(0, 255))
    assert source.memory_mapped and source.labels() is None
    np.testing.assert_array_equal(source.read([1, 5]), pixels[[1, 5]].astype(np.float32))
    np.save(tmp_path / "fortran.npy", np.asfortranarray(pixels))
    source = open_images(tmp_path / "fortran.npy", values_range=(0, 255))
    assert not source.memory_mapped  # cannot be read by rows: held whole
    np.testing.assert_array_equal(source.read([1, 5]), pixels[[1, 5]].astype(np.float32))


def test_eager_load_images_still_works(tmp_path, pixels, labels):
    path = _write_npz(tmp_path / "d.npz", images=pixels, labels=labels)
    images, got_labels, names = load_images(path, values_range=(0, 255))
    np.testing.assert_array_equal(images, pixels.astype(np.float32))
    np.testing.assert_array_equal(got_labels, labels)
    assert names is None


def test_bad_sources(tmp_path, pixels):
    with pytest.raises(ValueError, match="'images' array"):
        open_images(_write_npz(tmp_path / "x.npz", pictures=pixels))
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        open_images(_write_npz(tmp_path / "y.npz", images=pixels[0]))
    with pytest.raises(ValueError, match="one integer per image"):
        open_images(_write_npz(tmp_path / "z.npz", images=pixels, labels=np.arange(3)))
    with pytest.raises(ValueError, match="folder of class folders, an .npz or an .npy"):
        open_images(tmp_path / "missing.h5")
    with pytest.raises(ValueError, match="no class sub-folders"):
        open_images(tmp_path)
    (tmp_path / "broken.npz").write_bytes(b"PK nothing")
    with pytest.raises(ValueError, match="not a readable .npz"):
        open_images(tmp_path / "broken.npz")
    with pytest.raises(ValueError, match="values_range"):
        open_images(tmp_path / "z.npz", values_range=(255, 0))
    source = ArrayImages(pixels)
    with pytest.raises(ValueError, match="strictly increasing"):
        source.read([3, 1])
    with pytest.raises(IndexError, match=r"\[0, 9\)"):
        source.read([9])


class _Recording(ImageSource):
    """An in-memory source that records what the build reads."""

    def __init__(self, images, labels):
        self.inner = ArrayImages(images, labels)
        self.reads: list[np.ndarray] = []

    def __len__(self):
        return len(self.inner)

    def labels(self):
        return self.inner.labels()

    def read(self, indices):
        self.reads.append(np.asarray(indices))
        return self.inner.read(indices)


def test_build_reads_one_class_at_a_time(
    tmp_path, tiny_functional_model, pixels, labels, only_stages
):
    only_stages("overview")
    source = _Recording(pixels.astype(np.float32) / 255, labels)
    options = replace(TINY, images_per_class=2)
    report = build_lens(
        tiny_functional_model,
        source,
        list("abc"),
        "conv",
        tmp_path,
        options=options,
        verbose=False,
    )
    assert sorted(report.stages) == [0, 1, 2]
    assert len(source.reads) == 3
    for read in source.reads:
        assert len(read) == 2 and len(set(labels[read])) == 1  # 2 images of one class


def test_unlabeled_npz_grouped_by_prediction(tmp_path, tiny_functional_model, pixels, only_stages):
    only_stages("overview")
    path = _write_npz(tmp_path / "u.npz", images=pixels.astype(np.float32) / 255)
    predicted = tiny_functional_model.predict(pixels / 255, verbose=0).argmax(-1)
    options = replace(TINY, images_per_class=9)
    report = build_lens(
        tiny_functional_model,
        open_images(path),
        list("abc"),
        "conv",
        tmp_path,
        options=options,
        verbose=False,
    )
    assert sorted(report.stages) == sorted(set(predicted))
    for class_id in report.stages:
        manifest = json.loads((tmp_path / "manifests" / f"{class_id:05d}.json").read_text())
        assert manifest["n_images"] == np.sum(predicted == class_id)


def test_build_checks_sources_against_options(tmp_path, tiny_functional_model, pixels, labels):
    path = _write_npz(tmp_path / "d.npz", images=pixels, labels=labels)
    args = (tiny_functional_model, open_images(path, values_range=(0, 255)), list("abc"), "conv")
    with pytest.raises(ValueError, match="values_range"):
        build_lens(*args, tmp_path, options=TINY, verbose=False)
    with pytest.raises(ValueError, match="`labels` must be None"):
        build_lens(*args, tmp_path, labels=labels, verbose=False)
    with pytest.raises(ValueError, match="preprocess"):
        build_lens(
            *args[:1], pixels / 255.0, *args[2:], tmp_path, options=replace(TINY, preprocess="x")
        )


def test_images_outside_values_range_warn(
    tmp_path, tiny_functional_model, pixels, labels, only_stages
):
    only_stages("overview")
    with pytest.warns(UserWarning, match="outside options.values_range"):
        build_lens(
            tiny_functional_model,
            pixels.astype(np.float32),
            list("abc"),
            "conv",
            tmp_path,
            labels=labels,
            classes=[0],
            options=TINY,
            verbose=False,
        )


def test_preprocess_option_feeds_the_model_what_it_expects(tmp_path, pixels, labels, only_stages):
    from keras.applications.imagenet_utils import preprocess_input

    only_stages("overview")
    keras.utils.set_random_seed(4)
    inputs = keras.Input((16, 16, 3))
    hidden = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    model = keras.Model(
        inputs, keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(hidden))
    )
    images = pixels.astype(np.float32) / 255
    options = replace(TINY, preprocess="caffe", images_per_class=9)
    report = build_lens(
        model, images, list("abc"), 1, tmp_path, labels=labels, options=options, verbose=False
    )
    predicted = model.predict(preprocess_input(pixels.astype(np.float32), mode="caffe"), verbose=0)
    for class_id in report.stages:
        manifest = json.loads((tmp_path / "manifests" / f"{class_id:05d}.json").read_text())
        expected = np.mean(predicted[labels == class_id].argmax(-1) == class_id)
        assert manifest["accuracy"] == pytest.approx(expected)
        assert manifest["layer"] == "conv"  # index 1 of the model, not of the wrapped one


def _twin(model, rescale):
    """A copy of the 16x16 tiny model, optionally taking 0-255 inputs (Rescaling first)."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs) if rescale else inputs
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    twin = keras.Model(inputs, keras.layers.Dense(3, name="logits")(x))
    twin.set_weights(model.get_weights())
    return twin


def test_pictures_look_the_same_in_0_255_and_0_1(
    tmp_path, tiny_functional_model, pixels, labels, only_stages
):
    only_stages("overview", "maco_class")  # the pictures of the class and the MACO image
    images = pixels.astype(np.float32) / 255
    sites = {}
    for name, model, data, values_range in (
        ("unit", _twin(tiny_functional_model, False), images, (0.0, 1.0)),
        ("bytes", _twin(tiny_functional_model, True), images * 255, (0.0, 255.0)),
    ):
        sites[name] = tmp_path / name
        build_lens(
            model,
            data,
            list("abc"),
            "conv",
            sites[name],
            labels=labels,
            classes=[1],
            options=replace(TINY, values_range=values_range),
            verbose=False,
        )
    pictures = sorted(
        p.name for p in (sites["unit"] / "classes" / "00001" / "images").glob("*.png")
    )
    assert pictures == ["maco_class.png", "thumb.png"]
    for name in pictures:
        unit = matplotlib.image.imread(sites["unit"] / "classes" / "00001" / "images" / name)
        other = matplotlib.image.imread(sites["bytes"] / "classes" / "00001" / "images" / name)
        assert np.abs(unit - other).max() <= 1 / 255 + 1e-6, name  # one 8-bit level at most


def test_cli_value_range_and_errors(
    tmp_path, tiny_functional_model, pixels, labels, only_stages, capsys
):
    only_stages("overview")
    model_path = tmp_path / "model.keras"
    _twin(tiny_functional_model, True).save(model_path)
    npz = _write_npz(tmp_path / "d.npz", images=pixels, labels=labels)
    common = ["build", "--model", str(model_path), "--layer", "conv", "--out", str(tmp_path / "s")]
    assert main([*common, "--images", str(npz), "--value-range", "0,255", "--quiet"]) == 0
    manifest = json.loads((tmp_path / "s" / "manifests" / "00000.json").read_text())
    assert manifest["n_images"] == 3
    with pytest.raises(SystemExit):
        main([*common, "--images", str(npz), "--value-range", "255"])
    assert "LOW,HIGH" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--images: .*an .npz or an .npy"):
        main([*common, "--images", str(tmp_path / "nothing.csv")])


def test_progress_is_a_deprecated_alias_of_verbose(
    tmp_path, tiny_functional_model, pixels, labels, only_stages, capsys
):
    only_stages("overview")
    args = (tiny_functional_model, pixels.astype(np.float32) / 255, list("abc"), "conv")
    with pytest.warns(DeprecationWarning, match="verbose"):
        report = build_lens(*args, tmp_path, labels=labels, options=TINY, progress=True)
    assert sorted(report.stages) == [0, 1, 2]
    assert "lens classes" in capsys.readouterr().err  # progress=True still shows the bar
    build_lens(*args, tmp_path, labels=labels, options=TINY)  # quiet by default
    assert "lens classes" not in capsys.readouterr().err
