"""doctor's ordering, skipping and reporting, without a server (the e2e tests use the emulator)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dokploy_provider.doctor import Doctor, read_env_file
from dokploy_provider.doctor_report import CheckFailed, CheckResult, Outcome, _Check, failed
from dokploy_provider.errors import ConfigurationError


def _by_key(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.key: r for r in results}


def test_missing_url_fails_first_and_skips_everything_that_needs_it() -> None:
    results = Doctor({}).run()
    assert [r.key for r in results][:3] == ["url", "options", "reachable"]
    first = results[0]
    assert first.outcome is Outcome.FAIL
    assert "DOKPLOY_SERVER_URL is not set" in first.detail
    assert first.fix and "set-options" in first.fix
    assert all(r.outcome is Outcome.SKIP for r in results[1:])
    assert results[1].detail == "skipped: needs Dokploy URL"


def test_malformed_url_names_the_problem() -> None:
    results = _by_key(Doctor({"DOKPLOY_SERVER_URL": "ftp://x"}).run())
    assert results["url"].outcome is Outcome.FAIL
    assert results["options"].outcome is Outcome.SKIP


def test_missing_token_fails_options_with_a_fix() -> None:
    results = _by_key(Doctor({"DOKPLOY_SERVER_URL": "http://127.0.0.1:9"}).run())
    assert results["url"].outcome is Outcome.OK
    options = results["options"]
    assert options.outcome is Outcome.FAIL
    assert "DOKPLOY_API_TOKEN is required" in options.detail
    assert options.fix and "set-options" in options.fix
    assert results["reachable"].outcome is Outcome.SKIP


def test_unreachable_server_is_reported_not_raised() -> None:
    env = {
        "DOKPLOY_SERVER_URL": "http://127.0.0.1:9",  # discard port: refused
        "DOKPLOY_API_TOKEN": "doctor-unit-token",
        "DOKPLOY_HTTP_TIMEOUT": "2s",
    }
    results = _by_key(Doctor(env).run())
    assert results["options"].outcome is Outcome.OK
    assert results["reachable"].outcome is Outcome.FAIL
    assert "DOKPLOY_SERVER_URL" in (results["reachable"].fix or "")
    assert results["api_key"].outcome is Outcome.SKIP
    assert len(failed(list(results.values()))) == 1


def test_machine_checks_only_with_a_machine_folder(tmp_path: Path) -> None:
    without = [r.key for r in Doctor({}).run()]
    assert "state" not in without
    results = _by_key(Doctor({}, machine_folder=tmp_path).run())
    # The state check is local: it runs even though the server checks could not.
    assert results["state"].outcome is Outcome.FAIL
    assert "never created" in results["state"].detail
    assert results["compose"].outcome is Outcome.SKIP
    assert results["ssh"].outcome is Outcome.SKIP


class _Scripted(Doctor):
    """A doctor whose checks are given, to test the driver alone."""

    def __init__(self, checks: list[_Check]) -> None:
        super().__init__({})
        self._scripted = checks

    def checks(self) -> list[_Check]:
        return self._scripted


def _raise(detail: str, fix: str | None = None):  # type: ignore[no-untyped-def]
    def run() -> str:
        raise CheckFailed(detail, fix)

    return run


def test_driver_skips_dependants_of_failures_and_keeps_independent_checks() -> None:
    results = _Scripted(
        [
            _Check("a", "A", (), lambda: "fine"),
            _Check("b", "B", ("a",), _raise("broken", "do X")),
            _Check("c", "C", ("b",), lambda: "never runs"),
            _Check("d", "D", ("a",), lambda: "also fine"),
            _Check("e", "E", (), _raise("no fix given"), "default fix"),
        ]
    ).run()
    outcome = {r.key: r.outcome for r in results}
    assert outcome == {
        "a": Outcome.OK,
        "b": Outcome.FAIL,
        "c": Outcome.SKIP,
        "d": Outcome.OK,
        "e": Outcome.FAIL,
    }
    by = _by_key(results)
    assert by["b"].fix == "do X"
    assert by["c"].detail == "skipped: needs B"
    assert by["e"].fix == "default fix"


def test_a_crashing_check_becomes_a_failure() -> None:
    def crash() -> str:
        raise RuntimeError("boom")

    (result,) = _Scripted([_Check("x", "X", (), crash)]).run()
    assert result.outcome is Outcome.FAIL
    assert "RuntimeError: boom" in result.detail


def test_provider_errors_use_their_hint_as_the_fix() -> None:
    def bad() -> str:
        raise ConfigurationError("nope", hint="set Y")

    (result,) = _Scripted([_Check("x", "X", (), bad)]).run()
    assert (result.detail, result.fix) == ("nope", "set Y")


def test_rows_carry_mark_status_and_fix() -> None:
    row = CheckResult("k", "K", Outcome.FAIL, "bad", "fix it").row()
    assert row["mark"] == "✗" and row["status"] == "fail" and row["fix"] == "fix it"
    assert Outcome.OK.mark == "✓" and Outcome.SKIP.mark == "-"


def test_env_file(tmp_path: Path) -> None:
    path = tmp_path / "dokploy.env"
    path.write_text(
        "# options\nDOKPLOY_SERVER_URL=http://h:3000\nexport DOKPLOY_API_TOKEN='a b'\n\n"
        'DOKPLOY_SSH_PORT_RANGE="2222-2230"\nEMPTY=\n'
    )
    assert read_env_file(path) == {
        "DOKPLOY_SERVER_URL": "http://h:3000",
        "DOKPLOY_API_TOKEN": "a b",
        "DOKPLOY_SSH_PORT_RANGE": "2222-2230",
        "EMPTY": "",
    }
    path.write_text("not an assignment\n")
    with pytest.raises(ConfigurationError, match=r"dokploy\.env:1"):
        read_env_file(path)
