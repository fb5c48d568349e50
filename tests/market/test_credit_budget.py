"""The daily vendor credit budget: exact estimates, the per-day counter in Redis, deferral of
what does not fit, and refusal of a refresh asked for by hand that would overspend."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core.cache import caches
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from market.models import Asset, RefreshRun
from market.providers import TwelveDataClient, TwelveDataDailyLimitExhausted
from market.providers.limiter import CreditLimiter
from market.providers.twelvedata import credit_limiter
from market.services import prices_refresh, refresh_enqueue
from market.services.credits import (
    page_count,
    plans_credits,
    plans_within_budget,
    refresh_credits_estimate,
)
from market.services.jobs import CreditBudgetExceeded
from market.services.refresh_plan import Plan
from tests.factories import AnalystFactory
from tests.market.conftest import REFRESH_END, REFRESH_START, SERVED_SYMBOLS
from tests.market.fault_matrix import fault_record

pytestmark = pytest.mark.django_db

# 2024-01-15 12:00:30.5 UTC is the fake clock's start; its next midnight:
MIDNIGHT = dt.datetime(2024, 1, 16, tzinfo=dt.UTC)


def plan(symbol: str, start: dt.date, end: dt.date, *, fx: bool = False) -> Plan:
    return Plan(asset_id=0, symbol=symbol, vendor_symbol=symbol, fx=fx, start=start, end=end)


def limiter_on(clock, redis_connection, *, per_day: int, per_minute: int = 8) -> CreditLimiter:
    return CreditLimiter(
        redis=redis_connection,
        credits_per_minute=per_minute,
        credits_per_day=per_day,
        key_prefix=caches["strict"].make_key("twelvedata"),
        clock=clock.time,
        sleep=clock.sleep,
    )


def spend_today(credits: int) -> None:
    """Spend ``credits`` of today's (real clock) budget, as workers would have."""
    credit_limiter().acquire(credits)


# ------------------------------------------------------------------------------- estimates


def test_pages_follow_the_clients_paging_by_max_outputsize_days():
    assert page_count(REFRESH_START, REFRESH_END, max_outputsize=5000) == 1
    assert page_count(REFRESH_START, REFRESH_END, max_outputsize=12) == 1
    assert page_count(REFRESH_START, REFRESH_END, max_outputsize=11) == 2
    assert page_count(REFRESH_START, REFRESH_END, max_outputsize=5) == 3
    assert page_count(REFRESH_START, REFRESH_START, max_outputsize=5) == 1
    assert page_count(REFRESH_END, REFRESH_START, max_outputsize=5) == 0
    # The reproduced request: one symbol from 0001-01-01 is 738,897 days, 148 pages.
    assert page_count(dt.date(1, 1, 1), REFRESH_END, max_outputsize=5000) == 148


def test_estimate_is_exactly_what_the_client_spends_paging_and_batching(
    fake_twelvedata, fake_clock, settings
):
    # Given pages of 5 days (12 days: 3 pages) and batches of 2 symbols
    settings.TWELVEDATA_MAX_OUTPUTSIZE = 5
    settings.TWELVEDATA_BATCH_SIZE = 2
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)
    plans = [plan(symbol, REFRESH_START, REFRESH_END) for symbol in ("AAPL", "MSFT", "NVDA")]

    credits, requests = plans_credits(plans, batch_size=client.batch_size)
    client.time_series(["AAPL", "MSFT", "NVDA"], start=REFRESH_START, end=REFRESH_END)

    # 3 symbols x 3 pages, in 3 pages x 2 batches (2 + 1 symbols).
    assert (credits, requests) == (9, 6)
    assert client.limiter.credits_used_today() == 9
    assert len(fake_twelvedata.requests) == 6
    assert [query["symbol"] for query in fake_twelvedata.requests] == [
        "AAPL,MSFT",
        "NVDA",
    ] * 3


def test_refresh_estimate_plans_like_the_refresh(settings):
    # Seeded universe, no prices: every served symbol from ASSET_DEFAULT_START, 1 page each.
    settings.ASSET_DEFAULT_START = REFRESH_START
    every = refresh_credits_estimate(symbols=None, start=None, end=REFRESH_END)
    ancient = refresh_credits_estimate(symbols=["AAPL"], start=dt.date(1, 1, 1), end=REFRESH_END)

    assert (every.estimate, every.remaining) == (len(SERVED_SYMBOLS), 800)
    assert (ancient.estimate, ancient.remaining) == (148, 800)


# ------------------------------------------------------------------------------- daily counter


def test_daily_counter_in_redis_caps_the_day_and_renews_at_midnight(fake_clock, redis_connection):
    limiter = limiter_on(fake_clock, redis_connection, per_day=10)

    assert limiter.acquire(8) == 0
    assert limiter.acquire(2) == 29.5  # the minute is full; the day is not
    assert (limiter.credits_used_today(), limiter.credits_remaining_today()) == (10, 0)
    with pytest.raises(TwelveDataDailyLimitExhausted) as refused:
        limiter.acquire(1)
    assert refused.value.until == MIDNIGHT
    assert limiter.credits_used_today() == 10  # a refused take takes nothing
    day_key = caches["strict"].make_key("twelvedata") + ":credits-day:19737"
    assert int(redis_connection.get(day_key)) == 10
    assert 0 < redis_connection.ttl(day_key) <= 2 * 86400

    fake_clock.now = MIDNIGHT.timestamp() + 1

    assert (limiter.credits_used_today(), limiter.credits_remaining_today()) == (0, 10)
    assert limiter.acquire(1) == 0


def test_a_remembered_daily_429_leaves_nothing_today_even_without_a_cap(
    fake_clock, redis_connection
):
    unlimited = limiter_on(fake_clock, redis_connection, per_day=0)
    assert unlimited.credits_remaining_today() is None

    unlimited.block_until_midnight()

    assert unlimited.credits_remaining_today() == 0
    assert limiter_on(fake_clock, redis_connection, per_day=800).credits_remaining_today() == 0


def test_workers_sharing_the_day_never_overspend_it(fake_clock, redis_connection, settings):
    from redis import Redis

    first = limiter_on(fake_clock, Redis.from_url(settings.REDIS_URL), per_day=5)
    second = limiter_on(fake_clock, Redis.from_url(settings.REDIS_URL), per_day=5)

    first.acquire(3)
    with pytest.raises(TwelveDataDailyLimitExhausted):
        second.acquire(3)
    second.acquire(2)

    assert first.credits_remaining_today() == second.credits_remaining_today() == 0


# ------------------------------------------------------------------------------- deferral


def test_plans_are_kept_in_order_while_they_fit_and_the_rest_deferred(settings):
    settings.TWELVEDATA_CREDITS_PER_DAY = 10
    settings.TWELVEDATA_MAX_OUTPUTSIZE = 5
    spend_today(6)  # 4 left
    plans = [
        plan("A", REFRESH_START, REFRESH_START),  # 1 page
        plan("B", REFRESH_START, REFRESH_END),  # 3 pages
        plan("C", REFRESH_START, REFRESH_START),  # 1 page: would not fit after A and B
        plan("D", REFRESH_START, REFRESH_START),  # deferred too: order is kept
    ]

    budget = plans_within_budget(plans, batch_size=8)

    assert [p.symbol for p in budget.kept] == ["A", "B"]
    assert [p.symbol for p in budget.deferred] == ["C", "D"]
    assert (budget.estimate, budget.remaining, budget.kept_credits) == (6, 4, 4)


def test_without_a_daily_cap_every_plan_is_kept(settings):
    settings.TWELVEDATA_CREDITS_PER_DAY = 0
    spend_today(8)
    plans = [plan(symbol, REFRESH_START, REFRESH_END) for symbol in ("A", "B")]

    budget = plans_within_budget(plans, batch_size=8)

    assert (budget.kept, budget.deferred, budget.estimate, budget.remaining) == (plans, [], 2, None)


def test_nightly_refresh_with_a_small_budget_runs_what_fits_and_defers_the_rest(
    fake_twelvedata, fake_clock, settings
):
    # Given 10 credits left for a refresh of the 19 served symbols (one page each)
    settings.TWELVEDATA_CREDITS_PER_DAY = 10
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)
    in_order = list(
        Asset.objects.filter(symbol__in=SERVED_SYMBOLS)
        .order_by("symbol")
        .values_list("symbol", flat=True)
    )
    started = time.monotonic()

    # When the nightly refresh runs
    run = prices_refresh(end=REFRESH_END, trigger=RefreshRun.Trigger.BEAT, client=client)

    # Then the first 10 symbols are stored, the other 9 deferred with the numbers
    run.refresh_from_db()
    assert run.status == RefreshRun.Status.PARTIAL
    assert (run.credits_planned, run.symbols_total, run.symbols_done) == (19, 10, 10)
    assert sorted(run.deferred_symbols) == sorted(in_order[10:])
    assert run.rows_inserted == 10 * 9
    assert run.errors == {}
    assert client.limiter.credits_used_today() == 10
    sent = {symbol for query in fake_twelvedata.requests for symbol in query["symbol"].split(",")}
    assert sent == set(in_order[:10])
    fault_record(
        "nightly refresh, 10 credits left for 19 symbols",
        expected="10 stored, 9 deferred, partial, credits_planned=19",
        observed=(
            f"{run.symbols_done} stored, {len(run.deferred_symbols)} deferred, {run.status},"
            f" credits_planned={run.credits_planned}"
        ),
        seconds=time.monotonic() - started,
    )


# ------------------------------------------------------------------------------- by hand


def test_refresh_from_year_one_is_refused_by_the_per_request_cap(task_queue):
    started = time.monotonic()
    with pytest.raises(CreditBudgetExceeded) as refused:
        refresh_enqueue(
            symbols=["AAPL"],
            start=dt.date(1, 1, 1),
            end=REFRESH_END,
            actor=AnalystFactory(),
            trigger=RefreshRun.Trigger.API,
        )

    assert refused.value.status_code == 422
    assert refused.value.extra == {
        "credits_needed": 148,
        "credits_remaining": 800,
        "credits_max_per_request": 100,
    }
    assert refused.value.detail == (
        "This refresh needs 148 vendor credits; one request may spend at most 100. "
        "Ask for fewer symbols or a shorter range."
    )
    assert task_queue.tasks() == []
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REFRESH_TRIGGERED).exists()
    fault_record(
        "refresh by hand from 0001-01-01 (one symbol)",
        expected="422 credit-budget-exceeded, nothing queued",
        observed=f"{refused.value.status_code} {refused.value.code}, "
        f"{len(task_queue.tasks())} queued",
        seconds=time.monotonic() - started,
    )


def api_refresh(body: dict[str, object]):
    client = APIClient()
    client.force_authenticate(user=AnalystFactory())
    return client.post(
        reverse("api:refresh-job-list", kwargs={"version": "v2"}), body, format="json"
    )


def test_api_refresh_over_the_remaining_budget_is_422_and_queues_nothing(settings, task_queue):
    # Given 1 credit left today and a refresh that needs 2
    settings.TWELVEDATA_CREDITS_PER_DAY = 5
    spend_today(4)
    started = time.monotonic()

    response = api_refresh(
        {"symbols": ["AAPL", "MSFT"], "start": "2024-01-02", "end": "2024-01-12"}
    )

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body == {
        "type": "https://autoindex.example/problems/credit-budget-exceeded",
        "title": "Not enough vendor credits",
        "status": 422,
        "detail": (
            "This refresh needs 2 vendor credits and 1 remain today (they renew at 00:00 UTC). "
            "Ask for fewer symbols or a shorter range, or retry tomorrow."
        ),
        "instance": "/api/v2/jobs/refresh/",
        "request_id": response["X-Request-ID"],
        "credits_needed": 2,
        "credits_remaining": 1,
        "credits_max_per_request": 100,
    }
    assert task_queue.tasks() == []
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REFRESH_TRIGGERED).exists()
    fault_record(
        "POST jobs/refresh/ needing 2 credits with 1 left today",
        expected="422 credit-budget-exceeded, nothing queued, nothing audited",
        observed=f"{response.status_code} {body['type'].rsplit('/', 1)[-1]}, "
        f"{len(task_queue.tasks())} queued",
        seconds=time.monotonic() - started,
    )


def test_api_refresh_after_a_daily_429_is_422_with_nothing_remaining(settings, task_queue):
    credit_limiter().block_until_midnight()

    response = api_refresh({"symbols": ["AAPL"], "start": "2024-01-02", "end": "2024-01-12"})

    assert response.status_code == 422
    body = response.json()
    assert (body["credits_needed"], body["credits_remaining"]) == (1, 0)
    assert task_queue.tasks() == []


def test_api_refresh_that_fits_the_budget_is_queued(
    settings, task_queue, django_capture_on_commit_callbacks
):
    settings.TWELVEDATA_CREDITS_PER_DAY = 5
    spend_today(3)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_refresh(
            {"symbols": ["AAPL", "MSFT"], "start": "2024-01-02", "end": "2024-01-12"}
        )

    assert response.status_code == 202, response.content
    assert [name for name, _ in task_queue.tasks()] == [settings.REFRESH_JOB_TASK]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REFRESH_TRIGGERED).count() == 1
