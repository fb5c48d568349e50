"""Yearly range partitions of ``market_price``.

The table is ``PARTITION BY RANGE (date)`` with one partition per calendar year
(``market_price_y2024`` holds 2024-01-01 ≤ date < 2025-01-01) and a DEFAULT partition
(``market_price_default``) so that no row is ever rejected for lack of a partition.

PostgreSQL refuses to create a partition for a year while DEFAULT holds rows of that year. Then
:func:`ensure_year_partitions` detaches DEFAULT, creates the missing partitions and a new empty
DEFAULT, copies the old DEFAULT's rows back through the parent (each row lands in its own
partition) and drops the detached table — all in one transaction, so either every row has moved
or nothing changed. No row is deleted on the way.

DDL takes no query parameters, so statements are composed with :mod:`psycopg.sql`: table names
are quoted as identifiers and partition bounds as literals, never formatted into the text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import sql

logger = logging.getLogger(__name__)

PARENT_TABLE = "market_price"
DEFAULT_PARTITION = f"{PARENT_TABLE}_default"
FIRST_PARTITION_YEAR = 2000


def partition_name(year: int) -> str:
    return f"{PARENT_TABLE}_y{year}"


def create_partition_sql(year: int) -> sql.Composed:
    """``CREATE TABLE`` of the partition holding ``year`` (from its 1 January, inclusive, to the
    next year's, exclusive)."""
    return sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
        sql.Identifier(partition_name(year)),
        sql.Identifier(PARENT_TABLE),
        sql.Literal(f"{year}-01-01"),
        sql.Literal(f"{year + 1}-01-01"),
    )


def existing_year_partitions(cursor: CursorWrapper) -> set[int]:
    cursor.execute(
        """
        SELECT child.relname
        FROM pg_inherits
        JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        WHERE parent.relname = %s
        """,
        [PARENT_TABLE],
    )
    prefix = f"{PARENT_TABLE}_y"
    return {int(name[len(prefix) :]) for (name,) in cursor.fetchall() if name.startswith(prefix)}


def _default_years(cursor: CursorWrapper) -> set[int]:
    cursor.execute(
        sql.SQL("SELECT DISTINCT EXTRACT(YEAR FROM date)::int FROM {}").format(
            sql.Identifier(DEFAULT_PARTITION)
        )
    )
    return {year for (year,) in cursor.fetchall()}


@dataclass(frozen=True)
class PartitionReport:
    created: list[int]
    rows_moved_from_default: int


def ensure_year_partitions(years: Iterable[int], *, using: str = "default") -> PartitionReport:
    """Create the yearly partitions in ``years`` that are missing; idempotent.

    Rows of those years waiting in DEFAULT are moved into their new partitions in the same
    transaction. Returns what was created and how many rows moved.
    """
    wanted = sorted(set(years))
    with transaction.atomic(using=using), connection.cursor() as cursor:
        # Serialise concurrent callers (beat task and a manual command at once).
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [PARENT_TABLE])
        missing = [year for year in wanted if year not in existing_year_partitions(cursor)]
        if not missing:
            return PartitionReport(created=[], rows_moved_from_default=0)
        blocked = _default_years(cursor) & set(missing)
        if not blocked:
            for year in missing:
                cursor.execute(create_partition_sql(year))
            logger.info("created price partitions", extra={"years": missing})
            return PartitionReport(created=missing, rows_moved_from_default=0)

        stale_default = f"{DEFAULT_PARTITION}_old"
        # Deferred foreign-key checks queued for DEFAULT's rows in this transaction would block
        # dropping the detached table: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        parent, default, stale = (
            sql.Identifier(name) for name in (PARENT_TABLE, DEFAULT_PARTITION, stale_default)
        )
        cursor.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(parent, default))
        cursor.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(default, stale))
        for year in missing:
            cursor.execute(create_partition_sql(year))
        cursor.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} DEFAULT").format(default, parent))
        cursor.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(parent, stale))
        moved = cursor.rowcount
        cursor.execute(sql.SQL("DROP TABLE {}").format(stale))
        logger.info(
            "created price partitions and moved rows out of DEFAULT",
            extra={"years": missing, "rows_moved": moved},
        )
        return PartitionReport(created=missing, rows_moved_from_default=moved)
