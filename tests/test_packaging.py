"""The wheel installs clean: every subpackage, the package data and the command are in it.

The wheel is built the way a user's ``pip install .`` builds it (``pip wheel --no-deps
--no-build-isolation``), from a copy of the sources in a temporary folder, so the working tree
gets no ``build/`` or ``*.egg-info`` from the test.
"""

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "xplique_lens"


def _source_files(pattern: str) -> list[str]:
    """Files of the package matching ``pattern``, as paths relative to the repository."""
    return sorted(
        p.relative_to(ROOT).as_posix()
        for p in PACKAGE.glob(pattern)
        if p.is_file() and "__pycache__" not in p.parts
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    for name in ("setup.cfg", "setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "xplique_lens", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-cache-dir", "--quiet", "-w", str(out), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("xplique_lens-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield {
            "names": set(archive.namelist()),
            "read": lambda name: archive.read(name).decode(),
            "path": path,
        }


@pytest.mark.slow
def test_wheel_holds_every_subpackage_and_module(wheel):
    packages = find_packages(str(ROOT), include=["xplique_lens", "xplique_lens.*"])
    assert "xplique_lens.attributions.sobol" in packages  # find_packages saw the tree
    for package in packages:
        assert f"{package.replace('.', '/')}/__init__.py" in wheel["names"], package
    modules = [
        f
        for f in _source_files("**/*.py")
        if (ROOT / f).parent.joinpath("__init__.py").exists()  # modules of packages only
    ]
    missing = sorted(set(modules) - wheel["names"])
    assert not missing, f"modules left out of the wheel: {missing}"
    top_levels = {name.split("/")[0] for name in wheel["names"]}
    assert {t for t in top_levels if not t.endswith(".dist-info")} == {"xplique_lens"}


@pytest.mark.slow
def test_wheel_holds_the_package_data(wheel):
    magnitudes = _source_files("features/data/*.npy")
    assets = _source_files("lens/assets/*")
    assert magnitudes and assets
    for name in [*magnitudes, *assets, "xplique_lens/py.typed"]:
        assert name in wheel["names"], f"{name} is not in the wheel"
    # any other data file of the package (not Python) must ship too, or it is a bug in
    # setup.cfg [options.package_data]; generator scripts outside packages are not data
    data = [f for f in _source_files("**/*") if not f.endswith((".py", ".pyc"))]
    missing = sorted(set(data) - wheel["names"])
    assert not missing, f"add to setup.cfg [options.package_data]: {missing}"


@pytest.mark.slow
def test_wheel_declares_the_command_and_the_url(wheel):
    (info,) = {n.split("/")[0] for n in wheel["names"] if n.endswith(".dist-info/METADATA")}
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel["read"](f"{info}/entry_points.txt"))
    assert entry_points["console_scripts"]["xplique-lens"].strip() == "xplique_lens.cli:main"
    setup_cfg = configparser.ConfigParser(interpolation=None)
    setup_cfg.read(ROOT / "setup.cfg")
    metadata = wheel["read"](f"{info}/METADATA")
    assert f"Home-page: {setup_cfg['metadata']['url']}" in metadata.splitlines()
    assert "Requires-Dist: tensorflow" in metadata
