"""Logging: one helper, always to stderr (stdout is DevPod's protocol channel).

Verbosity: ``-q`` warnings only, default info, ``-v`` or ``DEVPOD_DEBUG=true`` (Devsy:
``DEVSY_DEBUG``) debug. Every
record passes through a redaction filter holding the secrets registered with
:func:`register_secret` (the API token, private keys), so a secret cannot reach stderr even
when a library logs it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping

LOGGER_NAME = "dokploy_provider"
_REDACTED = "***"
_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    """Never print ``value``: every log line containing it gets it replaced by ``***``."""
    if value and len(value) >= 4:
        _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, _REDACTED)
    return text


class _NoLibraryTracebacks(logging.Filter):
    """Keeps a library's one-line error and drops the traceback it logs line by line after it.

    Paramiko logs every failed handshake (e.g. the readiness probe reaching docker-proxy
    before sshd listens) as ``Exception (client): …`` followed by one ERROR record per
    traceback line; with ``DEVPOD_DEBUG`` those reached DevPod's output as a wall of stack.
    """

    _TRACEBACK_LINE = re.compile(
        r"^(Traceback |During handling |\s|$|[\w.]+(Error|Exception)(:|$))"
    )

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(LOGGER_NAME) or record.levelno < logging.ERROR:
            return True
        return not self._TRACEBACK_LINE.match(record.getMessage())


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


#: DevPod v0.6.15 and the skevetter fork set ``DEVPOD_*``; Devsy v1.1 sets ``DEVSY_*`` only.
DEBUG_VARIABLES = ("DEVPOD_DEBUG", "DEVSY_DEBUG")
LOG_LEVEL_VARIABLES = ("DEVPOD_LOG_LEVEL", "DEVSY_LOG_LEVEL")


def debug_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the CLI asked for debug output: ``DEVPOD_DEBUG``/``DEVSY_DEBUG`` true, or the
    log level (``DEVPOD_LOG_LEVEL``/``DEVSY_LOG_LEVEL``) ``debug``. Neither is required."""
    env = os.environ if environ is None else environ
    if any(env.get(name, "").strip().lower() in {"1", "true", "yes"} for name in DEBUG_VARIABLES):
        return True
    return any(env.get(name, "").strip().lower() == "debug" for name in LOG_LEVEL_VARIABLES)


def setup(verbosity: int = 0) -> logging.Logger:
    """Configure the provider's logger. ``verbosity``: -1 quiet, 0 normal, 1 debug."""
    if debug_from_env():
        verbosity = max(verbosity, 1)
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s: %(message)s" if verbosity > 0 else "%(message)s"
    handler.setFormatter(_RedactingFormatter(fmt))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    # Libraries log through the root logger; send it to the same redacting stderr handler,
    # and only at debug, so httpx/paramiko chatter never reaches a normal user.
    root = logging.getLogger()
    root.handlers.clear()
    if verbosity > 0:
        library_handler = logging.StreamHandler(sys.stderr)
        library_handler.setFormatter(_RedactingFormatter(fmt))
        library_handler.addFilter(_NoLibraryTracebacks())
        root.addHandler(library_handler)
        root.setLevel(logging.DEBUG)
        for noisy in ("httpcore", "hpack"):
            logging.getLogger(noisy).setLevel(logging.INFO)
    else:
        root.setLevel(logging.CRITICAL + 1)
    return logger


def get(name: str | None = None) -> logging.Logger:
    """The provider's logger, or a child of it."""
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)
