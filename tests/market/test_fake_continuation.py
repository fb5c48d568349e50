"""The offline demo's fake TwelveData: after the bundled history, a labelled, deterministic
synthetic continuation up to today (business days), served like the real API."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from market.management.commands.fake_twelvedata import synthetic_line
from market.providers.fake import (
    DEMO_SYNTHETIC_SEED,
    FakeBar,
    FakeTwelveData,
    SyntheticContinuation,
    demo_dividends,
    demo_series,
    demo_splits,
)

DEMO_LAST_DATE = dt.date(2024, 9, 12)  # a Thursday: the bundled prices' last day
FX_LAST_DATE = dt.date(2026, 10, 30)  # the bundled ECB rates' last day (a Friday)
NOTE = (
    "bars after 2024-09-12 are synthetic (a seeded random walk from the last real close), "
    "not market data"
)


@pytest.fixture(scope="module")
def demo_data() -> tuple[dict[str, list[FakeBar]], Any, Any]:
    return demo_series(), demo_splits(), demo_dividends()


def at(day: dt.date, hour: int = 15) -> time_machine.travel:
    """Freeze "today" (UTC) on ``day``."""
    return time_machine.travel(dt.datetime.combine(day, dt.time(hour), tzinfo=dt.UTC), tick=False)


@pytest.fixture
def make_fake(demo_data) -> Any:
    series, splits, dividends = demo_data

    def make(seed: int = DEMO_SYNTHETIC_SEED) -> FakeTwelveData:
        return FakeTwelveData(
            series,
            splits=splits,
            dividends=dividends,
            synthetic=SyntheticContinuation(seed=seed),
        )

    return make


def get(fake: FakeTwelveData, path: str, **query: str) -> dict[str, Any]:
    answer = fake.handle(path, query, {})
    assert answer.status == 200
    return json.loads(answer.body)


def closes(fake: FakeTwelveData, symbol: str, start: str, **query: str) -> dict[str, str]:
    payload = get(
        fake,
        "/time_series",
        symbol=symbol,
        interval="1day",
        start_date=start,
        adjust="none",
        order="asc",
        **query,
    )
    return {value["datetime"]: value["close"] for value in payload["values"]}


def test_continuation_starts_from_the_last_real_close_with_exact_values(make_fake):
    with at(dt.date(2024, 9, 20)):  # a Friday
        fake = make_fake()
        payload = get(
            fake,
            "/time_series",
            symbol="AAPL",
            interval="1day",
            start_date="2024-09-12",
            adjust="none",
            order="asc",
        )

    values = payload["values"]
    # 2024-09-12 is the last real bar (close 222.77); the walk opens at that close.
    assert values[0] == {
        "datetime": "2024-09-12",
        "open": "222.5",
        "high": "223.55",
        "low": "219.82",
        "close": "222.77",
        "volume": "37498200",
    }
    assert values[1] == {
        "datetime": "2024-09-13",
        "open": "222.77",
        "high": "225.20",
        "low": "221.90",
        "close": "224.39",
        "volume": "32868066",
    }
    assert [value["close"] for value in values] == [
        "222.77",
        "224.39",
        "221.11",
        "226.02",
        "228.05",
        "228.04",
        "231.49",
    ]
    for before, after in itertools.pairwise(values):
        assert after["open"] == before["close"]


def test_same_seed_gives_the_same_numbers_and_a_later_today_only_appends(make_fake):
    with at(dt.date(2024, 9, 20)):
        first = closes(make_fake(), "MSFT", "2024-09-13")
    with at(dt.date(2024, 9, 20)):
        second = closes(make_fake(), "MSFT", "2024-09-13")
    with at(dt.date(2024, 10, 4)):
        later = closes(make_fake(), "MSFT", "2024-09-13")
    with at(dt.date(2024, 9, 20)):
        other_seed = closes(make_fake(seed=7), "MSFT", "2024-09-13")

    assert first == second
    assert len(first) == 6
    assert {date: later[date] for date in first} == first
    assert len(later) == 16
    assert other_seed.keys() == first.keys()
    assert other_seed != first


@pytest.mark.parametrize(
    ("today", "last_served"),
    [
        (dt.date(2024, 9, 20), dt.date(2024, 9, 20)),  # Friday: today's bar is served
        (dt.date(2024, 9, 22), dt.date(2024, 9, 20)),  # Sunday: the Friday before
        (dt.date(2024, 9, 23), dt.date(2024, 9, 23)),  # Monday
    ],
)
def test_continuation_has_business_days_only_and_ends_today(make_fake, today, last_served):
    with at(today):
        served = closes(make_fake(), "NVDA", "2024-09-01")

    dates = [dt.date.fromisoformat(date) for date in served]
    assert dates[-1] == last_served
    assert all(date.weekday() < 5 for date in dates)
    synthetic = [date for date in dates if date > DEMO_LAST_DATE]
    expected_days = (last_served - DEMO_LAST_DATE).days
    assert synthetic == [
        DEMO_LAST_DATE + dt.timedelta(days=n)
        for n in range(1, expected_days + 1)
        if (DEMO_LAST_DATE + dt.timedelta(days=n)).weekday() < 5
    ]


def test_a_fake_serving_past_midnight_gains_the_new_day(make_fake):
    with at(dt.date(2024, 9, 20)):
        fake = make_fake()
    with at(dt.date(2024, 9, 23), hour=1):
        served = closes(fake, "SPY", "2024-09-19")

    assert list(served) == ["2024-09-19", "2024-09-20", "2024-09-23"]


def test_responses_with_synthetic_bars_say_so_in_their_meta(make_fake):
    with at(dt.date(2024, 9, 20)):
        fake = make_fake()
        synthetic = get(
            fake, "/time_series", symbol="AAPL,GLD", interval="1day", start_date="2024-09-10"
        )
        real_only = get(
            fake,
            "/time_series",
            symbol="AAPL",
            interval="1day",
            start_date="2024-09-10",
            end_date="2024-09-13",
        )

    for symbol in ("AAPL", "GLD"):
        assert synthetic[symbol]["meta"]["synthetic_after"] == "2024-09-12"
        assert synthetic[symbol]["meta"]["synthetic_note"] == NOTE
    assert [value["datetime"] for value in real_only["values"]] == [
        "2024-09-12",
        "2024-09-11",
        "2024-09-10",
    ]
    assert "synthetic_after" not in real_only["meta"]


def test_fx_rates_continue_after_their_own_last_date_with_four_places(make_fake):
    with at(dt.date(2026, 11, 6)):
        fake = make_fake()
        payload = get(
            fake,
            "/time_series",
            symbol="EUR/USD",
            interval="1day",
            start_date="2026-10-30",
            adjust="none",
            order="asc",
        )

    assert payload["meta"]["synthetic_after"] == FX_LAST_DATE.isoformat()
    assert [value["datetime"] for value in payload["values"]] == [
        "2026-10-30",
        "2026-11-02",
        "2026-11-03",
        "2026-11-04",
        "2026-11-05",
        "2026-11-06",
    ]
    assert payload["values"][0]["close"] == "1.1172"  # the last ECB rate
    assert payload["values"][1] == {
        "datetime": "2026-11-02",
        "open": None,
        "high": None,
        "low": None,
        "close": "1.1218",
    }
    assert all(len(value["close"].split(".")[1]) == 4 for value in payload["values"][1:])


def test_splits_dividends_and_market_caps_still_answer(make_fake):
    with at(dt.date(2024, 9, 20)):
        fake = make_fake()
        splits = get(fake, "/splits", symbol="AAPL", range="full")
        dividends = get(fake, "/dividends", symbol="AAPL")
        caps = get(fake, "/market_cap", symbol="AAPL")
        split_adjusted = closes(fake, "AAPL", "2020-08-28", end_date="2020-09-01")
        split_adjusted.pop("2020-08-31")

    assert splits["splits"] == [
        {
            "date": "2020-08-31",
            "description": "4-for-1 split",
            "ratio": 0.25,
            "from_factor": 4,
            "to_factor": 1,
        }
    ]
    assert [row["ex_date"] for row in dividends["dividends"]] == ["2024-08-12"]
    assert caps["market_cap"] == []
    assert split_adjusted == {"2020-08-28": "499.23"}


def test_the_start_up_line_says_what_is_synthetic(make_fake, demo_data):
    with at(dt.date(2024, 9, 20)):
        fake = make_fake()
    plain = FakeTwelveData({"AAPL": demo_data[0]["AAPL"]})

    assert synthetic_line(fake) == "synthetic after 2024-09-12 through 2026-10-30, seeded"
    assert synthetic_line(plain) == "bundled history only"
    assert fake.series["AAPL"][-1].close == Decimal("231.49")
