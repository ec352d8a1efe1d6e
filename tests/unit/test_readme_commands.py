"""Every command the README and docs/ tell a reader to run exists: each `dokploy-provider
<command>` and its flags, and each `make <target>`; the docs link only to files that exist."""

from __future__ import annotations

import re
from pathlib import Path

import click

from dokploy_provider.cli import build_app

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README = "\n".join(path.read_text(encoding="utf-8") for path in DOCUMENTS)


def _code() -> list[str]:
    """Fenced blocks and inline code spans: only what is meant to be typed."""
    fenced = re.findall(r"```[a-z]*\n(.*?)```", README, flags=re.DOTALL)
    prose = re.sub(r"```[a-z]*\n.*?```", "", README, flags=re.DOTALL)
    return fenced + re.findall(r"`([^`\n]+)`", prose)


def _invocations() -> list[list[str]]:
    found = []
    for text in _code():
        for line in text.replace("\\\n", " ").splitlines():
            for match in re.finditer(r"(?:^|[\s=])dokploy-provider\s+(-{0,2}[a-z][\w-]*.*)", line):
                words = match.group(1).split("#", 1)[0].split()
                found.append(words)
    return found


def test_readme_names_real_commands_and_flags() -> None:
    app = build_app()
    invocations = _invocations()
    assert any(words[0] == "doctor" for words in invocations), "the README documents doctor"
    for words in invocations:
        name = words[0]
        if name.startswith("-"):
            assert name in {"--version", "-v", "-q", "-h", "--help"}, words
            continue
        assert name in app.commands, f"README mentions `dokploy-provider {name}`"
        command = app.commands[name]
        flags = {opt for p in command.params if isinstance(p, click.Option) for opt in p.opts}
        for word in words[1:]:
            if word.startswith("--"):
                assert word.split("=", 1)[0] in flags, f"`dokploy-provider {name}` has no {word}"


def test_readme_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, flags=re.MULTILINE))
    mentioned = {m for text in _code() for m in re.findall(r"\bmake ([a-z][\w-]*)", text)}
    assert {"demo", "test", "dist"} <= mentioned
    assert mentioned <= targets, (
        f"README mentions make targets that do not exist: {mentioned - targets}"
    )


def test_release_files_the_readme_points_at_exist() -> None:
    for path in (
        ".github/workflows/release.yml",
        "CHANGELOG.md",
        "scripts/dist.py",
        "provider.yaml",
    ):
        assert path in README, path
        assert (ROOT / path).is_file(), path


def test_doc_links_stay_inside_the_repository_and_exist() -> None:
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            resolved = (document.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), (
                f"{document.name} links outside the repo: {target}"
            )
            assert resolved.exists(), f"{document.name} links to a missing file: {target}"
        assert "../shared" not in text, f"{document.name} names a file outside the repository"
