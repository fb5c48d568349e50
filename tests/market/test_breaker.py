"""The circuit breaker: opened by repeated 5xx, fails fast, its state shared through Redis."""

from __future__ import annotations

import subprocess
import sys

import pytest
from redis import Redis

from market.providers import TwelveDataCircuitOpen, TwelveDataClient, TwelveDataUnavailable
from market.providers.breaker import breaker_namespace, build_breaker
from tests.market.conftest import REFRESH_END, REFRESH_START

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(settings, fake_twelvedata, fake_clock) -> TwelveDataClient:
    settings.TWELVEDATA_BREAKER_FAIL_MAX = 3
    settings.TWELVEDATA_MAX_RETRIES = 1
    return TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)


def test_repeated_5xx_open_the_breaker_and_the_next_call_fails_fast(
    client, fake_twelvedata, settings, caplog
):
    fake_twelvedata.fail_next("500", times=10)

    with pytest.raises(TwelveDataUnavailable, match="failed after 2 attempts"):
        client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)
    with pytest.raises(TwelveDataCircuitOpen, match="Failures threshold reached"):
        client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)
    sent = len(fake_twelvedata.requests)
    with pytest.raises(TwelveDataCircuitOpen, match="still open"):
        client.time_series(["MSFT"], start=REFRESH_START, end=REFRESH_END)

    assert sent == 3
    assert len(fake_twelvedata.requests) == 3  # failed fast: no HTTP request
    opened = [r for r in caplog.records if r.getMessage() == "twelvedata circuit breaker open"]
    assert [(r.levelname, r.old_state, r.new_state) for r in opened] == [
        ("WARNING", "closed", "open")
    ]


def test_breaker_state_is_visible_from_another_connection_and_process(
    client, fake_twelvedata, settings
):
    fake_twelvedata.fail_next("500", times=3)
    with pytest.raises(TwelveDataUnavailable):
        client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)
    with pytest.raises(TwelveDataUnavailable):
        client.time_series(["AAPL"], start=REFRESH_START, end=REFRESH_END)

    other_worker = build_breaker(
        redis=Redis.from_url(settings.REDIS_URL), fail_max=3, reset_timeout=60
    )
    state_key = f"{breaker_namespace()}:pybreaker:state"
    other_process = subprocess.run(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            "-c",
            "import sys, redis; print(redis.Redis.from_url(sys.argv[1]).get(sys.argv[2]).decode())",
            settings.REDIS_URL,
            state_key,
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert other_worker.current_state == "open"
    assert (other_process.stdout.strip(), other_process.stderr) == ("open", "")


def test_client_errors_do_not_count_towards_opening(client, fake_twelvedata):
    for _ in range(5):
        client.time_series(["NOPE"], start=REFRESH_START, end=REFRESH_END)

    assert client.breaker.current_state == "closed"
    assert client.breaker.fail_counter == 0
