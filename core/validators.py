"""Bounds every date the API accepts, in bodies and in query parameters.

A date far from the data is never what a client means, and the extremes break the maths
(``0001-01-01`` overflows date arithmetic, ``2300-01-01`` is past what pandas can index): the
API accepts ``API_DATE_MIN`` (default 1990-01-01) up to one year after today (UTC), and answers
anything outside with a 400 field error, before any service sees it.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone


def api_date_range() -> tuple[dt.date, dt.date]:
    """The first and last date the API accepts (both inclusive): ``API_DATE_MIN`` and today
    (UTC) plus one year (28 February for a 29 February today)."""
    today = timezone.now().date()
    try:
        last = today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        last = today.replace(year=today.year + 1, day=28)
    return settings.API_DATE_MIN, last


def validate_api_date(value: dt.date | dt.datetime) -> None:
    """Refuses a date (or the date of a datetime) outside :func:`api_date_range`."""
    first, last = api_date_range()
    day = value.date() if isinstance(value, dt.datetime) else value
    if not first <= day <= last:
        raise ValidationError(
            "Must be between %(first)s and %(last)s.",
            code="date_out_of_range",
            params={"first": first.isoformat(), "last": last.isoformat()},
        )
