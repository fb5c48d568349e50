"""The web process of the Procfile, started for a benchmark with a chosen serving model.

:class:`ServingModel` is a gunicorn worker class and its counts; :class:`BenchServer` runs
``gunicorn -c config/gunicorn.conf.py config.wsgi:application`` (the Procfile's ``web``) on a
free loopback port with :mod:`bench.settings` against the benchmark's database, the model
passed through the same variables a deployment sets (``WEB_CONCURRENCY``, ``WEB_THREADS``) and,
for a worker class other than the file's, ``GUNICORN_CMD_ARGS`` (which wins over the file).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

REPO = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
START_TIMEOUT_S = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# What the server process runs with besides the model: throttles lifted far above what 64
# viewers can send (the throttle's Redis round trips are still paid on every read), no
# exporter (production's default without a collector), no per-request log lines (the server
# is measured, not the log sink). gunicorn's access log still writes its line per request.
SERVER_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "API_THROTTLE_RATE_VIEWER": "10000000/min",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "OTEL_TRACES_EXPORTER": "",
    "TRACING_CLIENT_SPANS": "auto",
    "LOG_LEVEL": "WARNING",
    "WEB_GRACEFUL_TIMEOUT": "3",
}


@dataclass(frozen=True)
class ServingModel:
    """gunicorn's worker class, processes and threads per process (1 for ``sync``)."""

    worker_class: str
    workers: int
    threads: int = 1

    @property
    def label(self) -> str:
        if self.worker_class == "sync":
            return f"sync {self.workers}"
        return f"{self.worker_class} {self.workers}x{self.threads}"

    def environment(self) -> dict[str, str]:
        variables = {"WEB_CONCURRENCY": str(self.workers), "WEB_THREADS": str(self.threads)}
        if self.worker_class != "gthread":
            # gunicorn turns a sync worker with threads > 1 into gthread: threads stay 1.
            variables["GUNICORN_CMD_ARGS"] = f"--worker-class {self.worker_class}"
        return variables


# config/gunicorn.conf.py's defaults (the Procfile's web with nothing overridden).
PROCFILE_MODEL = ServingModel("gthread", workers=2, threads=8)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get_status(url: str, *, timeout: float) -> int:
    """The status of one GET on a new connection (raises ``OSError`` when none comes)."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - loopback only
        return int(answer.status)


class ServerProcess:
    """A server of ours started as a subprocess on a free loopback port; a context manager.

    Entering starts :meth:`command` and returns once ``/health/live`` answers 200 (at most
    :data:`START_TIMEOUT_S`); leaving stops it (SIGTERM, SIGKILL after ``stop_timeout_s``). Its
    output goes to a temporary file, quoted in the error when it does not start. Subclasses
    give the command, the environment on top of ``os.environ`` and a name.
    """

    name = "server"
    stop_timeout_s = 10.0

    def __init__(self, environment: dict[str, str]) -> None:
        self.port = free_port()
        self.env = {**os.environ, **SERVER_ENVIRONMENT, **environment}
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        """The server's last lines of output (its log)."""
        if self._log is None:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-4000:]

    def __enter__(self) -> Self:
        self._log = tempfile.NamedTemporaryFile(prefix=f"bench-{self.name}-", suffix=".log")
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line of our own
            self.command(),
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.output()}")
            with contextlib.suppress(OSError):
                if get_status(self.base_url + "/health/live", timeout=2) == 200:
                    return self
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{self.name} did not answer /health/live:\n{self.output()}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()


class BenchServer(ServerProcess):
    """gunicorn serving the benchmark database with ``model``; a context manager.

    Entering returns once ``/health/live`` answers 200 (at most :data:`START_TIMEOUT_S`);
    leaving stops it (SIGTERM, SIGKILL after 10 s). Its output goes to a temporary file,
    quoted in the error when it does not start.
    """

    def __init__(self, model: ServingModel, *, database: str) -> None:
        self.model = model
        super().__init__({**model.environment(), "AUTOINDEX_BENCH_DATABASE": database})
        self.env["WEB_BIND"] = f"127.0.0.1:{self.port}"
        self.name = f"gunicorn ({model.label})"

    def command(self) -> list[str]:
        return [str(GUNICORN), "-c", "config/gunicorn.conf.py", "config.wsgi:application"]

    def worker_cpu_seconds(self) -> dict[int, float]:
        """CPU seconds used so far by each worker process (the arbiter's children), from
        Linux's ``/proc``; empty where that cannot be read."""
        if self.process is None:
            return {}
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            used = {}
            for child in children:
                fields = Path(f"/proc/{child}/stat").read_text().rpartition(")")[2].split()
                used[int(child)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        except (OSError, ValueError, IndexError):
            return {}
        return used
