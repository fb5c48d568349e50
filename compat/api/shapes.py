"""The MVP's value shapes: JSON numbers (never decimal strings), ``YYYY-MM-DD`` dates, naive UTC
timestamps, and ``{"date", "value"}`` series in one array."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

REBASE_TO = 100.0


def naive_utc(moment: datetime.datetime | None) -> str | None:
    """``2026-12-01T21:37:23.681450``: UTC without a zone, as the MVP wrote timestamps."""
    if moment is None:
        return None
    return moment.astimezone(datetime.UTC).replace(tzinfo=None).isoformat()


def iso_date(day: datetime.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def number(value: float | Decimal | None) -> float | None:
    """A JSON number (float); ``None`` stays ``null``."""
    return None if value is None else float(value)


def series(points: Iterable[tuple[datetime.date, float | Decimal]]) -> list[dict[str, Any]]:
    """``[{"date": "YYYY-MM-DD", "value": number}, …]`` in the order given."""
    return [{"date": day.isoformat(), "value": float(value)} for day, value in points]


def rebased_series(
    closes: Iterable[tuple[datetime.date, float | Decimal]],
) -> list[dict[str, Any]]:
    """Closes ÷ the first close × 100, as the MVP rebased asset and benchmark histories."""
    rows = [(day, float(close)) for day, close in closes]
    if not rows:
        return []
    first = rows[0][1]
    return series((day, close / first * REBASE_TO) for day, close in rows)


def percent(fraction: float | None) -> float | None:
    """A fraction as the MVP's percent (``0.078`` → ``7.8``)."""
    return None if fraction is None else fraction * 100.0
