"""Shared fixtures: tiny models and data, built once per test session."""

import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from xplique_lens.datasets import get_reference_model, make_synthetic_dataset  # noqa: E402


def pytest_configure(config):
    """Train the reference models into a temporary cache, not the user's ~/.cache.

    Set here (not in a fixture) so that the notebook kernels of the tutorial tests, started as
    subprocesses, inherit it and reuse the models trained by the session.
    """
    config._xplique_lens_cache = tempfile.mkdtemp(prefix="xplique_lens_test_cache_")
    config._xplique_lens_saved_cache = os.environ.get("XPLIQUE_LENS_CACHE")
    os.environ["XPLIQUE_LENS_CACHE"] = config._xplique_lens_cache


def pytest_unconfigure(config):
    folder = getattr(config, "_xplique_lens_cache", None)
    if folder is None:
        return
    shutil.rmtree(folder, ignore_errors=True)
    saved = config._xplique_lens_saved_cache
    if saved is None:
        os.environ.pop("XPLIQUE_LENS_CACHE", None)
    else:
        os.environ["XPLIQUE_LENS_CACHE"] = saved


@pytest.fixture(scope="session")
def reference_model():
    """The built-in reference CNN (seed 0), trained once and cached."""
    return get_reference_model(seed=0)


@pytest.fixture(scope="session")
def reference_model_b():
    """The second reference CNN (seed 1)."""
    return get_reference_model(seed=1)


@pytest.fixture(scope="session")
def small_data():
    """A small held-out split of the built-in dataset: 4 images per class (24)."""
    return make_synthetic_dataset(n_per_class=4, seed=123)


@pytest.fixture(scope="session")
def tiny_functional_model():
    """An untrained functional CNN on 16x16x3 inputs with 3 outputs (for shapes and plumbing)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, name="logits")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (two sync Playwright instances cannot run
    at once in one process)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium on PATH (`make test` installs Debian's package where it can)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as runner:
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


@pytest.fixture
def rng():
    return np.random.default_rng(0)
