"""Role throttles (fail open) and brute-force limits on sign-in/registration (fail closed).

Real Redis throughout; the outage tests point the cache aliases at a dead port.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import time_machine
from django.core.cache import caches
from django.test import RequestFactory

from accounts.models import AuditEvent
from core.throttling import client_ip
from tests.factories import TEST_PASSWORD, ViewerFactory

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _frozen_clock():
    """django-ratelimit counts in fixed windows: keep every attempt of a test in one window."""
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, 1, tzinfo=dt.UTC), tick=False):
        yield


def _dead_caches(settings) -> None:
    settings.CACHES = {
        alias: {**config, "LOCATION": DEAD_REDIS} for alias, config in settings.CACHES.items()
    }


def _login(api_client, email: str, password: str = "wrong", **extra):  # noqa: S107
    return api_client.post(
        api_url("auth-token"), {"email": email, "password": password}, format="json", **extra
    )


def test_sixth_attempt_for_one_email_is_429_with_retry_after_and_audited_once(api_client):
    user = ViewerFactory()
    statuses = [_login(api_client, user.email).status_code for _ in range(5)]

    blocked = _login(api_client, user.email, TEST_PASSWORD)  # even the right password
    again = _login(api_client, user.email)

    assert statuses == [401] * 5
    assert_problem(blocked, 429)
    assert 0 < int(blocked["Retry-After"]) <= 300
    assert_problem(again, 429)
    limited = AuditEvent.objects.filter(action=AuditEvent.Action.RATE_LIMITED)
    assert limited.count() == 1
    assert limited.get().details == {"endpoint": "auth-token", "limit": "email"}


def test_per_ip_limit_counts_across_emails(api_client, settings):
    settings.AUTH_LOGIN_RATE_PER_IP = "3/5m"
    for number in range(3):
        assert _login(api_client, f"u{number}@example.com").status_code == 401

    assert_problem(_login(api_client, "fresh@example.com"), 429)


def test_spoofed_forwarded_for_does_not_reset_the_ip_limit(api_client, settings):
    # Behind one trusted proxy: the proxy appends the address it saw to X-Forwarded-For.
    settings.TRUSTED_PROXY_COUNT = 1
    settings.AUTH_LOGIN_RATE_PER_IP = "3/5m"
    statuses = [
        _login(
            api_client,
            f"u{number}@example.com",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{number}, 203.0.113.7",
        ).status_code
        for number in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_forwarded_for_is_ignored_without_trusted_proxies(api_client, settings):
    settings.AUTH_LOGIN_RATE_PER_IP = "2/5m"
    statuses = [
        _login(api_client, f"u{n}@example.com", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
        for n in range(3)
    ]
    assert statuses == [401, 401, 429]


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "1.1.1.1", "10.0.0.2"),
        (1, "1.1.1.1, 203.0.113.7", "203.0.113.7"),
        (2, "6.6.6.6, 203.0.113.7, 10.0.0.1", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.2"),  # fewer entries than proxies: not through them
        (1, "", "10.0.0.2"),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_role_throttle_limits_each_role_at_its_own_rate(client_as, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"viewer": "2/min", "analyst": "3/min"},
    }
    viewer, analyst = client_as("viewer"), client_as("analyst")
    url = api_url("currency-list")

    viewer_statuses = [viewer.get(url).status_code for _ in range(3)]
    analyst_statuses = [analyst.get(url).status_code for _ in range(4)]

    assert viewer_statuses == [200, 200, 429]
    assert analyst_statuses == [200, 200, 200, 429]


def test_api_throttle_fails_open_when_redis_is_down(client_as, settings, caplog):
    viewer = client_as("viewer")
    _dead_caches(settings)

    with caplog.at_level(logging.ERROR, logger="django_redis"):
        response = viewer.get(api_url("currency-list"))

    assert response.status_code == 200
    assert any("Exception ignored" in record.getMessage() for record in caplog.records)


def test_sign_in_fails_closed_with_503_when_redis_is_down(api_client, settings):
    user = ViewerFactory()
    _dead_caches(settings)

    response = _login(api_client, user.email, TEST_PASSWORD)

    body = assert_problem(response, 503)
    assert body["type"].endswith("/service-unavailable")
    assert int(response["Retry-After"]) > 0


def test_registration_fails_closed_with_503_when_redis_is_down(api_client, settings):
    settings.REGISTRATION_OPEN = True
    _dead_caches(settings)

    response = api_client.post(
        api_url("auth-register"),
        {"email": "new@example.com", "password": "a long passphrase 42"},
        format="json",
    )

    assert_problem(response, 503)


def test_role_throttle_keeps_two_integer_counters_per_client_not_a_list(
    client_as, settings, redis_connection
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"viewer": "600/min"},
    }
    viewer = client_as("viewer")

    for _ in range(3):
        assert viewer.get(api_url("currency-list")).status_code == 200

    # The clock is frozen at 09:00:01: this minute's counter is at 3, and it is all there is.
    window = int(dt.datetime(2026, 3, 2, 9, 0, 1, tzinfo=dt.UTC).timestamp() // 60)
    key = caches["default"].make_key(f"throttle_viewer_{viewer.user.pk}")
    assert redis_connection.get(f"{key}:{window}") == b"3"
    assert redis_connection.get(f"{key}:{window - 1}") is None
    assert redis_connection.get(key) is None  # DRF's list of request times is not kept


def test_a_sliding_window_lets_the_last_windows_requests_decay_not_reset(client_as, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"viewer": "4/min"},
    }
    viewer = client_as("viewer")
    url = api_url("currency-list")
    start = dt.datetime(2026, 3, 2, 9, 1, 0, tzinfo=dt.UTC)  # a window's first second

    with time_machine.travel(start, tick=False):
        first = [viewer.get(url).status_code for _ in range(5)]
        refused = viewer.get(url)
    # 15 s into the next window the last one still weighs 4 × 0.75 = 3: one more request.
    with time_machine.travel(start + dt.timedelta(seconds=75), tick=False):
        later = [viewer.get(url).status_code for _ in range(2)]

    assert first == [200, 200, 200, 200, 429]
    assert refused.status_code == 429
    # Four requests this window: the next window starts in 60 s, and they weigh less than the
    # limit from just after its start (4 × (1 − t/60) < 4 for t > 0): 61 s, rounded up.
    assert int(refused["Retry-After"]) == 61
    assert later == [200, 429]


@pytest.mark.parametrize(
    ("current", "previous", "elapsed", "expected"),
    [
        (4, 0, 0.0, 60.0),  # full now, nothing before: the next window, at its very start
        (8, 0, 30.0, 60.0),  # twice over (a burst at an edge): 30 s to go, then half of the next
        (1, 4, 0.0, 15.0),  # 4 × (1 − t/60) < 3 → t > 15
        (3, 4, 59.5, 1.0),  # at least one second
    ],
)
def test_sliding_window_wait_is_when_the_estimate_drops_below_the_limit(
    current, previous, elapsed, expected
):
    from core.throttling import sliding_window_wait

    wait = sliding_window_wait(
        limit=4, duration=60.0, elapsed=elapsed, current=current, previous=previous
    )

    assert wait == pytest.approx(expected, abs=0.01)
