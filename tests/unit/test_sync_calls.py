"""Dokploy's synchronous compose calls: a long enough wait, then re-reading the outcome."""

from __future__ import annotations

import httpx
import pytest
import respx

from dokploy_provider import sync_calls
from dokploy_provider.dokploy import DokployClient
from dokploy_provider.errors import ReadyTimeout, ResponseTimeout, ServerUnreachable
from dokploy_provider.options import load_settings
from dokploy_provider.urls import parse_server_url

SETTINGS = load_settings(
    {
        "DOKPLOY_SERVER_URL": "https://d.example",
        "DOKPLOY_API_TOKEN": "tok-sync",
        "DOKPLOY_HTTP_TIMEOUT": "30s",
        "DOKPLOY_DEPLOY_TIMEOUT": "60s",
    }
)


def test_the_wait_covers_the_stop_grace_period_with_a_margin() -> None:
    # 30 s of HTTP timeout would end a `docker compose stop` that waits 40 s for SIGTERM
    assert sync_calls.call_timeout(SETTINGS) == 30 + 40 + sync_calls.MARGIN_SECONDS


def test_a_call_that_answers_is_all() -> None:
    seen: list[float] = []
    sync_calls.settle(
        seen.append,
        lambda: pytest.fail("no re-read needed"),
        endpoint="compose.stop",
        what="x",
        settings=SETTINGS,
    )
    assert seen == [sync_calls.call_timeout(SETTINGS)]


def _timing_out(timeout: float) -> None:
    raise ResponseTimeout("no answer from compose.stop", endpoint="compose.stop")


def test_after_a_response_timeout_the_outcome_is_waited_for() -> None:
    checks = iter([False, False, True])
    slept: list[float] = []
    sync_calls.settle(
        _timing_out,
        lambda: next(checks),
        endpoint="compose.stop",
        what="the workspace to stop",
        settings=SETTINGS,
        sleep=slept.append,
    )
    assert slept == [0.25, 0.5]


def test_an_outcome_that_never_comes_is_a_bounded_wait() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(ReadyTimeout, match=r"compose\.stop.*within 60 s"):
        sync_calls.settle(
            _timing_out,
            lambda: False,
            endpoint="compose.stop",
            what="x",
            settings=SETTINGS,
            sleep=sleep,
            clock=lambda: now[0],
        )


def test_unreachable_is_not_waited_out() -> None:
    def refused(timeout: float) -> None:
        raise ServerUnreachable("connection refused", endpoint="compose.stop")

    with pytest.raises(ServerUnreachable):
        sync_calls.settle(
            refused, lambda: True, endpoint="compose.stop", what="x", settings=SETTINGS
        )


@respx.mock(base_url="https://d.example/api")
def test_client_sends_the_longer_read_timeout_and_reports_a_timeout_as_sent(respx_mock) -> None:
    seen: list[dict] = []

    def slow(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        raise httpx.ReadTimeout("timed out", request=request)

    respx_mock.post("/compose.stop").mock(side_effect=slow)
    client = DokployClient(
        parse_server_url("https://d.example"),
        SETTINGS.token,
        connect_timeout=5.0,
        read_timeout=30.0,
    )
    with pytest.raises(ResponseTimeout):
        client.stop_compose("c1", read_timeout=100.0)
    assert seen[0]["read"] == 100.0 and seen[0]["connect"] == 5.0
