"""A PostgreSQL server this process starts on a data directory, reachable on a private socket.

Guarantees:
- no TCP listener (``listen_addresses = ''``): the server is reached only through a unix socket in
  a fresh ``0700`` folder under the temp dir (short: socket paths are limited to ~100 bytes), so
  it can clash with no other server and only this OS user (and root) can connect;
- ``local_server_start`` returns only once the server accepts connections, and otherwise stops
  it and raises ``PitrError`` with the server's own FATAL/PANIC lines;
- ``LocalServer.stop`` is idempotent and always ends the process (fast shutdown, then immediate,
  then SIGKILL) and removes the socket folder. The data directory is the caller's.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from operations.pitr.tools import PitrError, hand_over, server_os_user, tool_path

MAX_SOCKET_PATH_LENGTH = 100
# The port only names the socket file (``.s.PGSQL.<port>``) inside the private folder: with no
# TCP listener, and SysV keys derived from the data directory's inode (PostgreSQL >= 12), the
# default cannot clash with another server.
SOCKET_PORT = 5432
START_POLL_S = 0.1
STOP_WAIT_S = 30.0
LOG_FILE_NAME = "server.log"
# FATAL lines our own polling causes while the server starts: not why a server failed.
STARTUP_NOISE = (
    "the database system is starting up",
    "the database system is not yet accepting connections",
    "Consistent recovery state has not been yet reached",
    "terminating connection due to administrator command",
)


@dataclass
class LocalServer:
    """A running server started by ``local_server_start``; ``stop()`` ends it."""

    data_dir: Path
    socket_dir: Path
    user: str
    dbname: str
    process: subprocess.Popen[bytes] = field(repr=False)
    port: int = SOCKET_PORT

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE_NAME

    @property
    def conninfo(self) -> str:
        return make_conninfo(
            host=str(self.socket_dir), port=self.port, user=self.user, dbname=self.dbname
        )

    def connect(self, *, dbname: str | None = None) -> psycopg.Connection:
        """An autocommit connection (to ``dbname``, default the server's ``dbname``)."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=self.user,
            dbname=dbname or self.dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions end, no checkpoint is skipped)."""
        for stop_signal in (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL):
            if not self.running():
                break
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_WAIT_S)
        with contextlib.suppress(OSError):
            for leftover in self.socket_dir.iterdir():
                leftover.unlink()
            self.socket_dir.rmdir()

    def log_errors(self) -> str:
        """Why the server failed, on one line: the log's last FATAL/PANIC (else its last line)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return f"no server log at {self.log_path}"
        errors = [
            line
            for line in lines
            if ("FATAL:" in line or "PANIC:" in line)
            and not any(noise in line for noise in STARTUP_NOISE)
        ]
        picked = errors[-1:] or lines[-1:]
        return picked[0].strip() if picked else "empty server log"


def _private_socket_dir() -> Path:
    socket_dir = Path(tempfile.mkdtemp(prefix="pg-"))
    if len(str(socket_dir / f".s.PGSQL.{SOCKET_PORT}")) > MAX_SOCKET_PATH_LENGTH:
        socket_dir.rmdir()
        raise PitrError(f"temp dir too deep for a unix socket path: {socket_dir}")
    hand_over(socket_dir)
    return socket_dir


def local_server_start(
    *,
    data_dir: Path,
    user: str,
    dbname: str = "postgres",
    settings: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
) -> LocalServer:
    """Start ``postgres`` on ``data_dir`` (a stopped cluster owned by the server's OS user).

    ``settings`` are passed as ``-c name=value`` (they override the config files for this run
    only). The server runs in its own session, so a Ctrl-C in the caller's terminal reaches the
    caller (which stops it) and not the server directly. Its output goes to ``data_dir/server.log``.
    """
    socket_dir = _private_socket_dir()
    options = {
        "listen_addresses": "",
        "unix_socket_directories": str(socket_dir),
        "port": str(SOCKET_PORT),
        **(settings or {}),
    }
    command = [tool_path("postgres"), "-D", str(data_dir)]
    for name, value in options.items():
        command += ["-c", f"{name}={value}"]
    log_path = data_dir / LOG_FILE_NAME
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - an argument list of our own, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=server_os_user(),
        )
    server = LocalServer(
        data_dir=data_dir, socket_dir=socket_dir, user=user, dbname=dbname, process=process
    )
    try:
        _wait_until_answering(server, timeout_s=timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_answering(server: LocalServer, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if not server.running():
            raise PitrError(f"postgres on {server.data_dir} exited: {server.log_errors()}")
        try:
            with server.connect(dbname="postgres"):
                return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise PitrError(
                    f"postgres on {server.data_dir} did not accept connections within "
                    f"{timeout_s:g} s: {str(error).strip()}"
                ) from None
        time.sleep(START_POLL_S)
