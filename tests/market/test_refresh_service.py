"""prices_refresh end to end: fake TwelveData over HTTP, real PostgreSQL and Redis."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest

from core.events import PendingEvent
from market.models import Asset, Price, PriceRevision, RefreshRun
from market.providers import TwelveDataAuthError, TwelveDataClient
from market.providers.fake import FakeBar
from market.services import asset_soft_delete, prices_refresh, prices_upsert
from tests.market.conftest import REFRESH_END, SERVED_DATES, SERVED_SYMBOLS, served_bars

pytestmark = pytest.mark.django_db

NOT_FOUND_NOPE = (
    "**symbol** not found: NOPE. Please specify it correctly according to API Documentation."
)
GSPC_NOTE = (
    "not a TwelveData symbol (Yahoo notation); map it with TWELVEDATA_SYMBOL_MAP to refresh it"
)


def stored_rows(symbols=SERVED_SYMBOLS):
    return set(
        Price.objects.filter(asset__symbol__in=symbols).values_list(
            "asset__symbol", "date", "open", "high", "low", "close", "volume"
        )
    )


def served_rows(symbols=SERVED_SYMBOLS):
    return {
        (symbol, bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume)
        for symbol in symbols
        for bar in served_bars(symbol)
    }


def refresh(client, **kwargs) -> RefreshRun:
    return prices_refresh(end=REFRESH_END, trigger=RefreshRun.Trigger.CLI, client=client, **kwargs)


def test_first_refresh_stores_exactly_the_served_rows(twelvedata_client, fake_clock):
    run = refresh(twelvedata_client)

    run.refresh_from_db()
    assert (run.status, run.rows_inserted, run.rows_updated, run.rows_unchanged) == (
        RefreshRun.Status.SUCCEEDED,
        len(SERVED_SYMBOLS) * len(SERVED_DATES),
        0,
        0,
    )
    assert stored_rows() == served_rows()
    assert run.notes == {"^GSPC": GSPC_NOTE}
    assert (run.errors, run.deferred_symbols, run.symbols_failed, run.failure) == ({}, [], 0, "")
    assert run.finished_at is not None
    # 13 stocks/ETFs (batches of 8 and 5) then 6 FX pairs, at 8 credits a minute.
    assert fake_clock.sleeps == [29.5, 60.0]


def test_second_refresh_of_unchanged_data_writes_nothing(twelvedata_client, fake_twelvedata):
    refresh(twelvedata_client)
    ingested = dict(Price.objects.values_list("asset__symbol", "ingested_at"))
    fake_twelvedata.requests.clear()

    run = refresh(twelvedata_client)

    overlap_rows = len(SERVED_SYMBOLS) * 5  # 2024-01-08 .. 2024-01-12
    assert (run.status, run.rows_inserted, run.rows_updated, run.rows_unchanged) == (
        RefreshRun.Status.SUCCEEDED,
        0,
        0,
        overlap_rows,
    )
    # Incremental: from the last stored date minus the 5-day overlap.
    assert {query["start_date"] for query in fake_twelvedata.requests} == {"2024-01-07"}
    assert PriceRevision.objects.count() == 0
    assert dict(Price.objects.values_list("asset__symbol", "ingested_at")) == ingested


def test_refresh_with_three_changed_closes_updates_three_rows_and_logs_revisions(
    twelvedata_client, fake_twelvedata
):
    # Revisions within the daily band and the day's low-high range (larger ones are
    # quarantined: tests/market/test_price_sanity.py).
    refresh(twelvedata_client)
    changes = [
        ("AAPL", dt.date(2024, 1, 12), Decimal("102.75")),
        ("TLT", dt.date(2024, 1, 10), Decimal("201.25")),
        ("EUR/USD", dt.date(2024, 1, 9), Decimal("1.2123")),
    ]
    old_closes = {
        (symbol, date): Price.objects.get(asset__symbol=symbol, date=date).close
        for symbol, date, _ in changes
    }
    for symbol, date, close in changes:
        fake_twelvedata.set_close(symbol, date, close)

    run = refresh(twelvedata_client)

    assert (run.rows_inserted, run.rows_updated) == (0, 3)
    assert sorted(
        PriceRevision.objects.values_list(
            "asset__symbol", "date", "old_close", "new_close", "refresh_run"
        )
    ) == sorted(
        (symbol, date, old_closes[(symbol, date)], close, run.pk) for symbol, date, close in changes
    )
    for symbol, date, close in changes:
        assert Price.objects.get(asset__symbol=symbol, date=date).close == close


def test_a_429_for_the_minute_then_success_ends_succeeded_after_waiting(
    twelvedata_client, fake_twelvedata, fake_clock
):
    fake_twelvedata.fail_next("429_minute")

    run = refresh(twelvedata_client, symbols=["AAPL", "MSFT"])

    assert run.status == RefreshRun.Status.SUCCEEDED
    assert fake_clock.sleeps == [29.5]
    assert stored_rows(["AAPL", "MSFT"]) == served_rows(["AAPL", "MSFT"])


def test_malformed_json_and_an_unknown_symbol_fail_only_their_symbols(
    twelvedata_client, fake_twelvedata
):
    from tests.factories import AssetFactory

    AssetFactory(symbol="NOPE")
    fake_twelvedata.fail_symbol("MSFT", "malformed_json")

    run = refresh(twelvedata_client)

    assert run.status == RefreshRun.Status.PARTIAL
    assert run.errors == {"MSFT": "response body is not valid JSON", "NOPE": NOT_FOUND_NOPE}
    assert run.symbols_failed == 2
    others = [symbol for symbol in SERVED_SYMBOLS if symbol != "MSFT"]
    assert stored_rows() == served_rows(others)


def test_a_malformed_value_fails_its_symbol_without_storing_a_zero(
    twelvedata_client, fake_twelvedata
):
    fake_twelvedata.fail_symbol("NVDA", "bad_values")

    run = refresh(twelvedata_client, symbols=["AAPL", "NVDA"])

    assert run.status == RefreshRun.Status.PARTIAL
    assert run.errors == {
        "NVDA": "malformed payload at values.0.close: Value error, not a number: 'n/a'"
    }
    assert stored_rows(["AAPL", "NVDA"]) == served_rows(["AAPL"])


def test_a_crash_mid_refresh_keeps_every_stored_price_and_marks_the_run_failed(
    twelvedata_client, fake_twelvedata, monkeypatch
):
    refresh(twelvedata_client)
    before = stored_rows()
    fake_twelvedata.set_close("AAPL", dt.date(2024, 1, 12), Decimal("102.5"))  # in batch 1
    fake_twelvedata.set_close("TLT", dt.date(2024, 1, 12), Decimal("202.5"))  # in batch 2
    batches: list[int] = []

    def crash_after_first_batch(rows, **kwargs):
        if batches:
            raise RuntimeError("injected crash after 1 batch")
        batches.append(len(rows))
        return prices_upsert(rows, **kwargs)

    monkeypatch.setattr("market.services.refresh.prices_upsert", crash_after_first_batch)

    with pytest.raises(RuntimeError, match="injected crash"):
        refresh(twelvedata_client)

    run = RefreshRun.objects.latest("started_at")
    assert (run.status, run.failure, run.rows_updated) == (
        RefreshRun.Status.FAILED,
        "RuntimeError: injected crash after 1 batch",
        1,
    )
    assert run.finished_at is not None
    after = stored_rows()
    assert len(after) == len(before)
    assert after - before == {
        (
            "AAPL",
            dt.date(2024, 1, 12),
            Decimal("101.5"),
            Decimal("103.25"),
            Decimal("100.875"),
            Decimal("102.5"),
            1_000_008,
        )
    }
    assert Price.objects.get(asset__symbol="TLT", date=dt.date(2024, 1, 12)).close != Decimal(
        "202.5"
    )


def test_a_daily_credit_exhaustion_stops_partial_with_the_rest_deferred(
    twelvedata_client, fake_twelvedata
):
    fake_twelvedata.fail_next("ok")
    fake_twelvedata.fail_next("429_day")

    run = refresh(twelvedata_client)

    first_batch = ["AAPL", "AMZN", "GLD", "GOOGL", "IEF", "META", "MSFT", "NVDA"]
    assert run.status == RefreshRun.Status.PARTIAL
    assert stored_rows() == served_rows(first_batch)
    assert sorted(run.deferred_symbols) == sorted(set(SERVED_SYMBOLS) - set(first_batch))
    assert len(fake_twelvedata.requests) == 2  # nothing sent after the daily 429


def test_an_unreachable_api_fails_the_run_and_raises_for_a_retry(
    twelvedata_client, fake_twelvedata
):
    from market.providers import TwelveDataUnavailable

    fake_twelvedata.fail_next("500", times=4)

    with pytest.raises(TwelveDataUnavailable):
        refresh(twelvedata_client, symbols=["AAPL"])

    run = RefreshRun.objects.get()
    assert (run.status, run.failure, run.deferred_symbols) == (
        RefreshRun.Status.FAILED,
        "TwelveDataUnavailable: TwelveData failed after 4 attempts: HTTP 500",
        ["AAPL"],
    )


def test_fx_weekend_bars_are_dropped_with_a_note(twelvedata_client, fake_twelvedata):
    sunday = dt.date(2024, 1, 7)
    fake_twelvedata.series["EUR/USD"].append(FakeBar(date=sunday, close=Decimal("1.09")))

    run = refresh(twelvedata_client, symbols=["EUR/USD"])

    assert fake_twelvedata.requests[0]["timezone"] == "UTC"
    assert run.status == RefreshRun.Status.SUCCEEDED
    assert run.notes == {"EUR/USD": "1 weekend FX bar(s) dropped"}
    assert stored_rows(["EUR/USD"]) == served_rows(["EUR/USD"])


def test_a_yahoo_symbol_is_refreshed_when_mapped(twelvedata_client, fake_twelvedata, settings):
    settings.TWELVEDATA_SYMBOL_MAP = {"^GSPC": "SPX"}
    fake_twelvedata.series["SPX"] = served_bars("SPY")

    run = refresh(twelvedata_client, symbols=["^GSPC"])

    assert fake_twelvedata.requests[0]["symbol"] == "SPX"
    assert (run.status, run.rows_inserted, run.notes) == (RefreshRun.Status.SUCCEEDED, 9, {})


def test_a_refresh_records_the_symbols_it_changed_and_notifies_nobody(
    twelvedata_client, fake_twelvedata, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        first = refresh(twelvedata_client, symbols=["AAPL", "MSFT"])
    fake_twelvedata.series["MSFT"][-1] = FakeBar(
        date=SERVED_DATES[-1], close=Decimal("112.5")
    )  # a vendor revision of MSFT's last close
    second = refresh(twelvedata_client, symbols=["AAPL", "MSFT"])
    third = refresh(twelvedata_client, symbols=["AAPL", "MSFT"])

    # No signal, no task: orchestration is the portfolio chain's (live events aside).
    assert [callback for callback in callbacks if not isinstance(callback, PendingEvent)] == []
    assert first.changed_symbols == ["AAPL", "MSFT"]
    assert (second.rows_updated, second.changed_symbols) == (1, ["MSFT"])
    assert (third.status, third.changed_symbols) == (RefreshRun.Status.SUCCEEDED, [])
    assert RefreshRun.objects.get(pk=second.pk).changed_symbols == ["MSFT"]  # stored


def test_a_soft_deleted_default_asset_stays_deleted_through_two_refreshes(twelvedata_client):
    tsla = Asset.objects.get(symbol="TSLA")
    asset_soft_delete(asset=tsla, actor=None)

    first = refresh(twelvedata_client)
    second = refresh(twelvedata_client)

    assert not Asset.objects.filter(symbol="TSLA").exists()  # no new, empty TSLA row
    assert list(Asset.all_objects.filter(symbol="TSLA").values_list("pk", flat=True)) == [tsla.pk]
    assert not Price.objects.filter(asset=tsla).exists()
    for run in (first, second):
        assert run.status == RefreshRun.Status.SUCCEEDED
        assert "TSLA" not in run.changed_symbols
        assert "TSLA" not in run.errors


def test_a_failed_refresh_is_recorded_and_queues_nothing(
    settings, fake_twelvedata, fake_clock, django_capture_on_commit_callbacks
):
    settings.TWELVEDATA_API_KEY = "not-the-key"
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(TwelveDataAuthError):
        refresh(client, symbols=["AAPL"])

    assert [callback for callback in callbacks if not isinstance(callback, PendingEvent)] == []
    assert RefreshRun.objects.get().status == RefreshRun.Status.FAILED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_refreshes_run_once(settings, fake_twelvedata, fake_clock):
    entered, release = threading.Event(), threading.Event()

    def hold_first_request() -> None:
        entered.set()
        release.wait(timeout=10)

    fake_twelvedata.before_request = hold_first_request
    settings.TWELVEDATA_READ_TIMEOUT = 15
    first_result: list[RefreshRun] = []

    def first_refresh() -> None:
        client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)
        try:
            first_result.append(refresh(client, symbols=["AAPL"]))
        finally:
            from django.db import connection

            connection.close()

    worker = threading.Thread(target=first_refresh)
    worker.start()
    assert entered.wait(timeout=10)

    second = refresh(
        TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep),
        symbols=["MSFT"],
    )
    release.set()
    worker.join(timeout=10)

    assert second.status == RefreshRun.Status.RUNNING
    assert [run.pk for run in first_result] == [second.pk]
    assert list(RefreshRun.objects.values_list("status", "symbols")) == [
        (RefreshRun.Status.SUCCEEDED, ["AAPL"])
    ]
    assert len(fake_twelvedata.requests) == 1
