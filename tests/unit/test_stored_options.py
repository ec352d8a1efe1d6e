"""Options that DevPod or Devsy stored, for `doctor`, `list` and `cleanup` run by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dokploy_provider import stored_options
from dokploy_provider.errors import ConfigurationError


def _config(home: Path, options: dict[str, str], *, context: str = "default") -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.yaml"
    # the shape `devpod provider set-options` writes (DevPod v0.6.15 pkg/config)
    path.write_text(
        yaml.safe_dump(
            {
                "contexts": {
                    context: {
                        "providers": {
                            "dokploy": {
                                "options": {
                                    name: {"userProvided": True, "value": value}
                                    for name, value in options.items()
                                }
                                | {"DOKPLOY_ENVIRONMENT_NAME": {}}
                            }
                        }
                    }
                },
                "defaultContext": context,
            }
        )
    )
    return path


def test_devpods_home_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    path = _config(
        tmp_path / ".devpod",
        {
            "DOKPLOY_SERVER_URL": "https://stored.example",
            "DOKPLOY_API_TOKEN": "stored-token",
            "WORKSPACE_CPUS": "2",
        },
    )
    env = {"HOME": str(tmp_path), "WORKSPACE_CPUS": "4", "DOKPLOY_SSH_HOST": ""}
    used = stored_options.apply(env)
    assert used is not None and used.path == path
    assert env["DOKPLOY_SERVER_URL"] == "https://stored.example"
    assert env["WORKSPACE_CPUS"] == "4"  # exported: wins
    assert "DOKPLOY_ENVIRONMENT_NAME" not in env  # stored without a value
    assert env["DEVPOD_HOME"] == str(tmp_path / ".devpod")  # machine folders come from there


def test_devpod_home_variable_and_named_context(tmp_path: Path) -> None:
    path = _config(
        tmp_path / "custom", {"DOKPLOY_SERVER_URL": "https://ctx.example"}, context="work"
    )
    env = {"HOME": str(tmp_path / "nobody"), "DEVPOD_HOME": str(tmp_path / "custom")}
    used = stored_options.apply(env)
    assert used is not None and used.path == path and used.context == "work"
    assert env["DEVPOD_CONTEXT"] == "work"


def test_devsys_home_when_devpod_has_none(tmp_path: Path) -> None:
    path = _config(tmp_path / ".devsy", {"DOKPLOY_SERVER_URL": "https://devsy.example"})
    env = {"HOME": str(tmp_path)}
    used = stored_options.apply(env)
    assert used is not None and used.path == path
    assert env["DOKPLOY_SERVER_URL"] == "https://devsy.example"


def test_nothing_stored_changes_nothing(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert stored_options.apply(env) is None
    assert env == {"HOME": str(tmp_path)}


def test_an_unreadable_config_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".devpod").mkdir()
    (tmp_path / ".devpod" / "config.yaml").write_text("contexts: [unclosed\n")
    with pytest.raises(ConfigurationError, match=r"config\.yaml.*export the options"):
        stored_options.apply({"HOME": str(tmp_path)})
