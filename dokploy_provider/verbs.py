"""Running one verb: every failure becomes one clear stderr line and an exit code.

Shared by the Click application (:mod:`dokploy_provider.cli`) and the ``status`` fast path
(:mod:`dokploy_provider.fast_status`), so both end a failed verb the same way; neither imports
the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

PROG = "dokploy-provider"
T = TypeVar("T")


def run_verb(verb: str, action: Callable[[], T]) -> T:
    """Run ``action``, turning every failure into one clear stderr line and an exit code."""
    from dokploy_provider import errors, log

    logger = log.get()
    try:
        return action()
    except errors.ProviderError as exc:
        logger.error("%s %s: %s", PROG, verb, exc)
        for line in exc.details:
            logger.error("  | %s", line)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        logger.error("%s %s: interrupted", PROG, verb)
        raise SystemExit(errors.EXIT_INTERRUPTED) from None
    except Exception as exc:  # the last line of defence: no traceback reaches a user
        logger.debug("unexpected error", exc_info=True)
        logger.error(
            "%s %s: unexpected internal error (%s: %s) — rerun with DEVPOD_DEBUG=true and "
            "report it with the output",
            PROG,
            verb,
            type(exc).__name__,
            log.redact(str(exc)),
        )
        raise SystemExit(errors.EXIT_FAILURE) from None
