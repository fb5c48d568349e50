"""Read an MVP database (``../shared/reference/mvp-schema.md``) into small records and frames.

The MVP is only ever read: one connection, one ``READ ONLY`` ``REPEATABLE READ`` transaction,
so every table is read from the same snapshot even while the MVP keeps running. Nothing here
touches our database.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg
from psycopg import IsolationLevel
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

# Without these the database is not an MVP's; the others may be missing (an MVP that never
# stored market caps or a strategy) and are then reported as absent.
REQUIRED_TABLES = ("assets", "prices", "users")
OPTIONAL_TABLES = ("index_values", "market_cap_data", "strategy_configs")
CONNECT_TIMEOUT_SECONDS = 10


class MvpDatabaseError(Exception):
    """The MVP database cannot be reached or read, or is not an MVP database (one line)."""


@dataclass(frozen=True, slots=True)
class MvpUser:
    id: int
    email: str
    password_hash: str
    is_google_user: bool
    created_at: datetime.datetime | None  # naive UTC, as the MVP stored it


@dataclass(frozen=True, slots=True)
class MvpAsset:
    id: int
    symbol: str
    name: str
    sector: str


@dataclass(frozen=True, slots=True)
class MvpMarketCap:
    """One dated row of the MVP's ``market_cap_data``: a cap (USD) and/or shares outstanding
    (NaN where the MVP had NULL)."""

    asset_id: int
    date: datetime.datetime
    market_cap: float
    shares_outstanding: float = float("nan")


def _float_or_nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def database_label(url: str) -> str:
    """``host:port/dbname`` of a connection URL or conninfo string, never its password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "the given database URL"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or '?'}"


class MvpReader:
    """The MVP's tables, read inside one read-only snapshot (see :func:`mvp_database`)."""

    def __init__(self, connection: psycopg.Connection[Any], tables: frozenset[str]) -> None:
        self._connection = connection
        self.tables = tables

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn a failed MVP query (a missing column, a lost connection) into one line."""
        try:
            yield
        except psycopg.Error as error:
            reason = _first_line(error)
            raise MvpDatabaseError(f"reading the MVP database failed: {reason}") from None

    def _rows(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._reading(), self._connection.cursor(row_factory=dict_row) as cursor:
            cursor.execute(query, params or None)
            return cursor.fetchall()

    def _count(self, table: str) -> int:
        if table not in self.tables:
            return 0
        with self._reading(), self._connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 (a constant name)
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def users(self) -> list[MvpUser]:
        """Every MVP user, by id."""
        return [
            MvpUser(
                id=row["id"],
                email=row["email"] or "",
                password_hash=row["password_hash"] or "",
                is_google_user=bool(row["is_google_user"]),
                created_at=row["created_at"],
            )
            for row in self._rows(
                "SELECT id, email, password_hash, is_google_user, created_at FROM users ORDER BY id"
            )
        ]

    def assets(self) -> list[MvpAsset]:
        """Every MVP asset, by id (name and sector empty where the MVP had none)."""
        return [
            MvpAsset(
                id=row["id"],
                symbol=(row["symbol"] or "").strip(),
                name=(row["name"] or "").strip(),
                sector=(row["sector"] or "").strip(),
            )
            for row in self._rows("SELECT id, symbol, name, sector FROM assets ORDER BY id")
        ]

    def price_count(self) -> int:
        return self._count("prices")

    def price_batches(self, *, rows: int) -> Iterator[pd.DataFrame]:
        """Every MVP close, ``rows`` at a time, by (asset, date): frames with the columns
        ``mvp_asset_id``, ``date`` (``datetime.date``) and ``close`` (float; NaN for NULL).

        A server-side cursor: the MVP's price table is never loaded whole.
        """
        with self._connection.cursor(name="mvp_prices") as cursor:
            with self._reading():
                cursor.execute("SELECT asset_id, date, close FROM prices ORDER BY asset_id, date")
            while True:
                with self._reading():
                    batch = cursor.fetchmany(rows)
                if not batch:
                    return
                frame = pd.DataFrame.from_records(batch, columns=["mvp_asset_id", "date", "close"])
                frame["close"] = pd.to_numeric(frame["close"], errors="coerce")
                yield frame

    def market_cap_count(self) -> int:
        return self._count("market_cap_data")

    def market_caps(self) -> list[MvpMarketCap]:
        """Every dated MVP market cap, by asset and date: one row per asset and calendar day
        (the day's latest timestamp, then the highest id, wins), rows with an asset, a date and
        a cap or a share count. ``shares_outstanding`` is read when the MVP's table has it."""
        if "market_cap_data" not in self.tables:
            return []
        shares = "shares_outstanding" in self._columns("market_cap_data")
        shares_column = "shares_outstanding" if shares else "NULL::double precision"
        rows = self._rows(
            f"""
            SELECT DISTINCT ON (asset_id, date::date)
                asset_id, date, market_cap, {shares_column} AS shares_outstanding
            FROM market_cap_data
            WHERE asset_id IS NOT NULL AND date IS NOT NULL
              AND (market_cap IS NOT NULL OR {shares_column} IS NOT NULL)
            ORDER BY asset_id, date::date, date DESC, id DESC
            """  # noqa: S608 (constant column names)
        )
        return [
            MvpMarketCap(
                asset_id=row["asset_id"],
                date=row["date"],
                market_cap=_float_or_nan(row["market_cap"]),
                shares_outstanding=_float_or_nan(row["shares_outstanding"]),
            )
            for row in rows
        ]

    def _columns(self, table: str) -> set[str]:
        rows = self._rows(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        )
        return {row["column_name"] for row in rows}

    def strategy(self) -> dict[str, Any] | None:
        """The MVP's strategy (its first row, which is the one the MVP read), every column."""
        if "strategy_configs" not in self.tables:
            return None
        rows = self._rows("SELECT * FROM strategy_configs ORDER BY id LIMIT 1")
        return rows[0] if rows else None

    def index_levels(self) -> pd.Series:
        """The MVP's own index levels (float) by date (``datetime.date``) ascending."""
        if "index_values" not in self.tables:
            return pd.Series(dtype="float64")
        rows = self._rows("SELECT date, value FROM index_values ORDER BY date")
        return pd.Series(
            [row["value"] for row in rows], index=[row["date"] for row in rows], dtype="float64"
        )


@contextmanager
def mvp_database(url: str) -> Iterator[MvpReader]:
    """Open the MVP database read-only; raise :class:`MvpDatabaseError` (one line, no password)
    when it is unreachable, lacks the MVP's tables, or a read fails."""
    label = database_label(url)
    try:
        connection = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as error:
        reason = _first_line(error)
        raise MvpDatabaseError(f"cannot connect to the MVP database {label}: {reason}") from None
    try:
        connection.read_only = True
        connection.isolation_level = IsolationLevel.REPEATABLE_READ
        with connection.transaction():
            tables = _tables_present(connection)
            missing = sorted(set(REQUIRED_TABLES) - tables)
            if missing:
                raise MvpDatabaseError(
                    f"{label} is not an MVP database: tables missing: {', '.join(missing)}"
                )
            yield MvpReader(connection, frozenset(tables))
    finally:
        connection.close()


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _tables_present(connection: psycopg.Connection[Any]) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name FROM information_schema.tables
            WHERE table_schema = current_schema() AND table_name = ANY(%s)
            """,
            [list(REQUIRED_TABLES + OPTIONAL_TABLES)],
        )
        return {name for (name,) in cursor.fetchall()}
