"""YAML 1.2 (core schema) loading, as Docker Compose and Dokploy read compose files.

PyYAML implements YAML 1.1, where an unquoted ``- 2222:22`` is the base-60 integer 133342,
``on``/``yes`` are booleans and ``010`` is octal. Compose (Go, yaml.v3) reads YAML 1.2: the
same text is the string ``"2222:22"``. Reading other people's compose files with 1.1 rules
would hide the ports they publish. Only scalar resolution differs; the rest is PyYAML's.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


class Yaml12Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with the YAML 1.2 core schema's implicit scalar types."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012 - PyYAML's class-level registry


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", _BOOL, list("tTfF")),
    ("tag:yaml.org,2002:int", _INT, list("-+0123456789")),
    ("tag:yaml.org,2002:float", _FLOAT, list("-+.0123456789")),
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
):
    Yaml12Loader.add_implicit_resolver(_tag, _pattern, _first)
# merge keys (<<) and timestamps are not core-schema types, but compose files use `<<`
for _first, _resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items():
    for _tag, _pattern in _resolvers:
        if _tag == "tag:yaml.org,2002:merge":
            Yaml12Loader.add_implicit_resolver(_tag, _pattern, [_first])


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith("0o"):
        return int(text[2:], 8)
    return int(text, 0) if text.startswith("0x") else int(text, 10)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load(text: str) -> Any:
    """Parse one YAML document with YAML 1.2 scalar rules."""
    return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader subclass
