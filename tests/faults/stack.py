"""The live stack of the fault suite: loopback proxies in front of the servers, a real gunicorn.

:class:`TcpProxy` listens on a loopback TCP port and forwards every connection to PostgreSQL or
Redis (a unix socket, as the embedded servers listen, or a TCP address). ``stop()`` closes the
listening socket and every open connection, so clients see exactly a stopped server (refused
connections, broken sockets); ``start()`` listens again on the same port, like a restarted one.

:class:`Gunicorn` runs ``gunicorn -c config/gunicorn.conf.py config.wsgi:application`` (the
Procfile's ``web``) in a subprocess on a free loopback port, with ``DATABASE_URL`` and
``REDIS_URL`` pointing at the proxies.

:func:`record_fault_timing` writes one line per measured figure ("fault-matrix: …"), to the log
and, when ``FAULT_MATRIX_FILE`` is set, as a JSON line to that file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
GUNICORN_START_TIMEOUT_S = 30.0
CHUNK = 65536


@dataclass(frozen=True)
class UnixTarget:
    path: str


@dataclass(frozen=True)
class TcpTarget:
    host: str
    port: int


Target = UnixTarget | TcpTarget


def _connect(target: Target) -> socket.socket:
    if isinstance(target, UnixTarget):
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(target.path)
        return upstream
    upstream = socket.create_connection((target.host, target.port), timeout=5)
    upstream.settimeout(None)
    return upstream


class TcpProxy:
    """A threaded loopback TCP proxy to ``target`` that can be stopped and started again.

    Guarantees: while stopped, a connection to :attr:`port` is refused and every connection
    opened before ``stop()`` is closed (both ends); after ``start()`` new connections reach the
    target again. The port stays the same across restarts. ``hang()`` plays a server that is
    up but never answers: open connections are cut, new ones are accepted and then ignored.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._hanging = False

    @property
    def running(self) -> bool:
        return self._listener is not None

    def start(self) -> TcpProxy:
        if self._hanging:
            self.stop()
        return self._listen()

    def _listen(self) -> TcpProxy:
        with self._lock:
            if self._listener is not None:
                return self
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(128)
            self.port = listener.getsockname()[1]
            self._listener = listener
        thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def hang(self) -> None:
        """Keep listening, but answer nothing (a hung server); ``start()`` ends it."""
        self.stop()
        self._hanging = True
        self._listen()

    def stop(self) -> None:
        with self._lock:
            self._hanging = False
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _address = listener.accept()
            except OSError:
                return  # stopped
            if self._hanging:
                with self._lock:
                    self._open.add(client)  # held open and never read, until stop()
                continue
            try:
                upstream = _connect(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:  # stopped meanwhile
                    client.close()
                    upstream.close()
                    return
                self._open |= {client, upstream}
            thread = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            thread.start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes; then close both."""
        peers = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            try:
                while True:
                    for key, _events in selector.select(timeout=1.0):
                        source: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = source.recv(CHUNK)
                        if not data:
                            raise ConnectionError("closed")
                        peers[source].sendall(data)
            except (OSError, ValueError):
                pass  # a side closed, or stop() closed both
        with self._lock:
            self._open -= {client, upstream}
        for sock in peers:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class Gunicorn:
    """The web process of the Procfile, started on a free loopback port with ``env`` added.

    ``start()`` returns once ``/health/live`` answers 200; ``stop()`` terminates it (SIGTERM,
    then SIGKILL after the graceful timeout) and keeps its output in :attr:`output`.
    """

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "WEB_BIND": f"127.0.0.1:{self.port}",
            "WEB_GRACEFUL_TIMEOUT": "3",
            **env,
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> Gunicorn:
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(  # noqa: S603  a fixed command line of our own
            [str(GUNICORN), "-c", "config/gunicorn.conf.py", "config.wsgi:application"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + GUNICORN_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at start-up:\n{self.output}")
            with contextlib.suppress(OSError):
                if self.get("/health/live", timeout=1).status == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /health/live:\n{self.output}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
    ) -> HttpAnswer:
        """One HTTP request (a new connection); an error status is an answer, not a raise."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310  always our loopback server
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return HttpAnswer(
                    response.status,
                    dict(response.headers.items()),
                    response.read(),
                    time.monotonic() - started,
                )
        except urllib.error.HTTPError as error:
            return HttpAnswer(
                error.code, dict(error.headers.items()), error.read(), time.monotonic() - started
            )

    def get(self, path: str, **kwargs: Any) -> HttpAnswer:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: dict[str, Any], **kwargs: Any) -> HttpAnswer:
        return self.request("POST", path, body=body, **kwargs)


def record_fault_timing(scenario: str, *, expected: str, observed: float) -> None:
    """Log (and append to ``FAULT_MATRIX_FILE``) one measured figure of the fault matrix."""
    line = f"fault-matrix: {scenario} expected={expected} observed={observed:.3f} seconds"
    logger.warning(line)
    print(line)  # noqa: T201  quoted by the closing notes of a fault drill (pytest -s)
    matrix_file = os.environ.get("FAULT_MATRIX_FILE")
    if matrix_file:
        with Path(matrix_file).open("a") as matrix:
            entry = {"scenario": scenario, "expected": expected, "observed_seconds": observed}
            matrix.write(json.dumps(entry) + "\n")
