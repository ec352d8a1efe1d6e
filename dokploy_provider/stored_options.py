"""The provider options DevPod (or Devsy) stored, for the commands a user runs by hand.

DevPod runs the provider's verbs with every option in the environment. ``doctor``, ``list``
and ``cleanup`` are run by a person, usually with nothing exported: they read what
``devpod provider set-options`` (Devsy: ``devsy provider set``) saved in the CLI's
``config.yaml``: ``contexts.<context>.providers.<provider>.options.<NAME>.value``. An option
set in the environment still wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dokploy_provider.errors import ConfigurationError

DEFAULT_PROVIDER = "dokploy"
#: DevPod v0.6.15 and the fork: ``$DEVPOD_HOME`` or ``~/.devpod``; Devsy v1.1: ``~/.devsy``
#: (it does not honour a ``DEVSY_HOME``).
DEVSY_HOME = ".devsy"


@dataclass(frozen=True)
class StoredOptions:
    """Options found in one CLI home."""

    path: Path
    home: Path
    context: str
    provider: str
    values: dict[str, str]


def homes(environ: Mapping[str, str]) -> list[Path]:
    """The CLI homes to look in, in order."""
    user_home = Path(environ.get("HOME") or Path.home())
    devpod = Path(environ["DEVPOD_HOME"]) if environ.get("DEVPOD_HOME") else user_home / ".devpod"
    return [devpod, user_home / DEVSY_HOME]


def find(environ: Mapping[str, str]) -> StoredOptions | None:
    """The first home whose config holds options for the provider, or None."""
    provider = environ.get("PROVIDER_ID") or DEFAULT_PROVIDER
    for home in homes(environ):
        path = home / "config.yaml"
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigurationError(
                f"cannot read the stored provider options in {path}: {_reason(exc)}; fix or "
                "remove the file, or export the options instead"
            ) from exc
        found = _options_in(config, environ.get("DEVPOD_CONTEXT"), provider)
        if found is not None:
            context, values = found
            return StoredOptions(path, home, context, provider, values)
    return None


def _reason(exc: Exception) -> str:
    """One line: YAML's own messages span several."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return f"{exc.problem} (line {exc.problem_mark.line + 1})"
    return " ".join(str(exc).split())


def _options_in(
    config: Any, context: str | None, provider: str
) -> tuple[str, dict[str, str]] | None:
    if not isinstance(config, dict):
        return None
    name = context or str(config.get("defaultContext") or "default")
    entry = (config.get("contexts") or {}).get(name) or {}
    options = ((entry.get("providers") or {}).get(provider) or {}).get("options")
    if not isinstance(options, dict):
        return None
    values = {
        key: str(option["value"])
        for key, option in options.items()
        if isinstance(option, dict) and option.get("value") is not None
    }
    return name, values


def apply(environ: MutableMapping[str, str] | None = None) -> StoredOptions | None:
    """Fill ``environ`` (default: this process's) with the stored options it does not set.

    Also points ``DEVPOD_HOME``/``DEVPOD_CONTEXT`` at the home the options came from, so the
    machine folders read next are that CLI's. Returns what was used, or None.
    """
    env = os.environ if environ is None else environ
    stored = find(env)
    if stored is None:
        return None
    for key, value in stored.values.items():
        if not env.get(key, "").strip():
            env[key] = value
    env.setdefault("DEVPOD_HOME", str(stored.home))
    env.setdefault("DEVPOD_CONTEXT", stored.context)
    return stored
