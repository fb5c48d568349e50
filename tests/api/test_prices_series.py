"""One asset's prices read as one statement per page (``market.selectors.PriceSeries``).

The asset is looked up by symbol inside the page's statement; the answers are those of the
ORM read it replaced: the same bars and strings, the same cursor links, and an unknown or
soft-deleted symbol is a 404 whatever else is wrong with the request.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from market.models import Price
from market.selectors import PriceSeries
from tests.factories import AssetFactory

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db

MARKET_TABLES = re.compile(r'\b"?market_(price|asset)"?\b')


def _weekdays(start: dt.date, count: int) -> list[dt.date]:
    days: list[dt.date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


@pytest.fixture
def bars():
    """SERIES.A: 12 weekday bars from 2023-12-25 over two yearly partitions; the first has
    only a close."""
    asset = AssetFactory(symbol="SERIES.A")
    days = _weekdays(dt.date(2023, 12, 25), 12)
    Price.objects.bulk_create(
        [Price(asset=asset, date=days[0], close=Decimal("7.5"), source="test")]
        + [
            Price(
                asset=asset,
                date=day,
                open=Decimal("10.125") + number,
                high=Decimal("12.123456789") + number,
                low=Decimal("0.00000001") * number,
                close=Decimal(100 + number) / 3,
                volume=1_000 * number,
                source="test",
            )
            for number, day in enumerate(days[1:], start=1)
        ]
    )
    return days


def test_a_page_is_one_statement_with_the_exact_bars(client_as, bars):
    viewer = client_as("viewer")
    url = api_url("asset-prices", symbol="SERIES.A")
    viewer.get(url)  # the viewer's user and role are cached from here on

    with CaptureQueriesContext(connection) as captured:
        response = viewer.get(url, {"start": "2023-12-25", "end": "2024-01-02"})

    assert response.status_code == 200
    market = [q["sql"] for q in captured.captured_queries if MARKET_TABLES.search(q["sql"])]
    assert len(market) == 1
    assert "market_asset" in market[0]
    assert response.json() == {
        "next": None,
        "previous": None,
        "results": [
            {
                "date": "2023-12-25",
                "open": None,
                "high": None,
                "low": None,
                "close": "7.50000000",
                "volume": None,
            },
            {
                "date": "2023-12-26",
                "open": "11.12500000",
                "high": "13.12345679",
                "low": "0.00000001",
                "close": "33.66666667",
                "volume": 1000,
            },
            {
                "date": "2023-12-27",
                "open": "12.12500000",
                "high": "14.12345679",
                "low": "0.00000002",
                "close": "34.00000000",
                "volume": 2000,
            },
            {
                "date": "2023-12-28",
                "open": "13.12500000",
                "high": "15.12345679",
                "low": "0.00000003",
                "close": "34.33333333",
                "volume": 3000,
            },
            {
                "date": "2023-12-29",
                "open": "14.12500000",
                "high": "16.12345679",
                "low": "0.00000004",
                "close": "34.66666667",
                "volume": 4000,
            },
            {
                "date": "2024-01-01",
                "open": "15.12500000",
                "high": "17.12345679",
                "low": "0.00000005",
                "close": "35.00000000",
                "volume": 5000,
            },
            {
                "date": "2024-01-02",
                "open": "16.12500000",
                "high": "18.12345679",
                "low": "0.00000006",
                "close": "35.33333333",
                "volume": 6000,
            },
        ],
    }


def test_cursor_links_walk_forward_and_back_over_the_partitions(client_as, bars):
    viewer = client_as("viewer")
    url = api_url("asset-prices", symbol="SERIES.A")
    dates = [day.isoformat() for day in bars]

    first = viewer.get(url, {"page_size": 5}).json()
    second = viewer.get(first["next"]).json()
    third = viewer.get(second["next"]).json()
    back = viewer.get(third["previous"]).json()
    back_again = viewer.get(back["previous"]).json()

    def page(body):
        return [row["date"] for row in body["results"]]

    assert [page(first), page(second), page(third)] == [dates[:5], dates[5:10], dates[10:]]
    assert first["previous"] is None
    assert third["next"] is None
    assert page(back) == dates[5:10]
    assert page(back_again) == dates[:5]
    assert back_again["previous"] is None
    assert viewer.get(back_again["next"]).json()["results"] == second["results"]


def test_an_offset_cursor_skips_rows_after_its_position(client_as, bars):
    cursor = base64.b64encode(f"o=2&p={bars[1].isoformat()}".encode()).decode()

    body = client_as("viewer").get(
        api_url("asset-prices", symbol="SERIES.A"), {"cursor": cursor, "page_size": 3}
    )

    assert [row["date"] for row in body.json()["results"]] == [day.isoformat() for day in bars[4:7]]


def test_the_live_asset_is_read_not_a_deleted_one_with_its_symbol(client_as):
    deleted = AssetFactory(symbol="SERIES.R")
    Price.objects.create(asset=deleted, date=dt.date(2024, 3, 1), close=Decimal(1), source="t")
    deleted.delete()
    live = AssetFactory(symbol="SERIES.R")
    Price.objects.create(asset=live, date=dt.date(2024, 3, 1), close=Decimal(2), source="t")

    response = client_as("viewer").get(api_url("asset-prices", symbol="SERIES.R"))

    assert response.status_code == 200
    assert [row["close"] for row in response.json()["results"]] == ["2.00000000"]


@pytest.mark.parametrize(
    "params",
    [{}, {"start": "2023-01-01"}, {"start": "2023-13-01"}, {"cursor": "x"}, {"page_size": "x"}],
    ids=["plain", "range", "bad-date", "bad-cursor", "bad-page-size"],
)
def test_an_unknown_or_deleted_symbol_is_a_404_whatever_the_parameters(client_as, params):
    deleted = AssetFactory(symbol="SERIES.D")
    Price.objects.create(asset=deleted, date=dt.date(2023, 6, 1), close=Decimal(1), source="t")
    deleted.delete()
    viewer = client_as("viewer")

    for symbol in ("SERIES.D", "SERIES.NONE"):
        body = assert_problem(viewer.get(api_url("asset-prices", symbol=symbol), params), 404)
        assert body["detail"] == "No live asset with this symbol."


def test_a_live_asset_without_bars_in_the_range_is_an_empty_page(client_as, bars):
    AssetFactory(symbol="SERIES.E")
    viewer = client_as("viewer")

    outside = viewer.get(api_url("asset-prices", symbol="SERIES.A"), {"start": "2025-01-01"})
    none = viewer.get(api_url("asset-prices", symbol="SERIES.E"))

    for response in (outside, none):
        assert response.status_code == 200
        assert response.json() == {"next": None, "previous": None, "results": []}


def test_refused_parameters_of_a_live_asset_are_400s(client_as, bars):
    viewer = client_as("viewer")
    url = api_url("asset-prices", symbol="SERIES.A")
    position = base64.b64encode(b"p=not-a-date").decode()

    bad_date = assert_problem(viewer.get(url, {"end": "2024-02-30"}), 400)
    empty = assert_problem(viewer.get(url, {"start": ""}), 400)
    bad_position = assert_problem(viewer.get(url, {"cursor": position}), 400)

    assert [error["pointer"] for error in bad_date["errors"]] == ["#/end"]
    assert [error["pointer"] for error in empty["errors"]] == ["#/start"]
    assert "invalid date format" in bad_position["errors"][0]["detail"]
    assert assert_problem(viewer.get(url, {"cursor": "x"}), 404)["detail"] == "Invalid cursor"


def test_series_statement_binds_its_bounds_and_window():
    series = (
        PriceSeries(symbol="SERIES.A")
        .filter(date__gte="2024-01-02", date__lt=dt.date(2024, 2, 1))
        .order_by("-date")[3:13]
    )

    sql, params = series.statement()

    assert sql.endswith(" AND date >= %s AND date < %s ORDER BY date DESC LIMIT %s OFFSET %s")
    assert params == ["SERIES.A", dt.date(2024, 1, 2), dt.date(2024, 2, 1), 10, 3]
    assert PriceSeries(symbol="X")[:5].statement()[1] == ["X", 5]


def test_series_refuses_what_it_cannot_read():
    series = PriceSeries(symbol="SERIES.A")

    with pytest.raises(ValueError, match="volume__gt"):
        series.filter(volume__gt=1)
    with pytest.raises(ValueError, match="ordered by date only"):
        series.order_by("close")
    with pytest.raises(TypeError):
        series[::2]
    with pytest.raises(TypeError):
        series[:5][1:3]
    with pytest.raises(ValidationError):
        series.filter(date__gt="2024-13-01")
