"""A refresh through the offline demo's fake (its own HTTP server, on a free loopback port)
inserts the synthetic bars after the bundled history: what ``make run`` shows."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import ThreadingHTTPServer

import pandas as pd
import pytest
import time_machine

from market.management.commands.fake_twelvedata import handler_for
from market.models import Asset, Price, RefreshRun
from market.providers.fake import FakeTwelveData, demo_fake, demo_series
from market.services import prices_refresh, prices_upsert
from market.services.prices import PRICE_COLUMNS

pytestmark = pytest.mark.django_db

TODAY = dt.datetime(2024, 9, 20, 21, 0, tzinfo=dt.UTC)  # a Friday evening
DEMO_LAST_DATE = dt.date(2024, 9, 12)


@pytest.fixture
def demo_server(settings) -> Iterator[FakeTwelveData]:
    """The command's server on a free port, serving the demo fake as of :data:`TODAY`."""
    with time_machine.travel(TODAY, tick=True):
        fake = demo_fake(api_key=settings.TWELVEDATA_API_KEY)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        settings.TWELVEDATA_BASE_URL = f"http://127.0.0.1:{server.server_port}"
        try:
            yield fake
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def demo_history_store(symbol: str, *, since: dt.date) -> int:
    """Store the bundled bars of ``symbol`` from ``since`` (as ``load_demo_data`` would)."""
    asset = Asset.objects.get(symbol=symbol)
    bars = [bar for bar in demo_series()[symbol] if bar.date >= since]
    rows = pd.DataFrame.from_records(
        [(asset.pk, bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume) for bar in bars],
        columns=list(PRICE_COLUMNS),
    ).astype(object)
    prices_upsert(rows, source="import")
    return len(bars)


def test_refresh_through_the_demo_fake_inserts_the_days_after_the_bundled_history(demo_server):
    # Given the bundled history of AAPL through its last day (2024-09-12)
    stored = demo_history_store("AAPL", since=dt.date(2024, 9, 3))
    assert stored == 8

    # When a refresh runs on Friday 2024-09-20 against the fake
    with time_machine.travel(TODAY, tick=True):
        run = prices_refresh(symbols=["AAPL"], trigger=RefreshRun.Trigger.CLI)

    # Then the six business days after it are inserted, continuing from the last real close
    run.refresh_from_db()
    assert run.status == RefreshRun.Status.SUCCEEDED
    assert (run.rows_inserted, run.rows_updated) == (6, 0)
    assert run.changed_symbols == ["AAPL"]
    after = list(
        Price.objects.filter(asset__symbol="AAPL", date__gt=DEMO_LAST_DATE)
        .order_by("date")
        .values_list("date", "open", "close")
    )
    assert [row[0] for row in after] == [dt.date(2024, 9, day) for day in (13, 16, 17, 18, 19, 20)]
    assert after[0] == (dt.date(2024, 9, 13), Decimal("222.77"), Decimal("224.39"))
    assert after[-1][2] == Decimal("231.49")
    last_real = Price.objects.get(asset__symbol="AAPL", date=DEMO_LAST_DATE)
    assert (last_real.close, last_real.source) == (Decimal("222.77"), "import")


def test_a_second_refresh_the_same_day_inserts_nothing(demo_server):
    demo_history_store("AAPL", since=dt.date(2024, 9, 3))
    with time_machine.travel(TODAY, tick=True):
        prices_refresh(symbols=["AAPL"], trigger=RefreshRun.Trigger.CLI)
        again = prices_refresh(symbols=["AAPL"], trigger=RefreshRun.Trigger.CLI)

    again.refresh_from_db()
    assert (again.status, again.rows_inserted, again.rows_updated) == (
        RefreshRun.Status.SUCCEEDED,
        0,
        0,
    )
