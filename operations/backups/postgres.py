"""PostgreSQL client programs and connections for backups, without secrets on command lines.

- :func:`pg_program` finds ``pg_dump`` / ``pg_restore``: ``BACKUP_PG_BIN_DIR`` when set, else the
  embedded ``pgserver`` wheel's (development: the same version as the embedded server), else the
  one on ``PATH`` (a production server's own client). The client must be at least the server's
  major version; pg_dump says so itself when it is not, and that line is the error shown.
- :class:`Database` is one database's connection parameters, built from a Django
  ``settings_dict`` (the host may be a unix-socket directory). Programs get them through the
  libpq environment (``PGHOST``, ``PGPASSWORD``, …), never as arguments, so no password ever
  appears in a process list; inherited ``PG*`` variables are removed first so a stray
  ``PGDATABASE`` in the caller's environment cannot redirect a restore.
- :func:`program_run` runs one program and turns a non-zero exit into :class:`ProgramFailed`
  carrying the program's last error lines (one readable message, no traceback).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, cast

import psycopg
from django.conf import settings
from psycopg.conninfo import make_conninfo

from .errors import BackupError, ProgramFailed
from .files import FileDigest, digest_copy

# Django OPTIONS that are libpq connection parameters, with their environment variable.
LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
}
APPLICATION_NAME = "autoindex-operations"
ERROR_LINES_SHOWN = 3


def _embedded_bin_dir() -> Path | None:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; nothing here uses that folder.
            warnings.simplefilter("ignore")
            import pgserver  # a development-only wheel: absent in production
    except ImportError:
        return None
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def pg_program(name: str) -> str:
    """The path of PostgreSQL client program ``name``; :class:`BackupError` if there is none."""
    configured = settings.BACKUP_PG_BIN_DIR
    folders = [Path(configured)] if configured else [_embedded_bin_dir()]
    for folder in folders:
        if folder is not None and (folder / name).is_file():
            return str(folder / name)
    if configured:
        raise BackupError(f"{name} not found in BACKUP_PG_BIN_DIR ({configured})")
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client or set BACKUP_PG_BIN_DIR"
        )
    return found


@dataclass(frozen=True)
class Database:
    """Where one database is and how to log in (``password`` never leaves the environment)."""

    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings_dict: dict[str, Any]) -> Database:
        """As Django connects: ``HOST``/``PORT``/``USER``/``PASSWORD`` when set, else the same
        libpq parameter in ``OPTIONS`` (django-environ puts ``?host=/socket/dir`` there)."""
        options = settings_dict.get("OPTIONS") or {}

        def parameter(key: str) -> str:
            return str(settings_dict.get(key.upper()) or options.get(key) or "")

        return cls(
            name=str(settings_dict["NAME"]),
            host=parameter("host"),
            port=parameter("port"),
            user=parameter("user"),
            password=parameter("password"),
            options={key: str(options[key]) for key in LIBPQ_OPTIONS if key in options},
        )

    def with_name(self, name: str) -> Database:
        """The same server and login, another database."""
        return replace(self, name=name)

    @property
    def label(self) -> str:
        """For people: ``name on host:port`` (no credentials)."""
        where = self.host or "localhost"
        return f"{self.name} on {where}:{self.port}" if self.port else f"{self.name} on {where}"

    def environ(self) -> dict[str, str]:
        """The environment of a client program connecting to this database."""
        environ = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        wanted = {
            "PGDATABASE": self.name,
            "PGHOST": self.host,
            "PGPORT": self.port,
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGAPPNAME": APPLICATION_NAME,
            **{LIBPQ_OPTIONS[key]: value for key, value in self.options.items()},
        }
        environ.update({key: value for key, value in wanted.items() if value})
        return environ

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        """A connection of its own (not Django's): snapshots and locks live on it alone."""
        params = {
            "dbname": self.name,
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "application_name": APPLICATION_NAME,
            **self.options,
        }
        conninfo = make_conninfo("", **{key: value for key, value in params.items() if value})
        return psycopg.connect(conninfo, autocommit=autocommit)


def _failure(program: str, code: int, errors: IO[bytes]) -> ProgramFailed:
    errors.seek(0)
    lines = [line.strip() for line in errors.read().decode(errors="replace").splitlines()]
    said = "; ".join([line for line in lines if line][-ERROR_LINES_SHOWN:]) or "no message"
    return ProgramFailed(f"{program} failed (exit {code}): {said}")


def program_run(
    program: str,
    arguments: list[str],
    *,
    database: Database,
    stdout: IO[bytes] | None = None,
    extra_env: dict[str, str] | None = None,
) -> None:
    """Run ``program`` against ``database``; raise :class:`ProgramFailed` on a non-zero exit."""
    environ = {**database.environ(), **(extra_env or {})}
    with tempfile.TemporaryFile() as errors:
        # A fixed program of the PostgreSQL client, arguments built here: no shell involved.
        completed = subprocess.run(  # noqa: S603
            [pg_program(program), "--no-password", *arguments],
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=errors,
            env=environ,
            check=False,
        )
        if completed.returncode != 0:
            raise _failure(program, completed.returncode, errors)


def program_version(program: str) -> str:
    """``pg_dump (PostgreSQL) 16.2`` → ``16.2``."""
    completed = subprocess.run(  # noqa: S603  (a fixed program, no shell)
        [pg_program(program), "--version"], capture_output=True, text=True, check=True
    )
    return completed.stdout.strip().rsplit(" ", 1)[-1]


def dump_stream(arguments: list[str], *, database: Database, into: IO[bytes]) -> FileDigest:
    """Run ``pg_dump`` writing to its stdout, copy that into ``into`` and return its digest.

    Streaming lets the checksum be of exactly the bytes stored, computed while they are
    written; stderr goes to a file, so a chatty pg_dump can never block on a full pipe.
    """
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(  # noqa: S603  (a fixed program, no shell)
            [pg_program("pg_dump"), "--no-password", *arguments],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=database.environ(),
        )
        with cast(IO[bytes], process.stdout) as output:
            digest = digest_copy(output, into)
        code = process.wait()
        if code != 0:
            raise _failure("pg_dump", code, errors)
    return digest


def restore_in_one_transaction(
    dump: Path,
    *,
    database: Database,
    before: Path,
    after: Path,
    folder: Path,
    extra_env: dict[str, str] | None = None,
) -> None:
    """``pg_restore --clean --if-exists --no-owner`` of ``dump`` as a script, run by ``psql``
    between the statements of ``before`` and ``after``, all in one transaction.

    The script is written completely to ``folder`` before psql starts: psql never runs a
    script cut short by a failing pg_restore (it would commit what it got). Any error stops
    psql (``ON_ERROR_STOP``) and rolls the whole transaction back: nothing changed.
    """
    script = folder / "restore.sql"
    program_run(
        "pg_restore",
        ["--clean", "--if-exists", "--no-owner", f"--file={script}", str(dump)],
        database=database,
    )
    program_run(
        "psql",
        [
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--file={before}",
            f"--file={script}",
            f"--file={after}",
        ],
        database=database,
        extra_env=extra_env,
    )
