"""The deployment worker: per-server FIFO queues (concurrency 1) running compose deploy jobs.

Mirrors Dokploy's in-memory queue: ``compose.deploy`` only enqueues; the worker inserts the
deployment row when it *starts* a job, flips ``composeStatus`` to ``running``, writes the
compose file and ``.env`` like Dokploy's raw provider, runs it, and ends in ``done``/``error``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .compose_file import ComposeError, ComposeSpec, parse_compose, parse_dotenv
from .faults import Faults
from .ids import nanoid, now_iso
from .runtime import Runtime, RuntimeFailure
from .store import Row, Store
from .versions import Features

log = logging.getLogger(__name__)

MAX_DEPLOYMENTS = 10
_GIT_ERRORS = {
    "github": "Error: ❌ Github Provider not found",
    "gitlab": "Error: ❌ Gitlab Provider not found",
    "bitbucket": "Error: ❌ Bitbucket Provider not found",
    "gitea": "Error: ❌ Gitea Provider not found",
    "git": "Error: ❌ Repository not found",
}
_seq = itertools.count()


class DeployFailure(Exception):
    """A deploy step failed; the message goes to the log and the deployment row."""


@dataclass(frozen=True)
class Job:
    """One queued deploy/redeploy."""

    compose_id: str
    title: str
    description: str
    redeploy: bool


class Workspace:
    """Where Dokploy keeps a compose's files: ``compose/<appName>/code`` and ``logs/<appName>``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def code_dir(self, app_name: str) -> Path:
        """The compose's ``code`` dir (exists once a raw deploy wrote the file)."""
        return self.state_dir / "compose" / app_name / "code"

    def logs_dir(self, app_name: str) -> Path:
        """The compose's deployment logs dir."""
        return self.state_dir / "logs" / app_name

    def write_files(self, compose: Row) -> None:
        """Dokploy's raw provider: wipe ``code``, write ``docker-compose.yml`` and ``.env``."""
        code = self.code_dir(compose["appName"])
        shutil.rmtree(code, ignore_errors=True)
        code.mkdir(parents=True)
        (code / "docker-compose.yml").write_text(compose["composeFile"] or "", encoding="utf-8")
        if compose.get("createEnvFile", True):
            lines = [f"APP_NAME={compose['appName']}", f"COMPOSE_PROJECT_NAME={compose['appName']}"]
            lines += [(compose.get("env") or "").strip(), "DOCKER_CONFIG=/root/.docker"]
            (code / ".env").write_text("\n".join(x for x in lines if x) + "\n", encoding="utf-8")

    def clone(self, app_name: str, compose_file: str) -> None:
        """What a Git provider's clone leaves: the repository's ``docker-compose.yml``."""
        code = self.code_dir(app_name)
        shutil.rmtree(code, ignore_errors=True)
        code.mkdir(parents=True)
        (code / "docker-compose.yml").write_text(compose_file, encoding="utf-8")

    def read_compose_file(self, app_name: str) -> str | None:
        """The compose file on disk (what ``compose.getConvertedCompose`` reads), if any."""
        path = self.code_dir(app_name) / "docker-compose.yml"
        return path.read_text(encoding="utf-8") if path.exists() else None

    def load(self, app_name: str) -> ComposeSpec:
        """Parse the compose file on disk with the ``.env`` next to it."""
        code = self.code_dir(app_name)
        text = (code / "docker-compose.yml").read_text(encoding="utf-8")
        env_file = code / ".env"
        variables = parse_dotenv(env_file.read_text(encoding="utf-8")) if env_file.exists() else {}
        return parse_compose(text, variables, app_name)

    def remove(self, app_name: str) -> None:
        """``rm -rf`` the compose dir and its logs (compose.delete)."""
        shutil.rmtree(self.state_dir / "compose" / app_name, ignore_errors=True)
        shutil.rmtree(self.logs_dir(app_name), ignore_errors=True)


class DeployQueue:
    """Per-server FIFO queues, each drained by one worker thread."""

    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        faults: Faults,
        workspace: Workspace,
        deploy_delay: float,
        *,
        features: Features,
    ) -> None:
        self.store = store
        self.features = features
        self.runtime = runtime
        self.faults = faults
        self.workspace = workspace
        self.deploy_delay = deploy_delay
        self._queues: dict[str, queue.Queue[Job | None]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def enqueue(self, server_id: str | None, job: Job) -> None:
        """Queue a job on the server's queue (``None`` = the Dokploy host)."""
        key = server_id or "local"
        with self._lock:
            if key not in self._queues:
                self._queues[key] = queue.Queue()
                thread = threading.Thread(
                    target=self._work, args=(self._queues[key],), name=f"deploy-{key}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            self._queues[key].put(job)

    def clean(self, compose_id: str) -> None:
        """Drop waiting (not running) jobs of one compose (compose.cleanQueues)."""
        with self._lock:
            queues = list(self._queues.values())
        for q in queues:
            with q.mutex:
                kept = [j for j in q.queue if j is None or j.compose_id != compose_id]
                q.queue.clear()
                q.queue.extend(kept)

    def pending(self) -> int:
        """Jobs waiting in all queues."""
        with self._lock:
            return sum(q.qsize() for q in self._queues.values())

    def close(self) -> None:
        """Stop the workers after their current job."""
        self._closed.set()
        with self._lock:
            for q in self._queues.values():
                q.put(None)
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=15)

    def _work(self, jobs: queue.Queue[Job | None]) -> None:
        while not self._closed.is_set():
            job = jobs.get()
            if job is None:
                return
            if self._closed.wait(self.deploy_delay):
                return
            try:
                self.run(job)
            except Exception:
                # Like Dokploy's worker, a crash only gets logged (the row may stay "running").
                log.exception("deploy job for %s crashed", job.compose_id)

    def run(self, job: Job) -> None:
        """Run one job to its end state."""
        with self.store.lock:
            compose = self.store.composes.get(job.compose_id)
            if compose is None:
                return
            deployment = self._start_row(compose, job)
            compose["composeStatus"] = "running"
            snapshot = dict(compose)
        log_path = Path(deployment["logPath"])

        def log_line(text: str) -> None:
            with log_path.open("a", encoding="utf-8") as fh:
                fh.write(text + "\n")

        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("Initializing deployment\n", encoding="utf-8")
        if self.faults.take_stuck_deploy():
            log.info("fault: deployment %s stays running", deployment["deploymentId"])
            return
        try:
            self._execute(snapshot, job, log_line)
        except DeployFailure as exc:
            log_line(str(exc))
            log_line("Error occurred ❌, check the logs for details.")
            self._finish(job.compose_id, deployment["deploymentId"], "error")
            return
        log_line("Docker Compose Deployed: ✅")
        self._finish(job.compose_id, deployment["deploymentId"], "done")

    def _execute(self, compose: Row, job: Job, log_line: Callable[[str], None]) -> None:
        app_name = compose["appName"]
        failure = self.faults.take_deploy_failure()
        if failure is not None:
            raise DeployFailure(failure)
        source = compose.get("sourceType") or "github"
        if source != "raw":
            raise DeployFailure(_GIT_ERRORS.get(source, f"Error: ❌ Unsupported source {source}"))
        code = self.workspace.code_dir(app_name)
        log_line(f"Creating File 'docker-compose.yml' to {code}: ✅")
        self.workspace.write_files(compose)
        if (
            compose.get("serverId")
            and self.features.login_shell_stderr_fails_deploys
            and self.faults.login_shell_stderr
        ):
            # v0.28.2-v0.29.13 `cat` the file back over SSH; any stderr reads as "no file"
            raise DeployFailure("❌ Error: Compose file not found")
        try:
            spec = self.workspace.load(app_name)
        except ComposeError as exc:
            raise DeployFailure(str(exc)) from exc
        log_line(
            f"Running command: docker compose -p {app_name} -f docker-compose.yml up -d "
            "--build --remove-orphans"
        )
        try:
            self.runtime.up(app_name, spec, log_line, recreate=True)
        except RuntimeFailure as exc:
            raise DeployFailure(str(exc)) from exc

    def _start_row(self, compose: Row, job: Job) -> Row:
        app_name = compose["appName"]
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d:%H:%M:%S")
        path = self.workspace.logs_dir(app_name) / f"{app_name}-{stamp}.log"
        for n in itertools.count(1):
            if not path.exists():
                break
            path = path.with_name(f"{app_name}-{stamp}-{n}.log")
        now = now_iso()
        row: Row = {
            "deploymentId": nanoid(),
            "title": job.title,
            "description": job.description,
            "status": "running",
            "logPath": str(path),
            "pid": None,
            "applicationId": None,
            "composeId": compose["composeId"],
            "serverId": compose.get("serverId"),
            "isPreviewDeployment": False,
            "previewDeploymentId": None,
            "createdAt": now,
            "startedAt": now,
            "finishedAt": None,
            "errorMessage": None,
            "scheduleId": None,
            "backupId": None,
            "rollbackId": None,
            "volumeBackupId": None,
            "buildServerId": None,
            "_seq": next(_seq),
        }
        self.store.deployments[row["deploymentId"]] = row
        for old in self.store.deployments_of(compose["composeId"])[MAX_DEPLOYMENTS:]:
            del self.store.deployments[old["deploymentId"]]
            with contextlib.suppress(OSError):
                Path(old["logPath"]).unlink()
        return row

    def _finish(self, compose_id: str, deployment_id: str, status: str) -> None:
        # Dokploy's deployCompose sets only the status: `errorMessage` stays null for a failed
        # compose deploy on every version (the error goes to the log and the notifications)
        with self.store.lock:
            deployment = self.store.deployments.get(deployment_id)
            if deployment is not None:
                deployment.update(status=status, finishedAt=now_iso())
            compose = self.store.composes.get(compose_id)
            if compose is not None:
                compose["composeStatus"] = status
