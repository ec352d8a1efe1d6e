"""provider.yaml against DevPod's own validation rules (pkg/provider/parse.go), and in sync
with the code and the README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from dokploy_provider.option_table import OPTIONS, provider_yaml_sections
from dokploy_provider.options import option_names

ROOT = Path(__file__).resolve().parents[2]
PROVIDER = yaml.safe_load((ROOT / "provider.yaml").read_text())
NAME_RE = re.compile(r"^[a-z0-9-]{1,32}$")
OPTION_RE = re.compile(r"^[A-Z0-9_]+$")
SEMVER_RE = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
TYPES = {"string", "multiline", "duration", "number", "boolean"}
GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")


def test_name_and_version() -> None:
    assert NAME_RE.match(PROVIDER["name"])
    assert PROVIDER["name"] == "dokploy"
    assert SEMVER_RE.match(str(PROVIDER["version"]))


def test_machine_provider_execs_are_complete_single_strings() -> None:
    execs = PROVIDER["exec"]
    for verb in ("create", "delete", "start", "stop", "status", "command"):
        assert verb in execs, verb
    for verb, line in execs.items():
        assert isinstance(line, str), (
            f"exec.{verb} must be one string (a list is not shell-expanded)"
        )
        assert line.startswith("dokploy-provider "), verb
        assert line.split()[1] == verb
    assert "proxy" not in execs and "daemon" not in execs


@pytest.mark.parametrize("name", sorted(PROVIDER["options"]))
def test_option_follows_devpod_rules(name: str) -> None:
    option: dict[str, Any] = PROVIDER["options"][name]
    assert OPTION_RE.match(name)
    assert not ("default" in option and "command" in option)
    assert option.get("type", "string") in TYPES
    if "default" in option:
        assert isinstance(option["default"], str), (
            f"{name}: quote the default so YAML keeps it a string"
        )
    if option.get("global"):
        assert "cache" not in option and not option.get("mutable")
    if "validationPattern" in option:
        pattern = re.compile(option["validationPattern"])
        if option.get("default"):
            assert pattern.match(option["default"]), f"{name}: default fails its own pattern"
    if option.get("type") == "duration":
        assert GO_DURATION.match(option["default"])
    if option.get("type") == "boolean":
        assert option["default"] in {"true", "false"}
    assert len(option.get("description", "")) > 20, f"{name}: say what and why"


def test_token_is_a_password_and_required_options() -> None:
    options = PROVIDER["options"]
    assert options["DOKPLOY_API_TOKEN"].get("password") is True
    assert options["DOKPLOY_SERVER_URL"].get("required") is True
    assert options["DOKPLOY_API_TOKEN"].get("required") is True


def test_local_options_do_not_depend_on_global_ones() -> None:
    for name, option in PROVIDER["options"].items():
        if option.get("local"):
            assert "${" not in option.get("default", ""), name


def test_declared_options_are_exactly_what_the_code_reads() -> None:
    declared = set(PROVIDER["options"])
    read = option_names()
    assert declared - read == set(), "declared but never read by the code"
    assert read - declared == set(), "read by the code but not declared in provider.yaml"


def test_options_are_what_the_option_table_declares() -> None:
    # Each option is declared once, in option_table.OPTIONS; this file must say the same.
    expected = provider_yaml_sections()
    options: dict[str, Any] = expected["options"]  # type: ignore[assignment]
    for name in sorted(set(options) | set(PROVIDER["options"])):
        assert PROVIDER["options"].get(name) == options.get(name), (
            f"provider.yaml's {name} differs from option_table.OPTIONS; it should read:\n"
            + yaml.safe_dump({name: options.get(name)}, allow_unicode=True, sort_keys=False)
        )
    assert list(PROVIDER["options"]) == list(options), "same options, in the table's order"
    assert PROVIDER["optionGroups"] == expected["optionGroups"]
    assert set(OPTIONS) == option_names()


def test_option_groups_cover_every_option_once() -> None:
    grouped = [name for group in PROVIDER["optionGroups"] for name in group["options"]]
    assert all(group["name"] for group in PROVIDER["optionGroups"])
    assert sorted(grouped) == sorted(PROVIDER["options"])


def test_agent_section_is_wired_to_the_standard_options() -> None:
    agent = PROVIDER["agent"]
    assert agent["path"] == "${AGENT_PATH}"
    assert agent["inactivityTimeout"] == "${INACTIVITY_TIMEOUT}"
    assert agent["injectGitCredentials"] == "${INJECT_GIT_CREDENTIALS}"
    assert agent["injectDockerCredentials"] == "${INJECT_DOCKER_CREDENTIALS}"
    assert agent.get("local") in (None, "false", False)
    assert not PROVIDER["options"]["AGENT_PATH"]["default"].startswith("/tmp")


def test_readme_options_table_matches_provider_yaml() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- options:start -->", 1)[1].split("<!-- options:end -->", 1)[0]
    rows = {}
    for line in block.splitlines():
        match = re.match(r"^\| `([A-Z0-9_]+)` \| (.*?) \| (.*?) \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    assert set(rows) == set(PROVIDER["options"])
    for name, option in PROVIDER["options"].items():
        expected = "required" if option.get("required") else f"`{option.get('default', '')}`"
        if option.get("default", None) == "" and not option.get("required"):
            expected = "empty"
        assert rows[name] == expected, name
