"""A real Celery worker for the fault drills, a slow fake TwelveData, and the drills' records.

:class:`CeleryWorker` runs ``celery -A config worker --pool prefork --concurrency 1 -Q <queue>``
in a subprocess (its own session) on the test run's database and Redis: the test settings, the
test database's name in ``DATABASE_URL`` (the test database holds committed rows: the drills are
``transaction=True``), the run's Redis, and ``AUTOINDEX_TEST_DB_SUFFIX`` inherited, so broker
and cache keys carry the run's prefix. The drill kills it with SIGKILL — its pool child alone
(the task's process dies mid-batch) or the parent and the child (the whole worker dies) — by
process id, and :meth:`CeleryWorker.stop` ends whatever is left.

:class:`HeldVendor` is the fake TwelveData (``market.providers.fake``) behind pytest-httpserver,
holding one request (the "slow batch") until the drill releases it, so a kill lands mid-refresh.

:func:`record_drill` logs one measured figure and, when ``FAULT_MATRIX_FILE`` is set, appends it
as a JSON line with the keys ``scenario``, ``expected``, ``observed``, ``seconds``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from market.providers.fake import FakeTwelveData

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"
WORKER_START_TIMEOUT_S = 60.0


def test_database_url() -> str:
    """``DATABASE_URL`` of the test database (its name once pytest-django created it)."""
    database = settings.DATABASES["default"]
    user = quote(database["USER"] or "", safe="")
    password = f":{quote(database['PASSWORD'], safe='')}" if database.get("PASSWORD") else ""
    host, port, name = database["HOST"] or "", database["PORT"] or "", database["NAME"]
    if host.startswith("/"):  # the embedded server listens on a socket directory
        query = f"host={quote(host, safe='/')}" + (f"&port={port}" if port else "")
        return f"postgres://{user}{password}@/{name}?{query}"
    return f"postgres://{user}{password}@{host}{f':{port}' if port else ''}/{name}"


class CeleryWorker:
    """One worker process (and its single pool child) consuming ``queue``."""

    def __init__(self, *, queue: str, env: dict[str, str], log_path: Path) -> None:
        self.queue = queue
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryWorker:
        """Start the worker and wait until it consumes (``ready.`` in its log)."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603  a fixed command line of our own
            [
                str(CELERY),
                "-A",
                "config",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                "1",
                "-Q",
                self.queue,
                "-n",
                f"drill-{uuid.uuid4().hex[:8]}@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        process = self.process
        wait_for(
            lambda: "ready." in self.output() or process.poll() is not None,
            timeout=WORKER_START_TIMEOUT_S,
            what="the worker to be ready",
        )
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited at start:\n{self.output()}")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def child_pids(self) -> list[int]:
        """The pool's child processes (the ones that run tasks)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except FileNotFoundError:
            return []

    def kill_child(self) -> int:
        """SIGKILL the pool child (the task's process); its pid."""
        (child,) = self.child_pids()
        os.kill(child, signal.SIGKILL)
        return child

    def kill_all(self) -> None:
        """SIGKILL the parent, then at once its child: the whole worker dies, nothing acks."""
        children = self.child_pids()
        os.kill(self.pid, signal.SIGKILL)
        for child in children:
            with contextlib.suppress(ProcessLookupError):  # it died with its parent
                os.kill(child, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL what is left of this worker (by pid)."""
        if self.process is None:
            return
        children = self.child_pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for child in children:
            with contextlib.suppress(ProcessLookupError):  # it died with its parent
                os.kill(child, signal.SIGKILL)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def lines(self, pattern: str) -> list[str]:
        """Log lines matching the regular expression ``pattern``."""
        return [line for line in self.output().splitlines() if re.search(pattern, line)]


class WorkerGroup:
    """Workers started one after another on one fresh queue; :meth:`stop` ends them all."""

    def __init__(self, *, env: dict[str, str], log_dir: Path) -> None:
        self.queue = f"drill-{uuid.uuid4().hex}"
        self.env = env
        self.log_dir = log_dir
        self.started: list[CeleryWorker] = []

    def start(self) -> CeleryWorker:
        worker = CeleryWorker(
            queue=self.queue,
            env=self.env,
            log_path=self.log_dir / f"worker-{len(self.started)}.log",
        )
        self.started.append(worker)
        return worker.start()

    def stop(self) -> None:
        for worker in self.started:
            worker.stop()


class HeldVendor:
    """The fake TwelveData on loopback; the ``hold_request``-th request waits for release."""

    def __init__(self, server: HTTPServer, fake: FakeTwelveData, *, hold_request: int) -> None:
        self.server = server
        self.fake = fake
        self.hold_request = hold_request
        self.requests = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()

    def install(self) -> HeldVendor:
        def handler(request: Request) -> Response:
            with self._lock:
                self.requests += 1
                number = self.requests
            if number == self.hold_request:
                self.entered.set()
                self.release.wait(timeout=120)
            answer = self.fake.handle(request.path, request.args.to_dict(), dict(request.headers))
            return Response(answer.body, status=answer.status, headers=answer.headers)

        self.server.expect_request(re.compile(".*")).respond_with_handler(handler)
        return self

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``condition`` every 50 ms until it is truthy (its value) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def record_drill(scenario: str, *, expected: str, observed: str, seconds: float) -> None:
    """Log one measured figure of a drill; append it to ``FAULT_MATRIX_FILE`` when set."""
    entry = {
        "scenario": scenario,
        "expected": expected,
        "observed": observed,
        "seconds": round(seconds, 3),
    }
    line = f"fault-matrix: {json.dumps(entry)}"
    logger.warning(line)
    print(line)  # noqa: T201  quoted by the drill's summary (pytest -s)
    matrix_file = os.environ.get("FAULT_MATRIX_FILE")
    if matrix_file:
        with Path(matrix_file).open("a") as matrix:
            matrix.write(json.dumps(entry) + "\n")
