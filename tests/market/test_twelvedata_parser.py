"""Parsing TwelveData payloads: recorded real responses, and the fake's payloads against them."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from market.providers.fake import FakeBar, error_payload, not_found_payload, series_payload
from market.providers.schemas import (
    DailyBar,
    ErrorPayload,
    SeriesPayload,
    SymbolError,
    SymbolSeries,
    normalise_bars,
    parse_batch,
    parse_error,
    parse_series,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twelvedata"


def recorded(name: str):
    return json.loads((FIXTURES / name).read_text())


def test_recorded_daily_series_parses_into_exact_decimals():
    result = parse_series("TSLA", recorded("time_series_TSLA_1day.json"))

    assert result == SymbolSeries(
        symbol="TSLA",
        bars=(
            DailyBar(
                date=dt.date(2020, 2, 3),
                open=Decimal("134.73800"),
                high=Decimal("157.22800"),
                low=Decimal("134.70400"),
                close=Decimal("156.00000"),
                volume=47_233_500,
            ),
        ),
        exchange_timezone="America/New_York",
    )


def test_recorded_intraday_bars_are_not_accepted_as_daily_bars():
    result = parse_series("AAPL", recorded("time_series_AAPL_1min.json"))

    assert result == SymbolError(
        symbol="AAPL",
        kind="payload",
        message="expected daily bars, got timestamp 2022-02-07 15:59:00",
    )


def test_recorded_batch_is_keyed_by_symbol_with_typed_values():
    body = recorded("time_series_batch_SPX_AAPL_1h.json")

    payloads = {symbol: SeriesPayload.model_validate(body[symbol]) for symbol in ("SPX", "AAPL")}

    assert [len(payload.values) for payload in payloads.values()] == [30, 30]
    first = payloads["SPX"].values[0]
    assert (first.timestamp, first.close, first.volume) == (
        dt.datetime(2023, 5, 12, 15, 30),  # noqa: DTZ001 - exchange-local, naive as served
        Decimal("4123.85010"),
        262_548_323,
    )
    assert payloads["AAPL"].meta.mic_code == "XNGS"


@pytest.mark.parametrize(
    ("name", "code", "daily_limit"),
    [
        ("error_429_minute_credits.json", 429, False),
        ("error_429_minute_credits_alt.json", 429, False),
        ("error_401_invalid_apikey.json", 401, False),
        ("error_400_invalid_interval_docs.json", 400, False),
        ("error_400_symbol_not_found_time_series.json", 400, False),
        ("error_400_symbol_not_found_exchange_rate.json", 400, False),
    ],
)
def test_recorded_error_bodies_parse_into_typed_errors(name, code, daily_limit):
    body = recorded(name)

    error = parse_error(body)

    assert error == ErrorPayload(
        code=code, message=body["message"], status="error", meta=body.get("meta")
    )
    assert error.is_daily_limit is daily_limit


def test_recorded_not_found_batch_item_fails_only_that_symbol():
    body = {
        "TSLA": recorded("time_series_TSLA_1day.json"),
        "NIKK": recorded("error_400_symbol_not_found_batch_item.json"),
    }

    results = parse_batch(["TSLA", "NIKK", "GONE"], body)

    assert isinstance(results["TSLA"], SymbolSeries)
    assert results["NIKK"] == SymbolError(
        symbol="NIKK",
        kind="not_found",
        code=400,
        message="**symbol** not found: NIKK. Please specify it correctly according to API "
        "Documentation.",
    )
    assert results["GONE"] == SymbolError(
        symbol="GONE", kind="missing", message="symbol missing from the batch response"
    )


@pytest.mark.parametrize(
    ("value_patch", "message"),
    [
        ({"close": "n/a"}, "malformed payload at values.0.close: Value error, not a number: 'n/a'"),
        (
            {"close": 156.0},
            "malformed payload at values.0.close: "
            "Value error, numbers must arrive as strings, got float",
        ),
        (
            {"close": "0"},
            "malformed payload at values.0: Value error, close must be positive, got 0",
        ),
        (
            {"close": None},
            "malformed payload at values.0.close: "
            "Value error, numbers must arrive as strings, got NoneType",
        ),
        (
            {"low": "158"},
            "malformed payload at values.0: Value error, low 158 is above high 157.22800",
        ),
        (
            {"volume": "12.5"},
            "malformed payload at values.0.volume: Value error, not a whole number: '12.5'",
        ),
        (
            {"datetime": "2020-02-30"},
            "malformed payload at values.0.datetime: Value error, day is out of range for month",
        ),
    ],
)
def test_a_malformed_value_fails_the_symbol_instead_of_becoming_a_number(value_patch, message):
    body = recorded("time_series_TSLA_1day.json")
    body["values"][0].update(value_patch)

    assert parse_series("TSLA", body) == SymbolError(symbol="TSLA", kind="payload", message=message)


def test_a_partial_payload_without_values_is_a_payload_error():
    body = recorded("time_series_TSLA_1day.json")
    del body["values"]

    assert parse_series("TSLA", body) == SymbolError(
        symbol="TSLA", kind="payload", message="malformed payload at values: Field required"
    )


def test_no_data_in_range_is_an_empty_series_not_an_error():
    body = error_payload(
        400, "No data is available on the specified dates. Try setting different start/end dates."
    )

    assert parse_series("AAPL", body) == SymbolSeries(symbol="AAPL", bars=())


def test_normalise_keeps_the_requested_range_and_the_last_of_repeated_dates():
    def bar(day: int, close: str) -> DailyBar:
        return DailyBar(dt.date(2024, 1, day), None, None, None, Decimal(close), None)

    served = [bar(1, "1"), bar(2, "2"), bar(3, "3"), bar(3, "3.5"), bar(5, "5"), bar(4, "4")]

    assert normalise_bars(served, start=dt.date(2024, 1, 2), end=dt.date(2024, 1, 4)) == (
        bar(2, "2"),
        bar(3, "3.5"),
        bar(4, "4"),
    )


def _shape(value):
    """Keys and JSON types of a payload, recursively (values of lists: their first element)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_fake_series_payload_has_the_recorded_shape():
    real = recorded("time_series_batch_SPX_AAPL_1h.json")["AAPL"]
    fake = series_payload(
        "AAPL",
        [
            FakeBar(
                date=dt.date(2023, 5, 12),
                open=Decimal("173.6"),
                high=Decimal("174.06"),
                low=Decimal("171"),
                close=Decimal("172.57"),
                volume=45_533_138,
            )
        ],
    )

    assert _shape(fake) == _shape(real)
    assert isinstance(parse_series("AAPL", fake), SymbolSeries)


def test_fake_error_payloads_have_the_recorded_shapes():
    assert _shape(not_found_payload("NOTFOUND")) == _shape(
        recorded("error_400_symbol_not_found_time_series.json")
    )
    assert _shape(error_payload(429, "x")) == _shape(recorded("error_429_minute_credits.json"))
    assert not_found_payload("NOTFOUND", interval="1min") == recorded(
        "error_400_symbol_not_found_time_series.json"
    )
