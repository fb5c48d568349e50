"""The web server as deployed (config/gunicorn.conf.py): large headers reach Django."""

from __future__ import annotations

import pytest

from .conftest import LiveStack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_12_kb_header_is_answered_by_django_not_by_gunicorn(live_stack: LiveStack):
    # gunicorn's default limit (8190 bytes a header) would answer 431 in HTML.
    answer = live_stack.web.get("/health/live", headers={"X-Padding": "x" * 12_000})

    assert (answer.status, answer.json()) == (200, {"status": "ok"})
    assert answer.headers["X-Request-ID"]


def test_a_header_over_16_kb_is_refused_before_django(live_stack: LiveStack):
    answer = live_stack.web.get("/health/live", headers={"X-Padding": "x" * 17_000})

    assert answer.status == 431
