"""Identifiers and timestamps shaped like Dokploy's (nanoid ids, generated appNames, ISO dates)."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone

# nanoid's default URL-safe alphabet, which Dokploy's ids use.
_NANOID_ALPHABET = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict"
_SUFFIX_ALPHABET = "abcdefghijklmnopqrstuvwxyz1234567890"

# A slice of faker's hacker vocabulary, which Dokploy's generateAppName draws from.
_VERBS = (
    "back up",
    "bypass",
    "hack",
    "override",
    "compress",
    "copy",
    "navigate",
    "index",
    "connect",
    "generate",
    "quantify",
    "calculate",
    "synthesize",
    "input",
    "transmit",
    "program",
    "reboot",
    "parse",
)
_ADJECTIVES = (
    "auxiliary",
    "primary",
    "back-end",
    "digital",
    "open-source",
    "virtual",
    "cross-platform",
    "redundant",
    "online",
    "haptic",
    "multi-byte",
    "bluetooth",
    "wireless",
    "1080p",
    "neural",
    "optical",
    "solid state",
    "mobile",
)
_NOUNS = (
    "driver",
    "protocol",
    "bandwidth",
    "panel",
    "microchip",
    "program",
    "port",
    "card",
    "array",
    "interface",
    "system",
    "sensor",
    "firewall",
    "hard drive",
    "pixel",
    "alarm",
    "feed",
    "monitor",
    "application",
    "transmitter",
    "bus",
    "circuit",
    "capacitor",
    "matrix",
)


def nanoid(size: int = 21) -> str:
    """A random nanoid-style id (21 URL-safe characters by default)."""
    return "".join(secrets.choice(_NANOID_ALPHABET) for _ in range(size))


def short_suffix(size: int = 6) -> str:
    """Random lowercase alphanumerics, as appended to appNames."""
    return "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(size))


def build_app_name(kind: str, base: str | None) -> str:
    """Dokploy's ``buildAppName``: cleaned base + suffix, else ``<kind>-<verb>-<adj>-<noun>-<sfx>``."""
    if base:
        return f"{base.strip().replace(' ', '-').lower()}-{short_suffix()}"
    words = [secrets.choice(group).replace(" ", "-") for group in (_VERBS, _ADJECTIVES, _NOUNS)]
    return f"{kind}-{'-'.join(words)}-{short_suffix()}"


def container_id() -> str:
    """A 12-hex-digit short container id, as ``docker ps`` prints."""
    return secrets.token_hex(6)


def now_iso() -> str:
    """The current time as an ISO-8601 string with milliseconds and ``Z`` (JS toISOString)."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"
