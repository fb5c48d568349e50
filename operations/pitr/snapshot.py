"""What a database holds, in a few numbers a person can compare: the drill's report.

The only module of ``operations.pitr`` that knows the project's models: it reads their table
names from Django, and the rows over a plain psycopg connection, so that the live database and a
recovered copy (which Django has no connection for) are read by the same queries. A table that
does not exist (a copy of an older schema) is reported as absent, not as an error.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg
from django.db import models
from psycopg import sql

from accounts.models import AuditEvent, User
from market.models import Asset, Price, RefreshRun
from portfolio.models import Index, IndexRun, IndexValue

COUNTED_MODELS: tuple[type[models.Model], ...] = (
    User,
    AuditEvent,
    Asset,
    Price,
    RefreshRun,
    Index,
    IndexRun,
    IndexValue,
)


@dataclass(frozen=True)
class LatestRow:
    """The newest row of a kind: its id and the timestamp that made it the newest."""

    id: int
    at: dt.datetime | None

    def __str__(self) -> str:
        return f"#{self.id} {self.at.isoformat(timespec='seconds') if self.at else '-'}"


@dataclass(frozen=True)
class DatabaseSnapshot:
    """Row counts per table (``None``: no such table) and the newest refresh and publication."""

    row_counts: dict[str, int | None]
    latest_refresh: LatestRow | None
    latest_published_run: LatestRow | None


def _exists(conn: psycopg.Connection, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table]).fetchone()
    return bool(row and row[0])


def _latest(
    conn: psycopg.Connection, table: str, at_column: str, where: sql.Composable
) -> LatestRow | None:
    if not _exists(conn, table):
        return None
    query = sql.SQL(
        "SELECT id, {at} FROM {table} WHERE {where} ORDER BY {at} DESC NULLS LAST, id DESC LIMIT 1"
    ).format(at=sql.Identifier(at_column), table=sql.Identifier(table), where=where)
    row = conn.execute(query).fetchone()
    return LatestRow(id=int(row[0]), at=row[1]) if row else None


def database_snapshot(*, conninfo: str) -> DatabaseSnapshot:
    """Count the key tables and find the latest refresh / published run (one short read)."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        # One snapshot for every count: the numbers belong to one moment of the database.
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row_counts: dict[str, int | None] = {}
        for model in COUNTED_MODELS:
            table = model._meta.db_table
            if not _exists(conn, table):
                row_counts[table] = None
                continue
            counted = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            row_counts[table] = int(counted[0]) if counted else 0
        latest_refresh = _latest(conn, RefreshRun._meta.db_table, "started_at", sql.SQL("true"))
        latest_published_run = _latest(
            conn,
            IndexRun._meta.db_table,
            "published_at",
            sql.SQL("status = {}").format(sql.Literal(IndexRun.Status.PUBLISHED.value)),
        )
    return DatabaseSnapshot(
        row_counts=row_counts,
        latest_refresh=latest_refresh,
        latest_published_run=latest_published_run,
    )
