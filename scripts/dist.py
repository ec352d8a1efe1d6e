"""`make dist`: release artifacts (one PEX per OS/arch) and a release provider.yaml in dist/.

Each PEX holds the provider and its dependencies as wheels for CPython 3.10-3.13 on one
OS/arch, taken from the lock file `pex.lock`: one `pex3 lock` resolve per release platform (each
CPython of each OS/arch; Intel macOS gets older wheels than the rest, as newer ones stopped
shipping for it), every artifact pinned with its sha256. A release build resolves nothing,
and every platform is built from any host. `--update-lock` (`make lock`) re-resolves the lock
from the package's declared dependencies; a build whose wheel declares other requirements
than the lock was made from stops and says so. Archive dates come from the commit
(`SOURCE_DATE_EPOCH`), so one commit builds byte-identical artifacts.
It starts with `/usr/bin/env python3` and runs from a virtualenv it lays out under
`~/.cache/pex` on first use (`--venv`), so later verbs start about as fast as from a normal
install. It needs a CPython 3.10-3.13 on the user's machine; when `python3` is another version,
PEX's bootstrap finds a compatible interpreter on PATH. (`--sh-boot` would save ~0.1 s per verb
but picks the first `python3.X` name on PATH, which breaks on pyenv's shims.) Windows is not
built: DevPod runs the binary directly, and Windows cannot execute a zipapp.

The release provider.yaml is the dev one with each exec line `${DOKPLOY_PROVIDER} <verb>` and a
`binaries:` section listing every artifact with its sha256. `--local` writes absolute paths
without checksums instead (how DevPod is pointed at a local build).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BINARY = "DOKPLOY_PROVIDER"
LOCK = ROOT / "pex.lock"
#: CPython versions each PEX carries wheels for (full versions: some markers need them).
PYTHONS = ["3.10.16", "3.11.11", "3.12.9", "3.13.2"]
#: The pip that resolves the lock (recorded in it, and used again to install from it).
PIP_VERSION = "26.2.1"


@dataclass(frozen=True)
class Target:
    """One DevPod os/arch pair and the wheel platform tag that serves it."""

    os: str
    arch: str
    wheel_platform: str

    @property
    def name(self) -> str:
        return f"{self.os}-{self.arch}"

    def pex_platforms(self) -> list[str]:
        out = []
        for full in PYTHONS:
            major, minor, _ = full.split(".")
            out.append(f"{self.wheel_platform}-cp-{full}-cp{major}{minor}")
        return out


TARGETS = [
    Target("linux", "amd64", "manylinux2014_x86_64"),
    Target("linux", "arm64", "manylinux2014_aarch64"),
    Target("darwin", "amd64", "macosx_10_13_x86_64"),
    Target("darwin", "arm64", "macosx_11_0_arm64"),
]


def host_target() -> Target:
    """The target this machine is (for the test and `--host-only`)."""
    system = {"linux": "linux", "darwin": "darwin"}.get(sys.platform)
    machine = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower()
    )
    for target in TARGETS:
        if (target.os, target.arch) == (system, machine):
            return target
    raise SystemExit(f"no release target for this host ({sys.platform}/{platform.machine()})")


def version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version = "([^"]+)"', text, re.MULTILINE)
    assert match, "pyproject.toml has no version"
    return match.group(1)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_env() -> dict[str, str]:
    """The environment builds run in: ``SOURCE_DATE_EPOCH`` (the commit's time unless set)
    dates every archive entry, so the same commit builds byte-identical artifacts."""
    env = dict(os.environ)
    if "SOURCE_DATE_EPOCH" not in env:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            env["SOURCE_DATE_EPOCH"] = subprocess.run(
                ["git", "log", "-1", "--format=%ct"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
    return env


def build_wheel(out: Path) -> Path:
    """The project's own wheel (pure Python), so foreign-platform resolves never build it."""
    wheels = out / "wheel"
    for old in wheels.glob("*.whl"):
        old.unlink()
    # setuptools builds in build/lib and keeps what an earlier build left there, files since
    # moved or deleted included (the emulator, before it became its own distribution).
    shutil.rmtree(ROOT / "build" / "lib", ignore_errors=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
        check=True,
        cwd=ROOT,
        env=build_env(),
    )
    (wheel,) = wheels.glob("dokploy_provider-*.whl")
    return wheel


def _pex_tool(name: str) -> str:
    tool = Path(sys.executable).parent / name
    return str(tool) if tool.exists() else name


def update_lock() -> None:
    """Re-resolve :data:`LOCK` from the project's declared dependencies: wheels only, one
    resolve per platform of :data:`TARGETS`."""
    args = [_pex_tool("pex3"), "lock", "create", "--project", str(ROOT)]
    for target in TARGETS:
        for plat in target.pex_platforms():
            args += ["--platform", plat]
    args += ["--pip-version", PIP_VERSION, "--no-build", "--indent", "2", "-o", str(LOCK)]
    print(f"dist: resolving {LOCK.name}", file=sys.stderr, flush=True)
    subprocess.run(args, check=True, cwd=ROOT)


def wheel_requirements(wheel: Path) -> set[str]:
    """The ``Requires-Dist`` lines of a wheel's metadata, less its extras' (``[dev]``)."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name).decode("utf-8")
    return {
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }


def check_lock(wheel: Path) -> None:
    """Stop unless :data:`LOCK` was resolved from exactly the wheel's requirements."""
    lock = json.loads(LOCK.read_text(encoding="utf-8"))
    declared, locked = wheel_requirements(wheel), set(lock["requirements"])
    if declared != locked:
        raise SystemExit(
            f"dist: {LOCK.name} is stale (declared only: {sorted(declared - locked)}, locked "
            f"only: {sorted(locked - declared)}); run `make lock` and commit {LOCK.name}"
        )


def build_pex(target: Target, wheel: Path, out: Path) -> None:
    args = [_pex_tool("pex"), "--project", str(wheel), "--lock", str(LOCK), "--no-build"]
    args += ["--pip-version", PIP_VERSION]
    for plat in target.pex_platforms():
        args += ["--platform", plat]
    args += [
        "--console-script",
        "dokploy-provider",
        "--venv",
        "prepend",
        "--python-shebang",
        "/usr/bin/env python3",
        "--output-file",
        str(out),
    ]
    print(f"dist: building {out.name}", file=sys.stderr, flush=True)
    subprocess.run(args, check=True, cwd=ROOT, env=build_env())


def release_repo(explicit: str | None) -> str | None:
    """`owner/name` of the GitHub repository the release is published to, if known."""
    if explicit:
        return explicit
    if os.environ.get("GITHUB_REPOSITORY"):
        return os.environ["GITHUB_REPOSITORY"]
    try:
        url = subprocess.run(
            ["git", "remote", "get-url", "origin"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"github\.com[:/]([^/]+/[^/]+?)(\.git)?$", url)
    return match.group(1) if match else None


def release_yaml(binaries: list[dict[str, str]], release_version: str) -> str:
    """The dev provider.yaml with the release version, binaries and `${DOKPLOY_PROVIDER}`."""
    document = yaml.safe_load((ROOT / "provider.yaml").read_text(encoding="utf-8"))
    document["version"] = f"v{release_version}"
    document["exec"] = {
        verb: re.sub(r"^dokploy-provider\b", "${" + BINARY + "}", line)
        for verb, line in document["exec"].items()
    }
    document["binaries"] = {BINARY: binaries}
    ordered = {k: document[k] for k in document if k != "exec"}
    ordered["exec"] = document["exec"]
    header = (
        "# Release manifest written by `make dist` (scripts/dist.py) from provider.yaml.\n"
        "# Add it with: devpod provider add <this file or its release URL>\n"
    )
    return header + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--host-only", action="store_true", help="build this host's target only")
    parser.add_argument(
        "--local", action="store_true", help="absolute local paths without checksums"
    )
    parser.add_argument("--repo", help="GitHub owner/name (default: $GITHUB_REPOSITORY, origin)")
    parser.add_argument(
        "--update-lock", action="store_true", help=f"re-resolve {LOCK.name} and exit"
    )
    args = parser.parse_args()
    if args.update_lock:
        update_lock()
        return

    release = version()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    targets = [host_target()] if args.host_only else TARGETS
    repo = None if args.local else release_repo(args.repo)
    if not args.local and repo is None:
        print(
            "dist: no GitHub repository known (--repo, $GITHUB_REPOSITORY or a github.com "
            "origin); provider.yaml points at the local files",
            file=sys.stderr,
        )
    wheel = build_wheel(ROOT / "build")
    check_lock(wheel)
    binaries: list[dict[str, str]] = []
    sums: list[str] = []
    for target in targets:
        filename = f"dokploy-provider-{release}-{target.name}.pex"
        artifact = out / filename
        build_pex(target, wheel, artifact)
        digest = sha256(artifact)
        sums.append(f"{digest}  {filename}")
        entry = {"os": target.os, "arch": target.arch}
        if repo is not None:
            url = f"https://github.com/{repo}/releases/download/v{release}/{filename}"
            entry.update(path=url, checksum=digest)
        elif args.local:
            entry["path"] = str(artifact)  # DevPod deletes a local file whose checksum differs
        else:
            entry.update(path=str(artifact), checksum=digest)
        binaries.append(entry)
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    manifest = out / "provider.yaml"
    manifest.write_text(release_yaml(binaries, release), encoding="utf-8")
    print(f"dist: wrote {manifest} and {len(binaries)} artifact(s)", file=sys.stderr)


if __name__ == "__main__":
    main()
