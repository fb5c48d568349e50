"""Readiness checks of the market app (``HEALTH_READY_CHECKS``): data freshness, vendor breaker.

Each check returns a dict with a ``status`` of ``ok`` or ``degraded`` (never ``down``: stale
prices or an open breaker do not stop the app from serving what it has) and the figures it
judged, so an operator reading ``/health/ready`` sees why.

Data freshness compares, per asset class with active assets, the latest stored price date
(:func:`market.selectors.latest_price_date_by_class`) with the last expected trading day: the
last weekday (Monday to Friday, FX included) before today, UTC — today's bar only exists after
the nightly refresh, so it is never expected. ``HEALTH_DATA_FRESHNESS_GRACE_DAYS`` weekdays
more are allowed (holidays, one failed night). Exchange holidays are not known: the grace
covers them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pybreaker
from django.conf import settings
from django.utils import timezone

from core.health import needs
from market.providers.breaker import get_breaker
from market.selectors import latest_price_date_by_class


def previous_weekday(day: dt.date, weekdays: int = 1) -> dt.date:
    """The weekday ``weekdays`` weekdays before ``day`` (Saturdays and Sundays skipped)."""
    for _ in range(weekdays):
        day -= dt.timedelta(days=1)
        while day.weekday() >= 5:
            day -= dt.timedelta(days=1)
    return day


def expected_price_date(today: dt.date) -> dt.date:
    """The last trading day whose bar must be stored on ``today``: the weekday before it."""
    return previous_weekday(today)


def data_freshness() -> dict[str, Any]:
    """``degraded`` when an active asset class's latest price is older than allowed."""
    grace = settings.HEALTH_DATA_FRESHNESS_GRACE_DAYS
    expected = expected_price_date(timezone.now().date())
    oldest_allowed = previous_weekday(expected, grace)
    classes: dict[str, Any] = {}
    for asset_class, latest in sorted(latest_price_date_by_class().items()):
        fresh = latest is not None and latest >= oldest_allowed
        classes[asset_class] = {
            "status": "ok" if fresh else "degraded",
            "latest": latest.isoformat() if latest else None,
        }
    stale = sorted(name for name, answer in classes.items() if answer["status"] != "ok")
    return {
        "status": "degraded" if stale else "ok",
        "expected": expected.isoformat(),
        "grace_days": grace,
        "asset_classes": classes,
        **({"stale": stale} if stale else {}),
    }


def breaker_state() -> tuple[str, dt.datetime | None]:
    """The shared TwelveData breaker's state (closed, open, half-open) and when it last opened."""
    breaker = get_breaker()
    # pybreaker has no public accessor for the storage's opened_at (Redis, shared).
    return breaker.current_state, breaker._state_storage.opened_at


@needs("redis")
def circuit_breaker() -> dict[str, Any]:
    """``degraded`` while the TwelveData breaker is open or half-open (vendor calls fail fast)."""
    state, opened_at = breaker_state()
    answer: dict[str, Any] = {
        "status": "ok" if state == pybreaker.STATE_CLOSED else "degraded",
        "state": state,
    }
    if opened_at is not None:
        answer["opened_at"] = opened_at.isoformat()
    return answer
