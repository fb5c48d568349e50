"""The TwelveData client against the fake API over real HTTP (loopback), Redis limiter."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest
from django.core.cache import caches

from market.providers import (
    SymbolError,
    SymbolSeries,
    TwelveDataAuthError,
    TwelveDataClient,
    TwelveDataDailyLimitExhausted,
    TwelveDataUnavailable,
)
from market.providers.fake import FakeBar
from market.providers.limiter import CreditLimiter
from tests.market.conftest import REFRESH_END, REFRESH_START, SERVED_DATES, served_bars

pytestmark = pytest.mark.django_db


def closes(result):
    assert isinstance(result, SymbolSeries), result
    return [(bar.date, bar.close) for bar in result.bars]


def test_key_travels_in_the_authorization_header_only(twelvedata_client, fake_twelvedata, caplog):
    caplog.set_level(logging.DEBUG)

    twelvedata_client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    assert fake_twelvedata.authorizations == ["apikey test-key"]
    assert all("test-key" not in str(query) for query in fake_twelvedata.requests)
    assert "test-key" not in caplog.text


def test_asks_for_the_day_after_the_end_and_keeps_only_the_requested_range(
    twelvedata_client, fake_twelvedata
):
    result = twelvedata_client.time_series(
        ["AAPL"], start=dt.date(2024, 1, 3), end=dt.date(2024, 1, 9)
    )

    assert fake_twelvedata.requests == [
        {
            "symbol": "AAPL",
            "interval": "1day",
            "start_date": "2024-01-03",
            "end_date": "2024-01-10",
            "outputsize": "5000",
            "order": "asc",
            "adjust": "none",
        }
    ]
    assert [date for date, _ in closes(result["AAPL"])] == [
        dt.date(2024, 1, 3),
        dt.date(2024, 1, 4),
        dt.date(2024, 1, 5),
        dt.date(2024, 1, 8),
        dt.date(2024, 1, 9),
    ]


def test_fx_pairs_are_asked_in_utc(twelvedata_client, fake_twelvedata):
    twelvedata_client.time_series(["EUR/USD"], start=REFRESH_START, end=REFRESH_END, utc=True)

    assert fake_twelvedata.requests[0]["timezone"] == "UTC"


def test_repeated_dates_from_the_vendor_are_deduplicated(twelvedata_client, fake_twelvedata):
    fake_twelvedata.series["AAPL"].append(
        FakeBar(date=dt.date(2024, 1, 12), close=Decimal("999.5"))
    )

    result = twelvedata_client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    served = closes(result["AAPL"])
    assert len(served) == len(SERVED_DATES)
    assert served[-1] == (dt.date(2024, 1, 12), Decimal("999.5"))


def test_long_ranges_are_paged_by_date(settings, fake_twelvedata, fake_clock):
    settings.TWELVEDATA_MAX_OUTPUTSIZE = 4
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)

    result = client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    assert [(q["start_date"], q["end_date"]) for q in fake_twelvedata.requests] == [
        ("2024-01-01", "2024-01-05"),
        ("2024-01-05", "2024-01-09"),
        ("2024-01-09", "2024-01-13"),
    ]
    assert closes(result["AAPL"]) == [(bar.date, bar.close) for bar in served_bars("AAPL")]


def test_a_batch_is_one_request_costing_one_credit_per_symbol(twelvedata_client, fake_twelvedata):
    results = twelvedata_client.time_series(
        ["AAPL", "MSFT", "NOPE"], start=REFRESH_START, end=REFRESH_END
    )

    assert [query["symbol"] for query in fake_twelvedata.requests] == ["AAPL,MSFT,NOPE"]
    assert closes(results["MSFT"]) == [(bar.date, bar.close) for bar in served_bars("MSFT")]
    assert results["NOPE"] == SymbolError(
        symbol="NOPE",
        kind="not_found",
        code=400,
        message="**symbol** not found: NOPE. Please specify it correctly according to API "
        "Documentation.",
    )


def test_a_414_splits_the_batch(twelvedata_client, fake_twelvedata, monkeypatch):
    monkeypatch.setattr("market.providers.fake.MAX_BATCH_SYMBOLS", 2)

    results = twelvedata_client.time_series(
        ["AAPL", "MSFT", "NVDA", "TSLA"], start=REFRESH_START, end=REFRESH_END
    )

    assert [query["symbol"] for query in fake_twelvedata.requests] == [
        "AAPL,MSFT,NVDA,TSLA",
        "AAPL,MSFT",
        "NVDA,TSLA",
    ]
    assert all(isinstance(result, SymbolSeries) for result in results.values())


def test_malformed_json_naming_one_symbol_fails_only_that_symbol(
    twelvedata_client, fake_twelvedata
):
    fake_twelvedata.fail_symbol("MSFT", "malformed_json")

    results = twelvedata_client.time_series(
        ["AAPL", "MSFT", "NVDA", "TSLA"], start=REFRESH_START, end=REFRESH_END
    )

    assert results["MSFT"] == SymbolError(
        symbol="MSFT", kind="payload", message="response body is not valid JSON"
    )
    assert {symbol for symbol, r in results.items() if isinstance(r, SymbolSeries)} == {
        "AAPL",
        "NVDA",
        "TSLA",
    }


def test_429_for_the_minute_waits_for_the_next_minute_then_succeeds(
    twelvedata_client, fake_twelvedata, fake_clock
):
    fake_twelvedata.fail_next("429_minute")

    result = twelvedata_client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    assert fake_clock.sleeps == [29.5]  # 12:00:30.5 → 12:01:00
    assert len(fake_twelvedata.requests) == 2
    assert len(closes(result["AAPL"])) == len(SERVED_DATES)


def test_429_for_the_day_stops_every_request_until_midnight_utc(
    twelvedata_client, fake_twelvedata, fake_clock
):
    fake_twelvedata.fail_next("429_day")

    with pytest.raises(TwelveDataDailyLimitExhausted) as first:
        twelvedata_client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)
    with pytest.raises(TwelveDataDailyLimitExhausted):
        twelvedata_client.time_series(["MSFT"], start=REFRESH_START, end=REFRESH_END)

    assert first.value.until == dt.datetime(2024, 1, 16, tzinfo=dt.UTC)
    assert len(fake_twelvedata.requests) == 1  # the second call sent nothing
    fake_clock.now = dt.datetime(2024, 1, 16, 0, 0, 1, tzinfo=dt.UTC).timestamp()
    result = twelvedata_client.time_series(["MSFT"], start=REFRESH_START, end=REFRESH_END)
    assert isinstance(result["MSFT"], SymbolSeries)


@pytest.mark.parametrize("fault", ["500", "timeout", "error_200"])
def test_transient_failures_are_retried_with_backoff(
    twelvedata_client, fake_twelvedata, fake_clock, fault
):
    fake_twelvedata.fail_next(fault, times=2)

    result = twelvedata_client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    assert len(fake_twelvedata.requests) == 3
    assert len(fake_clock.sleeps) == 2
    assert 0.5 <= fake_clock.sleeps[0] <= 1.0  # attempt 1: jitter in [base/2, base]
    assert 1.0 <= fake_clock.sleeps[1] <= 2.0  # attempt 2: doubled
    assert isinstance(result["AAPL"], SymbolSeries)


def test_retries_are_capped_then_the_api_is_unavailable(twelvedata_client, fake_twelvedata):
    fake_twelvedata.fail_next("500", times=4)

    with pytest.raises(TwelveDataUnavailable, match="TwelveData failed after 4 attempts: HTTP 500"):
        twelvedata_client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    assert len(fake_twelvedata.requests) == 4


def test_client_errors_are_not_retried(twelvedata_client, fake_twelvedata, fake_clock):
    fake_twelvedata.errors_with_http_200 = False

    result = twelvedata_client.time_series(["NOPE"], start=REFRESH_START, end=REFRESH_END)

    assert isinstance(result["NOPE"], SymbolError)
    assert result["NOPE"].code == 400
    assert len(fake_twelvedata.requests) == 1
    assert fake_clock.sleeps == []


def test_a_wrong_key_is_an_auth_error_whose_message_does_not_carry_the_key(
    settings, fake_twelvedata, fake_clock
):
    settings.TWELVEDATA_API_KEY = "wrong-secret-key"
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)

    with pytest.raises(TwelveDataAuthError) as error:
        client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    assert error.value.code == 401
    assert "wrong-secret-key" not in str(error.value)
    assert len(fake_twelvedata.requests) == 1


def test_the_limiter_keeps_two_workers_within_the_credits_per_minute(
    fake_clock, redis_connection, settings
):
    def limiter() -> CreditLimiter:
        # Two workers: two connections to the same Redis, one shared key space.
        from redis import Redis

        return CreditLimiter(
            redis=Redis.from_url(settings.REDIS_URL),
            credits_per_minute=8,
            key_prefix=caches["strict"].make_key("twelvedata"),
            clock=fake_clock.time,
            sleep=fake_clock.sleep,
        )

    first, second = limiter(), limiter()

    assert first.acquire(5) == 0
    assert second.acquire(3) == 0
    assert second.acquire(1) == 29.5  # the minute is spent: wait for 12:01:00
    assert first.acquire(7) == 0
    assert fake_clock.sleeps == [29.5]
    with pytest.raises(ValueError, match="exceeds the plan's 8 credits per minute"):
        first.acquire(9)
