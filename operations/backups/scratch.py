"""Scratch databases on the configured server, and temporary Django aliases for them.

A verification restores into a database of its own, never into the configured one:
``autoindex_verify_<UTC timestamp>_<random>`` (unique even for concurrent runs), created from
``template0`` with the source's encoding and locale, and dropped on the way out whatever
happened (``DROP … WITH (FORCE)``: a connection left open cannot keep it alive). A process
killed half-way leaves one behind; :func:`scratch_databases_drop_stale` (run by every
verification) drops those older than :data:`STALE_AFTER`, never a young one that a concurrent
verification may be using. The database user needs ``CREATEDB``.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import connections
from django.db.utils import load_backend
from django.utils import timezone
from psycopg import sql

from .errors import BackupError
from .postgres import Database

logger = logging.getLogger(__name__)

SCRATCH_PREFIX = "autoindex_verify_"
STALE_AFTER = dt.timedelta(hours=12)
_TIMESTAMP = "%Y%m%d%H%M%S"


def _scratch_name(now: dt.datetime) -> str:
    return f"{SCRATCH_PREFIX}{now:{_TIMESTAMP}}_{secrets.token_hex(3)}"


def _drop(conn: psycopg.Connection[object], name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def scratch_database(source: Database) -> Iterator[Database]:
    """A new empty database on ``source``'s server, like ``source``; dropped on exit."""
    name = _scratch_name(timezone.now())
    try:
        with source.connect(autocommit=True) as conn:
            row = conn.execute(
                "SELECT pg_encoding_to_char(encoding), datcollate, datctype"
                " FROM pg_database WHERE datname = current_database()"
            ).fetchone()
            encoding, collate, ctype = row if row else ("UTF8", "C", "C")
            conn.execute(
                sql.SQL(
                    "CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}"
                ).format(
                    sql.Identifier(name),
                    sql.Literal(encoding),
                    sql.Literal(collate),
                    sql.Literal(ctype),
                )
            )
    except psycopg.Error as error:
        raise BackupError(f"cannot create the scratch database {name}: {error}") from error
    try:
        yield source.with_name(name)
    finally:
        with source.connect(autocommit=True) as conn:
            _drop(conn, name)


def scratch_database_exists(source: Database, name: str) -> bool:
    with source.connect(autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


def scratch_databases_drop_stale(source: Database, *, now: dt.datetime) -> list[str]:
    """Drop scratch databases a killed verification left behind (older than STALE_AFTER)."""
    dropped = []
    with source.connect(autocommit=True) as conn:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [SCRATCH_PREFIX]
            )
        ]
        for name in names:
            stamp = name[len(SCRATCH_PREFIX) :].split("_", 1)[0]
            try:
                created = dt.datetime.strptime(stamp, _TIMESTAMP).replace(tzinfo=dt.UTC)
            except ValueError:
                continue  # not one of ours
            if now - created > STALE_AFTER:
                _drop(conn, name)
                dropped.append(name)
    if dropped:
        logger.warning("dropped stale scratch databases", extra={"databases": dropped})
    return dropped


@contextmanager
def database_alias(database: Database, *, like: str = "default") -> Iterator[str]:
    """A Django connection alias on ``database`` (``like``'s settings, without the pool), for
    running Django itself against it (``migrate --check``, ORM reads); removed on exit.

    The connection is registered in ``connections`` but not in ``settings.DATABASES``: it is
    this process's (this thread's) own, invisible to code that iterates the configured
    databases, and nothing global is changed.
    """
    alias = f"operations_{database.name}"
    config = copy.deepcopy(connections[like].settings_dict)
    config["NAME"] = database.name
    # A pool would keep connections open and make the scratch database impossible to drop.
    config["OPTIONS"] = {key: value for key, value in config["OPTIONS"].items() if key != "pool"}
    connections[alias] = load_backend(config["ENGINE"]).DatabaseWrapper(config, alias)
    try:
        yield alias
    finally:
        try:
            connections[alias].close()
        finally:
            del connections[alias]
