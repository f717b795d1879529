import numpy as np
import pytest

from xplique_lens.datasets import CLASS_SPECS, make_synthetic_dataset


def test_deterministic_and_seed_dependent():
    a = make_synthetic_dataset(3, seed=5)
    b = make_synthetic_dataset(3, seed=5)
    c = make_synthetic_dataset(3, seed=6)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.part_masks["object"], b.part_masks["object"])
    assert not np.allclose(a.images, c.images)


def test_contents():
    data = make_synthetic_dataset(5, image_size=48, seed=0)
    assert data.images.shape == (5 * len(CLASS_SPECS), 48, 48, 3)
    assert data.images.dtype == np.float32
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    assert np.bincount(data.labels).tolist() == [5] * len(CLASS_SPECS)
    assert data.class_names[0] == "red_disk"
    assert set(data.part_masks) == {"object", "pattern"}
    # parts are present in every image, do not overlap, and cover a small share of the image
    for mask in data.part_masks.values():
        assert mask.sum((1, 2)).min() > 20
    assert not np.any(data.part_masks["object"] & data.part_masks["pattern"])
    assert 0.03 < data.masks.mean() < 0.25
    np.testing.assert_array_equal(data.one_hot().argmax(-1), data.labels)


def test_object_has_class_colour():
    data = make_synthetic_dataset(2, seed=1)
    for image, label, mask in zip(data.images, data.labels, data.part_masks["object"]):
        colour = np.asarray(CLASS_SPECS[label][2])
        assert np.abs(image[mask].mean(0) - colour).max() < 0.12


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_per_class"):
        make_synthetic_dataset(0)
    with pytest.raises(ValueError, match="image_size"):
        make_synthetic_dataset(2, image_size=16)
    with pytest.raises(TypeError, match="n_per_class"):
        make_synthetic_dataset(2.5)
