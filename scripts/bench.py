"""`make bench`: the provider's hot paths measured side by side with OpenSSH's `ssh` client.

Starts its own sshd (a real OpenSSH server, as in the tests) and its own Dokploy emulator,
then measures, in one run and against the same sshd:

* ``command`` connect → exit ``true`` vs ``ssh … true`` (whole-process wall time, median);
* upload (256 MiB stdin → remote ``cat >/dev/null``) and download (remote
  ``head -c 256M /dev/zero``) throughput, and the client's CPU (user+sys) per GiB moved;
* round-trip latency: 2,000 ping-pong lines of 64 bytes through remote ``cat``;
* agent streaming: 120 MiB on stdin into a remote file, then exit (DevPod's agent upload);
* ``status`` cold against the emulator (fast path, and the full click path for comparison),
  with ``python -c pass`` beside it;
* ``create`` → SSH ready against the emulator, split into time spent waiting on Dokploy /
  the container and the provider's own overhead.

Each figure is compared with its target from issue 6; a table is printed and a JSON file is
written under ``bench-results/``. Timing only — nothing here asserts, and the tests never
time anything. ``--quick`` runs fewer, smaller rounds (a smoke test of the script itself).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dokploy_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' helpers (support.ports)
BIN = Path(sys.executable).parent
PROVIDER = str(BIN / "dokploy-provider")
RESULTS = ROOT / "bench-results"
MIB = 1024 * 1024
MACHINE_ID = "bench"
TIMING_TAG = "BENCH-TIMING "
CIPHER = "aes128-gcm@openssh.com"


# -- running one client process ------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One finished process: wall seconds, CPU seconds (user+sys of that process), exit code,
    and its stderr when it was captured."""

    wall: float
    cpu: float
    code: int
    stderr: bytes = b""


def run_process(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: Any = subprocess.DEVNULL,
    stdout: Any = subprocess.DEVNULL,
    stderr: Any = subprocess.DEVNULL,
) -> Run:
    """Run ``argv`` to completion; its own rusage comes from ``os.wait4``.

    A captured stderr (``subprocess.PIPE``) must stay small: it is read after the exit.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=stdout, stderr=stderr)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr is not None else b""
    if proc.stderr is not None:
        proc.stderr.close()
    return Run(wall, usage.ru_utime + usage.ru_stime, proc.returncode, err)


def medians_ms(walls: dict[str, list[float]]) -> dict[str, Any]:
    """Per name: the median of its wall seconds, in milliseconds, and the number of runs."""
    return {
        name: {"median_ms": 1000 * statistics.median(v), "runs": len(v)}
        for name, v in walls.items()
    }


# -- the two clients -------------------------------------------------------------------------------


@dataclass
class Clients:
    """How to run a remote command through our provider and through ``ssh``."""

    folder: Path
    port: int
    known_hosts: Path
    key: Path

    def ours(self, command: str) -> tuple[list[str], dict[str, str]]:
        """``dokploy-provider command`` with the environment DevPod gives it."""
        env = {
            **os.environ,
            "MACHINE_ID": MACHINE_ID,
            "MACHINE_FOLDER": str(self.folder),
            "MACHINE_CONTEXT": "default",
            "MACHINE_PROVIDER": "dokploy",
            "DOKPLOY_SERVER_URL": "http://127.0.0.1:1",
            "DOKPLOY_API_TOKEN": "bench-unused-token",
            "COMMAND": command,
        }
        return [PROVIDER, "command"], env

    def ssh(self, command: str) -> tuple[list[str], dict[str, str]]:
        """OpenSSH's client: pinned host key, our client key, the same cipher class."""
        argv = [
            "ssh", "-F", "/dev/null", "-T",
            "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", "LogLevel=ERROR",
            "-c", CIPHER,
            "-i", str(self.key),
            "-p", str(self.port),
            "root@127.0.0.1",
            command,
        ]  # fmt: skip
        return argv, dict(os.environ)

    def both(self) -> dict[str, Callable[[str], tuple[list[str], dict[str, str]]]]:
        """``{"ours": …, "ssh": …}``."""
        return {"ours": self.ours, "ssh": self.ssh}


@contextlib.contextmanager
def workspace(tmp: Path) -> Iterator[Clients]:
    """A machine folder with real keys and state, and a real sshd it points at."""
    from support.ports import start_on_free_port

    from dokploy_emulator.sshd import SshdError
    from dokploy_provider.keys import ensure_machine_keys
    from dokploy_provider.state import MachineFolder, MachineState

    folder = MachineFolder(tmp / "machines" / MACHINE_ID)
    keys = ensure_machine_keys(folder, MACHINE_ID)
    try:
        sshd = start_on_free_port(
            tmp / "sshd", folder.host_key_path.read_bytes(), keys.client_public_line
        )
    except SshdError as exc:
        raise SystemExit(f"could not start sshd: {exc}") from exc
    port = sshd.spec.port
    folder.save(
        MachineState(
            machine_id=MACHINE_ID,
            phase="ready",
            ssh_host="127.0.0.1",
            ssh_port=port,
            host_key_public=keys.host_public_line,
            host_key_fingerprint=keys.host_fingerprint,
            client_key_fingerprint=keys.client_fingerprint,
        )
    )
    known_hosts = tmp / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {keys.host_public_line}\n", encoding="ascii")
    try:
        yield Clients(folder.path, port, known_hosts, folder.client_key_path)
    finally:
        sshd.stop()


# -- tunnel measurements ---------------------------------------------------------------------------


def time_both(
    clients: Clients, command: str, rounds: int, what: str, stdin: Path | None = None
) -> dict[str, Any]:
    """Whole-process wall time of ``command`` through both clients, interleaved."""
    walls: dict[str, list[float]] = {"ours": [], "ssh": []}
    for _ in range(rounds):
        for name, make in clients.both().items():
            argv, env = make(command)
            with stdin.open("rb") if stdin else contextlib.nullcontext(subprocess.DEVNULL) as src:
                result = run_process(argv, env=env, stdin=src)
            if result.code != 0:
                raise SystemExit(f"{name} {what} exited {result.code}")
            walls[name].append(result.wall)
    return medians_ms(walls)


def bench_connect(clients: Clients, rounds: int) -> dict[str, Any]:
    """Connect, run ``true``, exit: whole-process wall time, interleaved."""
    for make in clients.both().values():  # warm the page cache and sshd once
        argv, env = make("true")
        run_process(argv, env=env)
    return time_both(clients, "true", rounds, "`true`")


def zero_file(path: Path, size: int) -> Path:
    """A file of ``size`` zero bytes (no compression is in use, so content does not matter)."""
    if not path.exists() or path.stat().st_size != size:
        chunk = bytes(4 * MIB)
        with path.open("wb") as handle:
            left = size
            while left > 0:
                handle.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
    return path


def bench_transfer(clients: Clients, size: int, rounds: int, tmp: Path) -> dict[str, Any]:
    """Upload and download throughput; CPU of each client per GiB moved.

    Throughput is timed by the remote shell (same host, same clock) over the data phase only:
    upload from the first byte received to EOF, download from the first byte written to the
    last; connection set-up is measured separately. The whole-process rate is kept beside it.
    """
    source = zero_file(tmp / "upload.bin", size)
    stamp = "$(date +%s%N)"
    commands = {
        "upload": f'head -c 1 >/dev/null; a={stamp}; cat >/dev/null; echo "$a {stamp}" >&2',
        "download": f'a={stamp}; head -c {size // MIB}M /dev/zero; echo "$a {stamp}" >&2',
    }
    results: dict[str, Any] = {}
    for direction, command in commands.items():
        per: dict[str, dict[str, list[float]]] = {
            n: {"wall": [], "cpu": [], "data": []} for n in ("ours", "ssh")
        }
        for _ in range(rounds):
            for name, make in clients.both().items():
                argv, env = make(command)
                with source.open("rb") as stdin:
                    result = run_process(
                        argv,
                        env=env,
                        stdin=stdin if direction == "upload" else subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                if result.code != 0:
                    raise SystemExit(f"{name} {direction} exited {result.code}: {result.stderr!r}")
                first, last = (int(n) for n in result.stderr.split()[-2:])
                per[name]["wall"].append(result.wall)
                per[name]["cpu"].append(result.cpu)
                per[name]["data"].append((last - first) / 1e9)
        results[direction] = {}
        for name, values in per.items():
            results[direction][name] = {
                "mib_per_s": size / MIB / statistics.median(values["data"]),
                "whole_process_mib_per_s": size / MIB / statistics.median(values["wall"]),
                "wall_median_s": statistics.median(values["wall"]),
                "cpu_median_s": statistics.median(values["cpu"]),
            }
    gib = 2 * size / (1024 * MIB)
    results["cpu_per_gib"] = {
        name: (results["upload"][name]["cpu_median_s"] + results["download"][name]["cpu_median_s"])
        / gib
        for name in ("ours", "ssh")
    }
    return results


def bench_round_trips(clients: Clients, count: int) -> dict[str, Any]:
    """``count`` ping-pongs of one 64-byte line through remote ``cat``: median and p99."""
    line = b"x" * 63 + b"\n"
    results: dict[str, Any] = {}
    for name, make in clients.both().items():
        argv, env = make("cat")
        proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        assert proc.stdin is not None and proc.stdout is not None
        write_fd, read_fd = proc.stdin.fileno(), proc.stdout.fileno()
        samples: list[float] = []
        for index in range(count + 20):
            started = time.perf_counter()
            os.write(write_fd, line)
            got = 0
            while got < len(line):
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    raise SystemExit(f"{name}: remote cat ended early")
                got += len(chunk)
            if index >= 20:  # the first answers include session start-up
                samples.append(time.perf_counter() - started)
        proc.stdin.close()
        proc.wait(30)
        samples.sort()
        results[name] = {
            "median_us": 1e6 * statistics.median(samples),
            "p99_us": 1e6 * samples[int(len(samples) * 0.99) - 1],
            "count": len(samples),
        }
    return results


def bench_agent_stream(clients: Clients, size: int, rounds: int, tmp: Path) -> dict[str, Any]:
    """DevPod's agent upload: ``size`` bytes on stdin into a remote file, then exit."""
    source = zero_file(tmp / "agent.bin", size)
    target = "/tmp/dokploy-bench-agent.$$"
    command = f"cat > {target} && rm -f {target}"
    return time_both(clients, command, rounds, "agent stream", stdin=source)


# -- provider verbs against the emulator -----------------------------------------------------------


@dataclass
class EmulatorRun:
    """A running emulator and the environment DevPod would give verbs against it."""

    process: EmulatorProcess
    home: Path
    extra: dict[str, str] = field(default_factory=dict)

    def env(self, machine_id: str) -> dict[str, str]:
        """Options and ``MACHINE_*`` as DevPod sets them."""
        from support.ports import free_port_block

        folder = self.home / "machines" / machine_id
        folder.mkdir(parents=True, exist_ok=True)
        base = free_port_block(20)
        return {
            **os.environ,
            "DOKPLOY_SERVER_URL": self.process.url,
            "DOKPLOY_API_TOKEN": self.process.token,
            "DOKPLOY_SSH_PORT_RANGE": f"{base}-{base + 19}",
            "DOKPLOY_READY_TIMEOUT": "60s",
            "DOKPLOY_DEPLOY_TIMEOUT": "10m",
            "MACHINE_ID": machine_id,
            "MACHINE_FOLDER": str(folder),
            "MACHINE_CONTEXT": "default",
            "MACHINE_PROVIDER": "dokploy",
            **self.extra,
        }

    def stop(self) -> None:
        """Terminate the emulator (it stops its workspaces)."""
        self.process.stop(timeout=20)


def start_emulator(tmp: Path, runtime: str = "sshd") -> EmulatorRun:
    """Start the emulator on a free port (v0.30.2, the newest tested Dokploy)."""
    from dokploy_emulator.process import EmulatorStartError, launch

    try:
        process = launch(
            tmp / f"emulator-{runtime}",
            runtime=runtime,
            log_path=tmp / f"emulator-{runtime}.log",
            extra_args=("--log-level", "WARNING"),
            label="bench",
        )
    except EmulatorStartError as exc:
        raise SystemExit(str(exc)) from None
    return EmulatorRun(process, tmp / f"home-{runtime}")


def timed_verb(verb: str, env: dict[str, str]) -> tuple[Run, dict[str, float]]:
    """Run ``verb`` through this script's ``--timed`` mode: wall time plus the breakdown."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--timed", verb],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    wall = time.perf_counter() - started
    timing: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if line.startswith(TIMING_TAG):
            timing = json.loads(line[len(TIMING_TAG) :])
    if proc.returncode != 0:
        raise SystemExit(f"{verb} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return Run(wall, 0.0, proc.returncode), timing


def timed_main(verb: str) -> None:
    """``--timed VERB``: run the real CLI with the API calls and waits timed.

    Counts as waiting on Dokploy: every HTTP request (until its response is read) and the
    sleeps between deployment polls; as waiting on the container: the SSH readiness wait
    (its login probes include our own handshake CPU). Everything else in the process's life
    (interpreter start, imports, key generation, rendering, state writes) is provider overhead.
    """
    import atexit

    from dokploy_provider import deploy_wait, dokploy, machine

    totals = {"api_s": 0.0, "api_calls": 0.0, "deploy_sleep_s": 0.0, "ssh_wait_s": 0.0}
    send_once = dokploy.DokployClient._send_once

    def timed_send(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return send_once(self, *args, **kwargs)
        finally:
            totals["api_s"] += time.perf_counter() - started
            totals["api_calls"] += 1

    def timed_sleep(seconds: float) -> None:
        started = time.perf_counter()
        time.sleep(seconds)
        totals["deploy_sleep_s"] += time.perf_counter() - started

    wait_until_ready = deploy_wait.wait_until_ready

    def timed_wait(*args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        try:
            wait_until_ready(*args, **kwargs)
        finally:
            totals["ssh_wait_s"] += time.perf_counter() - started

    init = machine.MachineService.__init__

    def timed_init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("sleep", timed_sleep)
        init(self, *args, **kwargs)

    dokploy.DokployClient._send_once = timed_send  # type: ignore[method-assign]
    deploy_wait.wait_until_ready = timed_wait
    machine.MachineService.__init__ = timed_init  # type: ignore[method-assign]
    atexit.register(lambda: sys.stderr.write(TIMING_TAG + json.dumps(totals) + "\n"))
    sys.argv = ["dokploy-provider", verb]
    from dokploy_provider.cli import main

    main()


def bench_status(emu: EmulatorRun, rounds: int) -> dict[str, Any]:
    """``status`` of a Running workspace, cold: fast path, full path, and ``python -c pass``."""
    env = emu.env("status-ws")
    create = subprocess.run(
        [PROVIDER, "create"], env=env, capture_output=True, text=True, check=False
    )
    if create.returncode != 0:
        raise SystemExit(f"create for the status bench failed: {create.stderr}")
    walls: dict[str, list[float]] = {"fast": [], "full": [], "python": []}
    argvs = {
        "fast": [PROVIDER, "status"],
        # argv other than exactly `status` takes the click path (-q changes nothing here).
        "full": [PROVIDER, "-q", "status"],
        "python": [sys.executable, "-c", "pass"],
    }
    for _ in range(rounds):
        for name, argv in argvs.items():
            started = time.perf_counter()
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            walls[name].append(time.perf_counter() - started)
            if name != "python" and proc.stdout != "Running\n":
                raise SystemExit(f"status ({name}) said {proc.stdout!r}: {proc.stderr}")
    subprocess.run([PROVIDER, "delete"], env=env, capture_output=True, check=False)
    return medians_ms(walls)


def bench_create(emu: EmulatorRun, rounds: int) -> dict[str, Any]:
    """``create`` → SSH ready, ``rounds`` fresh machines; overhead = wall - waiting."""
    runs = []
    for index in range(rounds):
        env = emu.env(f"create-{index}")
        run, timing = timed_verb("create", env)
        waiting = (
            timing.get("api_s", 0) + timing.get("deploy_sleep_s", 0) + timing.get("ssh_wait_s", 0)
        )
        runs.append({"wall_s": run.wall, **timing, "overhead_s": run.wall - waiting})
        subprocess.run([PROVIDER, "delete"], env=env, capture_output=True, check=False)
    keys = ["wall_s", "api_s", "api_calls", "deploy_sleep_s", "ssh_wait_s", "overhead_s"]
    return {
        "runs": runs,
        "median": {key: statistics.median(r.get(key, 0.0) for r in runs) for key in keys},
    }


def docker_engine() -> bool:
    """Whether a Docker engine answers (for the emulator's real-Docker mode)."""
    if shutil.which("docker") is None:
        return False
    try:
        return (
            subprocess.run(
                ["docker", "info"], capture_output=True, timeout=10, check=False
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


# -- the report ----------------------------------------------------------------------------------


def machine_description() -> str:
    """CPU model, cores, memory, OS, Python and OpenSSH versions."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    ssh_version = subprocess.run(
        ["ssh", "-V"], capture_output=True, text=True, check=False
    ).stderr.strip()
    return (
        f"{model}, {os.cpu_count()} vCPU{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {ssh_version.split(',')[0]}"
    )


@dataclass
class Row:
    """One line of the table."""

    figure: str
    ours: str
    ssh: str
    ratio: str
    target: str
    passed: bool | None


def rows_from(results: dict[str, Any]) -> list[Row]:
    """The table: each figure, both clients, the ratio, the target and pass/miss."""
    rows: list[Row] = []
    connect = results["connect_true"]
    ratio = connect["ours"]["median_ms"] / connect["ssh"]["median_ms"]
    rows.append(
        Row(
            "`command` connect → exit `true` (median)",
            f"{connect['ours']['median_ms']:.0f} ms",
            f"{connect['ssh']['median_ms']:.0f} ms",
            f"{ratio:.2f}x",
            "≤ 1.0x ssh",
            ratio <= 1.0,
        )
    )
    for direction in ("upload", "download"):
        data = results["transfer"][direction]
        ratio = data["ours"]["mib_per_s"] / data["ssh"]["mib_per_s"]
        rows.append(
            Row(
                f"{direction} throughput ({results['transfer_mib']} MiB)",
                f"{data['ours']['mib_per_s']:.0f} MiB/s",
                f"{data['ssh']['mib_per_s']:.0f} MiB/s",
                f"{ratio:.2f}x",
                "≥ 0.85x ssh",
                ratio >= 0.85,
            )
        )
    rtt = results["round_trip"]
    ratio = rtt["ours"]["median_us"] / rtt["ssh"]["median_us"]
    rows.append(
        Row(
            f"round trip, 64-byte line x{rtt['ours']['count']} (median / p99)",
            f"{rtt['ours']['median_us']:.0f} / {rtt['ours']['p99_us']:.0f} µs",
            f"{rtt['ssh']['median_us']:.0f} / {rtt['ssh']['p99_us']:.0f} µs",
            f"{ratio:.2f}x",
            "median ≤ 1.5x ssh",
            ratio <= 1.5,
        )
    )
    agent = results["agent_stream"]
    ratio = agent["ours"]["median_ms"] / agent["ssh"]["median_ms"]
    rows.append(
        Row(
            f"agent streaming ({results['agent_mib']} MiB, whole process)",
            f"{agent['ours']['median_ms']:.0f} ms",
            f"{agent['ssh']['median_ms']:.0f} ms",
            f"{ratio:.2f}x",
            "≤ 1.1x ssh",
            ratio <= 1.1,
        )
    )
    cpu = results["transfer"]["cpu_per_gib"]
    ratio = cpu["ours"] / cpu["ssh"]
    rows.append(
        Row(
            "client CPU per GiB moved (user+sys)",
            f"{cpu['ours']:.2f} s",
            f"{cpu['ssh']:.2f} s",
            f"{ratio:.2f}x",
            "≤ 2x ssh",
            ratio <= 2.0,
        )
    )
    status = results["status"]
    rows.append(
        Row(
            "`status` cold, Running (median)",
            f"{status['fast']['median_ms']:.0f} ms",
            f"python -c pass {status['python']['median_ms']:.0f} ms",
            f"full path {status['full']['median_ms']:.0f} ms",
            "≤ 150 ms",
            status["fast"]["median_ms"] <= 150,
        )
    )
    for mode, create in results["create"].items():
        if not isinstance(create, dict) or "median" not in create:
            rows.append(
                Row(f"`create` → SSH ready ({mode})", "skipped", "", "", "overhead ≤ 1 s", None)
            )
            continue
        med = create["median"]
        rows.append(
            Row(
                f"`create` → SSH ready ({mode}, median)",
                f"overhead {med['overhead_s']:.2f} s",
                f"wall {med['wall_s']:.2f} s",
                f"waiting {med['wall_s'] - med['overhead_s']:.2f} s",
                "overhead ≤ 1 s",
                med["overhead_s"] <= 1.0,
            )
        )
    return rows


def print_table(rows: list[Row], machine: str) -> None:
    """A Markdown table (pasteable into the README)."""
    print(f"\nMachine: {machine}\n")
    print("| figure | dokploy-provider | ssh / reference | ratio | target | result |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        verdict = "—" if row.passed is None else ("pass" if row.passed else "**miss**")
        print(f"| {row.figure} | {row.ours} | {row.ssh} | {row.ratio} | {row.target} | {verdict} |")


def main() -> None:
    """Parse the arguments and run every measurement."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller rounds (smoke test)")
    parser.add_argument("--timed", metavar="VERB", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.timed:
        timed_main(args.timed)
        return

    quick = args.quick
    size = (32 if quick else 256) * MIB
    agent_size = (16 if quick else 120) * MIB
    rounds = 3 if quick else 15
    data_rounds = 1 if quick else 5
    pings = 200 if quick else 2000
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="dokploy-bench-"))
    results: dict[str, Any] = {
        "machine": machine_description(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "cipher": CIPHER,
        "transfer_mib": size // MIB,
        "agent_mib": agent_size // MIB,
        "notes": [
            "the test sshd sets SetEnv SHLVL=1, so root's rc files do not run pyenv init on "
            "every exec; without it both clients pay 130-200 ms more per command",
            "throughput is timed by the remote shell over the data phase (first byte to EOF); "
            "whole-process rates are in transfer.*.whole_process_mib_per_s",
        ],
    }
    try:
        with workspace(tmp) as clients:
            say("connect → exit `true` …")
            results["connect_true"] = bench_connect(clients, rounds)
            say("upload / download …")
            results["transfer"] = bench_transfer(clients, size, data_rounds, tmp)
            say("round trips …")
            results["round_trip"] = bench_round_trips(clients, pings)
            say("agent streaming …")
            results["agent_stream"] = bench_agent_stream(clients, agent_size, data_rounds, tmp)
        emu = start_emulator(tmp)
        try:
            say("status cold …")
            results["status"] = bench_status(emu, rounds)
            say("create → SSH ready …")
            results["create"] = {"emulator (sshd workspaces)": bench_create(emu, 1 if quick else 3)}
        finally:
            emu.stop()
        if docker_engine() and not quick:
            say("create → SSH ready, real Docker …")
            emu = start_emulator(tmp, runtime="docker")
            try:
                results["create"]["emulator (real Docker)"] = bench_create(emu, 1)
            finally:
                emu.stop()
        else:
            results["create"]["emulator (real Docker)"] = "skipped: no Docker engine answers"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["bench_seconds"] = time.monotonic() - started
    rows = rows_from(results)
    results["table"] = [row.__dict__ for row in rows]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (RESULTS / "latest.json").write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    print_table(rows, results["machine"])
    print(
        f"\nBench took {results['bench_seconds']:.0f} s. Results: {out} (also {RESULTS / 'latest.json'})"
    )


def say(text: str) -> None:
    """Progress on stderr."""
    print(f"• {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
