"""Fixtures of the market tests: a fake TwelveData on loopback and an injected clock.

The fake is a real HTTP server (pytest-httpserver, threaded) answering with
``market.providers.fake.FakeTwelveData`` — the same payload builders as
``manage.py fake_twelvedata`` — so the client under test speaks real HTTP to it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from market.providers import TwelveDataClient
from market.providers.fake import FakeBar, FakeTwelveData
from market.universe import DEFAULT_UNIVERSE

# Two trading weeks (2024-01-01 is a holiday; 2024-01-06/07 and 13/14 are weekends).
SERVED_DATES = tuple(dt.date(2024, 1, day) for day in (2, 3, 4, 5, 8, 9, 10, 11, 12))
REFRESH_START = dt.date(2024, 1, 1)
REFRESH_END = dt.date(2024, 1, 12)
# Every symbol of the default universe that TwelveData can serve (^GSPC is Yahoo notation).
SERVED_SYMBOLS = tuple(
    spec["symbol"] for spec in DEFAULT_UNIVERSE if not spec["symbol"].startswith("^")
)
# A Monday, 12:00:30 UTC: 29.5 s before the next minute starts.
CLOCK_START = dt.datetime(2024, 1, 15, 12, 0, 30, 500_000, tzinfo=dt.UTC).timestamp()


def served_bars(symbol: str) -> list[FakeBar]:
    """Deterministic bars: distinct per symbol and date, exact decimals."""
    index = SERVED_SYMBOLS.index(symbol)
    bars = []
    for day, date in enumerate(SERVED_DATES):
        if "/" in symbol:
            close = Decimal("1.0800") + Decimal(index) / 100 + Decimal(day) / 10_000
            bars.append(FakeBar(date=date, close=close))
        else:
            close = Decimal(100 + 10 * index) + Decimal(day) / 4
            bars.append(
                FakeBar(
                    date=date,
                    open=close - Decimal("0.5"),
                    high=close + Decimal("1.25"),
                    low=close - Decimal("1.125"),
                    close=close,
                    volume=1_000_000 + 1000 * index + day,
                )
            )
    return bars


class FakeClock:
    """Wall-clock seconds that only move when the code under test sleeps."""

    def __init__(self, start: float = CLOCK_START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


@pytest.fixture(scope="session")
def twelvedata_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_twelvedata(twelvedata_server, settings) -> Iterator[FakeTwelveData]:
    """The fake API serving :data:`SERVED_SYMBOLS`; settings point the client at it."""
    fake = FakeTwelveData(
        {symbol: served_bars(symbol) for symbol in SERVED_SYMBOLS},
        api_key=settings.TWELVEDATA_API_KEY,
        credits_per_minute=settings.TWELVEDATA_CREDITS_PER_MINUTE,
        timeout_seconds=0.6,
    )

    def handler(request: Request) -> Response:
        answer = fake.handle(request.path, request.args.to_dict(), dict(request.headers))
        return Response(answer.body, status=answer.status, headers=answer.headers)

    twelvedata_server.expect_request(re.compile(".*")).respond_with_handler(handler)
    settings.TWELVEDATA_BASE_URL = twelvedata_server.url_for("/").rstrip("/")
    settings.TWELVEDATA_READ_TIMEOUT = 0.3
    settings.TWELVEDATA_CONNECT_TIMEOUT = 1.0
    settings.ASSET_DEFAULT_START = REFRESH_START
    yield fake
    twelvedata_server.clear()


@pytest.fixture
def twelvedata_client(fake_twelvedata, fake_clock) -> TwelveDataClient:
    """A client on the fake, with the shared Redis limiter and breaker, on the fake clock."""
    return TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)
