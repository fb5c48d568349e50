"""Every vendor request has an overall deadline: a body trickling in byte by byte (each byte
well within the read timeout) is abandoned like a timeout, retried, counted by the breaker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from werkzeug import Request, Response

from market.providers import SymbolSeries, TwelveDataClient, TwelveDataUnavailable
from market.providers.breaker import get_breaker
from market.providers.fake import series_payload
from tests.market.conftest import REFRESH_END, REFRESH_START, served_bars
from tests.market.fault_matrix import fault_record

pytestmark = pytest.mark.django_db

DEADLINE = 0.5
READ_TIMEOUT = 0.3
BYTE_INTERVAL = 0.05  # far below the read timeout: only the deadline can stop it
# Python, the loopback and the thread switch; generous so a loaded machine does not flake.
MARGIN = 0.5


def trickle(body: bytes, interval: float) -> Iterator[bytes]:
    for byte in body:
        time.sleep(interval)
        yield bytes([byte])


@pytest.fixture
def trickling_twelvedata(twelvedata_server, settings):
    """The vendor answering 200 at once, then the body one byte per ``BYTE_INTERVAL``."""
    body = json.dumps(series_payload("AAPL", served_bars("AAPL"))).encode()
    requests_seen: list[float] = []

    def handler(request: Request) -> Response:
        requests_seen.append(time.monotonic())
        return Response(trickle(body, BYTE_INTERVAL), content_type="application/json")

    twelvedata_server.expect_request("/time_series").respond_with_handler(handler)
    settings.TWELVEDATA_BASE_URL = twelvedata_server.url_for("/").rstrip("/")
    settings.TWELVEDATA_READ_TIMEOUT = READ_TIMEOUT
    settings.TWELVEDATA_CONNECT_TIMEOUT = 1.0
    settings.TWELVEDATA_MAX_RETRIES = 1
    yield body, requests_seen
    twelvedata_server.clear()


def test_a_trickling_body_fails_within_the_deadline_and_counts_for_the_breaker(
    trickling_twelvedata, fake_clock, settings
):
    body, requests_seen = trickling_twelvedata
    settings.TWELVEDATA_REQUEST_DEADLINE = DEADLINE
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)
    assert len(body) * BYTE_INTERVAL > 10  # the whole body would take over 10 s
    started = time.monotonic()

    with pytest.raises(TwelveDataUnavailable) as failed:
        client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    elapsed = time.monotonic() - started
    assert str(failed.value) == (
        "TwelveData failed after 2 attempts: timeout: response not complete within the 0.5 s "
        "request deadline"
    )
    # Two attempts (one retry), each cut at the deadline (at worst one read later).
    assert len(requests_seen) == client.requests_sent == 2
    assert 2 * DEADLINE <= elapsed < 2 * (DEADLINE + BYTE_INTERVAL) + MARGIN
    assert get_breaker().fail_counter == 2
    fault_record(
        "vendor body trickling 1 byte / 50 ms, deadline 0.5 s, 1 retry",
        expected=f"TwelveDataUnavailable within {2 * DEADLINE + MARGIN:.1f} s",
        observed=f"{type(failed.value).__name__} after {elapsed:.2f} s",
        seconds=elapsed,
    )


def test_a_slow_body_that_completes_within_the_deadline_is_read_whole(
    trickling_twelvedata, fake_clock, settings, twelvedata_server
):
    # A short body at the same pace: about 0.3 s in all, under a 5 s deadline.
    short = json.dumps(series_payload("AAPL", served_bars("AAPL")[:1])).encode()
    twelvedata_server.clear()
    twelvedata_server.expect_request("/time_series").respond_with_handler(
        lambda request: Response(trickle(short, 0.002), content_type="application/json")
    )
    settings.TWELVEDATA_REQUEST_DEADLINE = 5.0
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)

    result = client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    series = result["AAPL"]
    assert isinstance(series, SymbolSeries)
    assert [bar.close for bar in series.bars] == [served_bars("AAPL")[0].close]
    assert client.requests_sent == 1
    assert get_breaker().fail_counter == 0
