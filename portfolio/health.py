"""Readiness check of the portfolio app (``HEALTH_READY_CHECKS``): the published run's age.

Per live index, the age of its published run (now − ``published_at``) in hours. The nightly
chain republishes Monday to Friday (UTC) and only when an index's inputs changed, so the age
that is judged counts weekday hours only: a run published on Friday night is one day old, not
three, on Monday night. ``degraded`` when an index's run is older than
``HEALTH_PUBLISHED_RUN_MAX_AGE_HOURS`` such hours, or when it has none (never published);
never ``down`` — readers keep getting the last published run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from portfolio.models import Index, IndexRun


def weekday_seconds_between(start: dt.datetime, end: dt.datetime) -> float:
    """Seconds between ``start`` and ``end`` that fall on Monday to Friday, UTC."""
    start, end = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
    total = 0.0
    cursor = start
    while cursor < end:
        midnight = dt.datetime.combine(cursor.date() + dt.timedelta(days=1), dt.time(), dt.UTC)
        stop = min(midnight, end)
        if cursor.weekday() < 5:
            total += (stop - cursor).total_seconds()
        cursor = stop
    return total


def published_runs() -> dict[str, Any]:
    """``degraded`` when a live index's published run is too old or missing (one query)."""
    max_age = settings.HEALTH_PUBLISHED_RUN_MAX_AGE_HOURS
    now = timezone.now()
    published_at = IndexRun.objects.filter(
        index=OuterRef("pk"), status=IndexRun.Status.PUBLISHED
    ).values("published_at")[:1]
    indexes: dict[str, Any] = {}
    for slug, at in Index.objects.annotate(published_at=Subquery(published_at)).values_list(
        "slug", "published_at"
    ):
        if at is None:
            indexes[slug] = {"status": "degraded", "published_at": None}
            continue
        weekday_hours = weekday_seconds_between(at, now) / 3600
        indexes[slug] = {
            "status": "ok" if weekday_hours <= max_age else "degraded",
            "published_at": at.isoformat(),
            "age_hours": round((now - at).total_seconds() / 3600, 1),
            "weekday_age_hours": round(weekday_hours, 1),
        }
    stale = sorted(slug for slug, answer in indexes.items() if answer["status"] != "ok")
    return {
        "status": "degraded" if stale else "ok",
        "max_age_hours": max_age,
        "indexes": indexes,
        **({"stale": stale} if stale else {}),
    }
