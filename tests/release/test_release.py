"""The release artifact, installed the way DevPod installs it, driving the emulator.

`scripts/dist.py --host-only --local` builds this host's PEX and a provider.yaml whose binary
is an absolute local path without a checksum (what DevPod expects for local files). The test
then runs the manifest's own exec lines through `sh -c` with `DOKPLOY_PROVIDER` set to that
path, as DevPod does, with the development virtualenv off PATH.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from e2e.conftest import DevPod, Result

ROOT = Path(__file__).resolve().parents[2]
BINARY_NAME = re.compile(r"^[A-Z0-9_]+$")
GO_OS = {"linux": "linux", "darwin": "darwin"}.get(sys.platform, sys.platform)
GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine())


def _load_dist() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dist_script", ROOT / "scripts" / "dist.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def local_release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "dist.py"),
            "--host-only",
            "--local",
            "--out",
            str(out),
        ],
        check=True,
        cwd=ROOT,
        timeout=900,
    )
    yield out


def _exec_line(manifest: dict, verb: str) -> str:
    line = manifest["exec"][verb]
    assert line == "${DOKPLOY_PROVIDER} " + verb
    return line


def _run(
    devpod: DevPod, binary: str, pex_root: Path, line: str, machine_id: str | None, **extra: str
) -> Result:
    env = devpod.env(machine_id, **extra)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != venv_bin)
    env["DOKPLOY_PROVIDER"] = binary
    env["PEX_ROOT"] = str(pex_root)  # a fresh cache: the first run unpacks, like a new user
    if machine_id is not None:
        devpod.machine_folder(machine_id).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["sh", "-c", line], env=env, capture_output=True, timeout=180, cwd=devpod.home, check=False
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_local_manifest_lists_the_host_binary_without_checksum(local_release: Path) -> None:
    manifest = yaml.safe_load((local_release / "provider.yaml").read_text())
    (name,) = manifest["binaries"]
    assert BINARY_NAME.match(name)
    (entry,) = manifest["binaries"][name]
    assert (entry["os"], entry["arch"]) == (GO_OS, GO_ARCH)
    assert Path(entry["path"]).is_absolute() and Path(entry["path"]).is_file()
    assert "checksum" not in entry
    assert os.access(entry["path"], os.X_OK)
    dev = yaml.safe_load((ROOT / "provider.yaml").read_text())
    assert manifest["options"] == dev["options"] and manifest["agent"] == dev["agent"]
    assert set(manifest["exec"]) == set(dev["exec"])


def test_artifact_drives_a_workspace_through_devpods_exec_lines(
    local_release: Path, emulator_latest, devpod_factory, tmp_path: Path
) -> None:
    manifest = yaml.safe_load((local_release / "provider.yaml").read_text())
    binary = manifest["binaries"]["DOKPLOY_PROVIDER"][0]["path"]
    devpod = devpod_factory(emulator_latest)
    pex_root = tmp_path / "pex-root"

    def run(verb: str, machine_id: str | None = "ws1", **extra: str) -> Result:
        result = _run(devpod, binary, pex_root, _exec_line(manifest, verb), machine_id, **extra)
        assert emulator_latest.token.encode() not in result.stdout + result.stderr
        return result

    init = run("init", None)
    assert init.returncode == 0, init.err
    assert init.stdout == b""
    status = run("status")
    assert (status.returncode, status.out) == (0, "NotFound\n"), status.err

    assert run("create").returncode == 0
    assert run("status").out == "Running\n"
    echo = run("command", COMMAND="echo through-the-pex; exit 4")
    assert (echo.returncode, echo.out) == (4, "through-the-pex\n")
    assert run("delete").returncode == 0
    assert run("status").out == "NotFound\n"


def test_release_manifest_for_every_platform_has_urls_and_checksums() -> None:
    dist = _load_dist()
    binaries = [
        {
            "os": t.os,
            "arch": t.arch,
            "path": f"https://example.invalid/{t.name}.pex",
            "checksum": "ab" * 32,
        }
        for t in dist.TARGETS
    ]
    manifest = yaml.safe_load(dist.release_yaml(binaries, "1.2.3"))
    assert manifest["version"] == "v1.2.3"
    pairs = {(b["os"], b["arch"]) for b in manifest["binaries"]["DOKPLOY_PROVIDER"]}
    assert pairs == {
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
    }
    for verb, line in manifest["exec"].items():
        assert line == "${DOKPLOY_PROVIDER} " + verb
    assert all(
        re.fullmatch(r"[0-9a-f]{64}", b["checksum"])
        for b in manifest["binaries"]["DOKPLOY_PROVIDER"]
    )


def test_release_version_matches_the_package() -> None:
    from dokploy_provider import __version__

    assert _load_dist().version() == __version__


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _platform_tags(dist: ModuleType, target: Any) -> set[tuple[str, str, str]]:
    """The lock's ``platform_tag`` of each resolve serving ``target`` (one per CPython)."""
    tags = set()
    for full in dist.PYTHONS:
        abi = "cp" + "".join(full.split(".")[:2])
        tags.add((abi, abi, target.wheel_platform))
    return tags


def test_lock_is_resolved_from_the_declared_requirements_for_every_platform() -> None:
    dist = _load_dist()
    lock = json.loads((ROOT / "pex.lock").read_text())
    declared = {
        r for r in importlib.metadata.requires("dokploy-provider") or [] if "extra ==" not in r
    }
    assert set(lock["requirements"]) == declared, "pex.lock is stale: run `make lock`"
    assert lock["pip_version"] == dist.PIP_VERSION
    assert not lock["allow_builds"]
    resolved = [tuple(resolve["platform_tag"]) for resolve in lock["locked_resolves"]]
    expected = set().union(*(_platform_tags(dist, t) for t in dist.TARGETS))
    assert len(resolved) == len(expected) and set(resolved) == expected
    for resolve in lock["locked_resolves"]:
        for requirement in resolve["locked_requirements"]:
            for artifact in requirement["artifacts"]:
                assert artifact["url"].startswith("https://"), artifact
                assert artifact["algorithm"] == "sha256" and len(artifact["hash"]) == 64


def test_artifact_carries_exactly_the_locked_distributions(local_release: Path) -> None:
    dist = _load_dist()
    tags = _platform_tags(dist, dist.host_target())
    lock = json.loads((ROOT / "pex.lock").read_text())
    locked = {
        (_canonical(r["project_name"]), r["version"])
        for resolve in lock["locked_resolves"]
        if tuple(resolve["platform_tag"]) in tags
        for r in resolve["locked_requirements"]
    }
    (pex,) = local_release.glob("*.pex")
    with zipfile.ZipFile(pex) as archive:
        info = json.loads(archive.read("PEX-INFO"))
    carried = set()
    for wheel in info["distributions"]:
        name, wheel_version = wheel.split("-")[:2]
        carried.add((_canonical(name), wheel_version))
    from dokploy_provider import __version__

    assert carried == locked | {("dokploy-provider", __version__)}
