"""A scratch PostgreSQL database that ``manage.py`` subprocesses migrate back and forth.

The database is created on the test database's server (same credentials) under a unique name
that is never the test run's database nor the configured one, and is dropped when the
``scratch_database()`` block ends, however it ends.

Migrations run in a subprocess whose *default* database is the scratch one: the project's data
migrations query through the default alias (``Asset.objects``, not
``.using(schema_editor.connection.alias)``), so ``migrate --database <another alias>`` in this
process would write their rows into the test run's database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, LiteralString
from urllib.parse import quote, urlencode

import psycopg
from django.conf import settings
from django.db import connections
from psycopg import sql

SCRATCH_NAME_PREFIX = "scratch_migrations_"
# PostgreSQL 13 added DROP DATABASE … WITH (FORCE), which ends the sessions still connected.
FORCE_DROP_MIN_SERVER_VERSION = 130000
MANAGE_TIMEOUT_S = 300

Schema = dict[str, set[tuple[Any, ...]]]

SCHEMA_QUERIES: dict[str, LiteralString] = {
    "tables": """
        SELECT c.relname, c.relkind, coalesce(pg_get_expr(c.relpartbound, c.oid), '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
    """,
    "columns": """
        SELECT table_name, column_name, data_type, is_nullable, column_default,
               character_maximum_length, numeric_precision, numeric_scale, is_identity
        FROM information_schema.columns
        WHERE table_schema = 'public'
    """,
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "constraints": """
        SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'
    """,
    "migrations": "SELECT app, name FROM django_migrations",
}


def schema_differences(expected: Schema, actual: Schema) -> dict[str, dict[str, list[Any]]]:
    """Per part of the schema, what ``actual`` lacks and what it has in excess; {} if equal."""
    differences = {}
    for part in expected.keys() | actual.keys():
        missing = sorted(expected.get(part, set()) - actual.get(part, set()), key=repr)
        extra = sorted(actual.get(part, set()) - expected.get(part, set()), key=repr)
        if missing or extra:
            differences[part] = {"missing": missing, "extra": extra}
    return differences


def database_url(settings_dict: dict[str, Any], name: str) -> str:
    """A ``DATABASE_URL`` for database ``name`` on the server of ``settings_dict``.

    A unix-socket host goes into the query string (``postgres://user@/name?host=/dir``), as the
    test settings' ``env.db_url`` expects; scalar ``OPTIONS`` (sslmode, …) are kept.
    """
    query = {key: value for key, value in settings_dict["OPTIONS"].items() if _is_scalar(value)}
    host, port = settings_dict["HOST"] or "", settings_dict["PORT"] or ""
    credentials = quote(settings_dict["USER"] or "", safe="")
    if settings_dict["PASSWORD"]:
        credentials += ":" + quote(settings_dict["PASSWORD"], safe="")
    netloc = f"{credentials}@"
    if host and not host.startswith("/"):
        netloc += f"{host}:{port}" if port else host
    else:
        query.update({key: value for key, value in (("host", host), ("port", port)) if value})
    url = f"postgres://{netloc}/{quote(name, safe='')}"
    return f"{url}?{urlencode(query)}" if query else url


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def server_connection(database_name: str = "postgres") -> psycopg.Connection[Any]:
    """An autocommit connection to ``database_name`` on the test database's server."""
    params = connections["default"].get_connection_params()  # builds no connection
    return psycopg.connect(**{**params, "dbname": database_name}, autocommit=True)


def protected_names() -> set[str]:
    """The databases a scratch database must never be: the configured one and the test one."""
    settings_dict = connections["default"].settings_dict
    return {
        settings.DATABASES["default"]["NAME"],
        settings_dict["NAME"],
        settings_dict["TEST"]["NAME"],
    }


@dataclass(frozen=True)
class ScratchDatabase:
    name: str
    url: str

    def connect(self) -> psycopg.Connection[Any]:
        return server_connection(self.name)

    def manage(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py <arguments>`` with the test settings against this database only.

        With ``check``, a non-zero exit fails the test with the command's output.
        """
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": self.url,
            "REDIS_URL": settings.REDIS_URL,  # the run's own Redis: the subprocess starts none
        }
        result = subprocess.run(  # noqa: S603 - this interpreter, our manage.py, fixed arguments
            [sys.executable, "manage.py", *arguments],
            cwd=settings.BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=MANAGE_TIMEOUT_S,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(arguments)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def schema(self) -> Schema:
        """Tables (with partition bounds), columns, indexes, constraints, applied migrations."""
        with self.connect() as connection:
            return {
                part: set(connection.execute(query).fetchall())
                for part, query in SCHEMA_QUERIES.items()
            }

    def applied_migrations(self) -> set[tuple[str, str]]:
        with self.connect() as connection:
            return set(connection.execute(SCHEMA_QUERIES["migrations"]).fetchall())


def database_exists(name: str) -> bool:
    with server_connection() as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        return found.fetchone() is not None


@contextmanager
def scratch_database() -> Iterator[ScratchDatabase]:
    """Create an empty database with a unique name; drop it (its sessions too) on exit."""
    name = f"{SCRATCH_NAME_PREFIX}{uuid.uuid4().hex[:12]}"
    if name in protected_names():
        raise AssertionError(f"refusing to use {name!r}: it is the test run's own database")
    with server_connection() as maintenance:
        maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = database_url(connections["default"].settings_dict, name)
        yield ScratchDatabase(name=name, url=url)
    finally:
        drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
        with server_connection() as maintenance:
            if maintenance.info.server_version >= FORCE_DROP_MIN_SERVER_VERSION:
                drop = sql.SQL("{} WITH (FORCE)").format(drop)
            maintenance.execute(drop)
