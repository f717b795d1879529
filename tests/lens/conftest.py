"""A small Lens site built once for the lens tests, and a headless Chromium to open it."""

import pytest

from xplique_lens.datasets import FEATURE_LAYER, make_synthetic_dataset
from xplique_lens.lens import LensOptions, build_lens

SMALL = LensOptions(
    images_per_class=8,
    nb_examples=2,
    nb_concepts=3,
    nb_crops_shown=3,
    maco_steps=8,
    maco_size=32,
    maco_crops=4,
    sobol_grid=4,
    sobol_design=8,
    metric_images=2,
    metric_steps=4,
)
NAMES = ["red_disk", "green_square", "<script>alert('x')</script>", "yellow & cross", "ring", "d"]


@pytest.fixture(scope="session")
def lens_data():
    return make_synthetic_dataset(n_per_class=8, seed=21)


@pytest.fixture(scope="session")
def small_site(tmp_path_factory, reference_model, lens_data):
    out = tmp_path_factory.mktemp("site")
    report = build_lens(
        reference_model,
        lens_data.images,
        NAMES,
        FEATURE_LAYER,
        out,
        labels=lens_data.labels,
        classes=[0, 2, 3],
        options=SMALL,
        verbose=False,
    )
    return report
