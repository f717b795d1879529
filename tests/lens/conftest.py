"""A small Lens site built once for the lens tests, and a headless Chromium to open it."""

import os
import shutil
import subprocess
import sys

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
        progress=False,
    )
    return report


def _install_chromium() -> str | None:
    """Path of a Chromium binary, installing Debian's package when possible (root, apt)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "chromium"],
            env=env,
            check=False,
            capture_output=True,
        )
    return shutil.which("chromium")


def _install_playwright() -> bool:
    try:
        import playwright  # noqa: F401

        return True
    except ImportError:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "playwright"], capture_output=True
        )
        return result.returncode == 0


@pytest.fixture(scope="session")
def browser():
    chromium = _install_chromium()
    if chromium is None:
        pytest.skip("no Chromium could be installed here (needs Debian's chromium package)")
    if not _install_playwright():
        pytest.skip("the playwright Python package could not be installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as runner:
        browser = runner.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()
