"""The repository's two distributions: the product ships only the product, the emulator is its
own, and each declares every third-party package its code imports.

The product's wheel is the one `make dist` builds; the emulator's is built the same way.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dokploy_emulator.process import API_KEY_ENV

from .test_release import _load_dist

ROOT = Path(__file__).resolve().parents[2]
EMULATOR = ROOT / "emulator"


def _emulator_wheel(out: Path) -> zipfile.ZipFile:
    shutil.rmtree(EMULATOR / "build" / "lib", ignore_errors=True)  # as scripts/dist.py does
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), "."],
        check=True,
        cwd=EMULATOR,
        timeout=600,
    )
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


@pytest.fixture(scope="module")
def product_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel `make dist` puts in every PEX."""
    return zipfile.ZipFile(_load_dist().build_wheel(tmp_path_factory.mktemp("product")))


@pytest.fixture(scope="module")
def emulator_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    return _emulator_wheel(tmp_path_factory.mktemp("emulator"))


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (path,) = (n for n in wheel.namelist() if n.endswith(f".dist-info/{name}"))
    return wheel.read(path).decode()


def test_product_wheel_contains_no_emulator_file(product_wheel: zipfile.ZipFile) -> None:
    names = product_wheel.namelist()
    assert any(n.startswith("dokploy_provider/") for n in names)
    packages = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert packages == {"dokploy_provider"}, packages
    assert not [n for n in names if "emulator" in n], names
    scripts = _dist_info(product_wheel, "entry_points.txt")
    assert "dokploy-provider = dokploy_provider.cli:main" in scripts
    assert "emulator" not in scripts


def test_product_wheel_is_byte_identical_when_rebuilt(
    product_wheel: zipfile.ZipFile, tmp_path: Path
) -> None:
    again = _load_dist().build_wheel(tmp_path)
    assert Path(str(product_wheel.filename)).read_bytes() == again.read_bytes()


def test_emulator_wheel_is_the_emulator_with_its_console_script(
    emulator_wheel: zipfile.ZipFile,
) -> None:
    names = emulator_wheel.namelist()
    assert "dokploy_emulator/__main__.py" in names
    assert "dokploy_emulator/schemas.json" in names
    packages = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert packages == {"dokploy_emulator"}, packages
    assert "dokploy-emulator = dokploy_emulator.__main__:main" in _dist_info(
        emulator_wheel, "entry_points.txt"
    )


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _third_party_imports(package: Path) -> set[str]:
    """Top-level modules the package's code imports that are neither stdlib nor its own."""
    found: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__", package.name}


@pytest.mark.parametrize(
    ("distribution", "package"),
    [
        ("dokploy-provider", ROOT / "dokploy_provider"),
        ("dokploy-emulator", EMULATOR / "dokploy_emulator"),
    ],
)
def test_every_imported_package_is_declared(distribution: str, package: Path) -> None:
    declared = {
        _canonical(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0])
        for requirement in importlib.metadata.requires(distribution) or []
        if "extra ==" not in requirement
    }
    providers = importlib.metadata.packages_distributions()
    imported = _third_party_imports(package)
    assert imported, package
    for module in sorted(imported):
        owners = {_canonical(d) for d in providers.get(module, [])}
        assert owners & declared, f"{package.name} imports {module} ({owners}); declare it"


def test_dokploy_emulator_console_script_serves(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "dokploy-emulator"
    assert script.is_file(), "make installs the emulator distribution (pip install -e emulator)"
    proc = subprocess.Popen(
        [str(script), "--port", "0", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, API_KEY_ENV: "console-script-test"},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("dokploy-emulator ready url=http://127.0.0.1:")
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
