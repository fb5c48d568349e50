"""Running PostgreSQL's binaries: the ones the ``pgserver`` wheel bundles, else those on PATH.

Guarantees:
- binaries run with argument lists (never a shell) and a timeout; a failure becomes one
  ``PitrError`` line naming the tool and its last line of stderr;
- a password never appears on a command line: it travels in ``PGPASSWORD``;
- when this process is root, server-side binaries (``postgres``, ``initdb``) run as the
  ``pgserver`` user, as the embedded server does, and the folders they own are handed over to it.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# PostgreSQL refuses to run as root; pgserver runs the embedded server as this user instead.
ROOT_SERVER_USER = "pgserver"


class PitrError(RuntimeError):
    """A backup, archive or recovery step failed; the message is one line saying what and why."""


def tool_path(name: str) -> str:
    """Absolute path of a PostgreSQL binary: pgserver's bundled one, else the first on PATH.

    ``find_spec`` locates the wheel without importing it (importing pgserver has side effects).
    """
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "pginstall" / "bin" / name
        if bundled.exists():
            return str(bundled)
    found = shutil.which(name)
    if found is None:
        raise PitrError(f"{name} not found: install the pgserver wheel or PostgreSQL's binaries")
    return found


def server_os_user() -> str | None:
    """The OS user that server processes run as: ``pgserver`` when we are root, else ourselves."""
    return ROOT_SERVER_USER if os.geteuid() == 0 else None


def hand_over(path: Path) -> None:
    """Give ``path`` (recursively) to the server's OS user and let it traverse the parents.

    A no-op unless this process is root. Parents get ``g+x,o+x`` only (traversal, no listing).
    """
    user = server_os_user()
    if user is None:
        return
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & (stat.S_IXGRP | stat.S_IXOTH) != stat.S_IXGRP | stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXGRP | stat.S_IXOTH)
    uid, gid = _ids(user)
    os.lchown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(Path(root) / name, uid, gid)


def _ids(user: str) -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def fetch_one(conn: psycopg.Connection, query: str) -> tuple[Any, ...]:
    """The single row ``query`` returns (for queries that always return one)."""
    row = conn.execute(query).fetchone()
    if row is None:
        raise PitrError(f"the server returned no row for: {query}")
    return tuple(row)


def conninfo_without_password(conninfo: str) -> tuple[str, dict[str, str]]:
    """Split a libpq conninfo into (conninfo without password, environment carrying it)."""
    params = conninfo_to_dict(conninfo)
    password = params.pop("password", None)
    environment = dict(os.environ)
    if password:
        environment["PGPASSWORD"] = str(password)
    return make_conninfo("", **params), environment


def run_tool(
    name: str,
    args: list[str],
    *,
    timeout_s: float,
    as_server_user: bool = False,
    environment: dict[str, str] | None = None,
) -> str:
    """Run a PostgreSQL binary to completion and return its stdout.

    Not for starting a server in the background (its children would hold the pipes open): see
    ``server.local_server_start``.
    """
    command = [tool_path(name), *args]
    try:
        completed = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            env=environment,
            user=server_os_user() if as_server_user else None,
        )
    except subprocess.TimeoutExpired:
        raise PitrError(f"{name} did not finish within {timeout_s:g} s") from None
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {completed.returncode}"
        raise PitrError(f"{name} failed: {reason}")
    return completed.stdout


def command_path(path: Path) -> str:
    """``path`` for an ``archive_command``/``restore_command``: shell-quoted, ``%`` doubled
    (the server expands ``%f`` and ``%p`` before the shell sees the command)."""
    return shlex.quote(str(path.resolve()).replace("%", "%%"))


def conf_quote(value: str) -> str:
    """``value`` as a postgresql.conf string literal (quotes doubled, backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
