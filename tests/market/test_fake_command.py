"""``manage.py fake_twelvedata``, as ``make run``'s ``fake`` process runs it: a real process on
a loopback port serving the demo history and the labelled synthetic days up to today."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTED = re.compile(
    r"fake TwelveData on http://127\.0\.0\.1:(\d+) \(19 symbols; synthetic after 2024-09-12 "
    r"through (\d{4}-\d\d-\d\d), seeded\); Ctrl-C to stop"
)


def fake_command(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
        [sys.executable, "manage.py", "fake_twelvedata", *args],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def last_business_day(today: dt.date) -> dt.date:
    while today.weekday() >= 5:
        today -= dt.timedelta(days=1)
    return today


@pytest.fixture
def fake_process() -> Iterator[tuple[int, str]]:
    process = fake_command("--port", "0")
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = STARTED.fullmatch(line)
        assert match is not None, (line, process.stderr.read() if process.poll() else "")
        yield int(match.group(1)), match.group(2)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_fake_process_serves_labelled_synthetic_days_up_to_today(fake_process):
    port, through = fake_process
    today = last_business_day(dt.datetime.now(dt.UTC).date())

    url = (
        f"http://127.0.0.1:{port}/time_series?symbol=AAPL,EUR/USD&interval=1day"
        "&start_date=2024-09-11&adjust=none&order=asc"
    )
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200
        body = json.load(answer)

    aapl = body["AAPL"]
    assert aapl["meta"]["synthetic_after"] == "2024-09-12"
    assert [value["datetime"] for value in aapl["values"][:3]] == [
        "2024-09-11",
        "2024-09-12",
        "2024-09-13",
    ]
    assert aapl["values"][2]["open"] == aapl["values"][1]["close"] == "222.77"
    assert aapl["values"][2]["close"] == "224.39"  # the seeded walk's first day
    assert aapl["values"][-1]["datetime"] == today.isoformat()
    assert body["EUR/USD"]["meta"]["synthetic_after"] == "2026-10-30"
    assert body["EUR/USD"]["values"][-1]["datetime"] == today.isoformat()
    assert through == today.isoformat()


def test_a_taken_port_stops_the_fake_with_one_line_saying_what_to_do():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = fake_command("--port", str(port))
        _, stderr = process.communicate(timeout=60)

    assert process.returncode == 1
    assert stderr.strip() == (
        f"CommandError: cannot listen on 127.0.0.1:{port} (Address already in use): another "
        "fake may be running; pick a free port with TWELVEDATA_FAKE_PORT (make run passes it "
        "to the fake and the local settings)"
    )
