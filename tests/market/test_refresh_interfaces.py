"""The refresh's other faces: the command, the offline fake server, the admin action, and the
promises that hold everywhere (the API key never leaks; prices are never deleted)."""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import threading
from decimal import Decimal
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core import serializers
from django.core.management import call_command
from django.urls import reverse

from accounts.models import AuditEvent
from market.management.commands.fake_twelvedata import handler_for
from market.models import Asset, Price, RefreshRun
from market.providers import SymbolSeries, TwelveDataAuthError, TwelveDataClient
from market.providers.fake import FakeTwelveData, demo_series
from market.services import prices_refresh
from tests.factories import UserFactory
from tests.market.conftest import REFRESH_END, SERVED_DATES

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parent.parent.parent
SECRET = "s3cret-api-key-0123456789"


def test_refresh_command_prints_a_summary_table(fake_twelvedata):
    out = io.StringIO()

    call_command(
        "refresh_market_data",
        "--symbols",
        "AAPL",
        "^GSPC",
        "NOPE",
        "--end",
        "2024-01-12",
        stdout=out,
        verbosity=0,
    )

    run = RefreshRun.objects.get()
    assert out.getvalue().splitlines() == [
        "symbol  status      rows  note",
        "AAPL    stored         9",
        "NOPE    failed         0  no active asset with this symbol",
        "^GSPC   skipped        0  not a TwelveData symbol (Yahoo notation); map it with "
        "TWELVEDATA_SYMBOL_MAP to refresh it",
        f"refresh #{run.pk} partial: inserted=9 updated=0 unchanged=0 failed=1 deferred=0",
    ]
    assert (run.trigger, run.symbols) == (RefreshRun.Trigger.CLI, ["AAPL", "NOPE", "^GSPC"])


def test_fake_twelvedata_command_serves_the_demo_data_offline(fake_clock, settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(FakeTwelveData(demo_series())))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        settings.TWELVEDATA_BASE_URL = f"http://127.0.0.1:{server.server_port}"
        client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)
        results = client.time_series(
            ["AAPL", "^GSPC"], start=dt.date(2015, 1, 2), end=dt.date(2015, 1, 5)
        )
        fx = client.time_series(
            ["EUR/USD"], start=dt.date(2015, 1, 2), end=dt.date(2015, 1, 2), utc=True
        )
    finally:
        server.shutdown()
        server.server_close()

    aapl = results["AAPL"]
    assert isinstance(aapl, SymbolSeries)
    assert [(bar.date, bar.open, bar.close, bar.volume) for bar in aapl.bars] == [
        # Raw, as traded (the client asks adjust=none): before the 4-for-1 split of 2020.
        (dt.date(2015, 1, 2), Decimal("111.39"), Decimal("109.33"), 53_204_600),
        (dt.date(2015, 1, 5), Decimal("108.29"), Decimal("106.25"), 64_285_500),
    ]
    assert results["^GSPC"].kind == "not_found"  # like TwelveData, the fake has no ^GSPC
    eur = fx["EUR/USD"]
    assert isinstance(eur, SymbolSeries)
    assert [(bar.date, bar.open, bar.close) for bar in eur.bars] == [
        (dt.date(2015, 1, 2), None, Decimal("1.2043"))
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_admin_action_queues_one_refresh_and_audits_it(client, task_queue):
    analyst = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(analyst)
    ids = list(Asset.objects.filter(symbol__in=["AAPL", "MSFT"]).values_list("pk", flat=True))

    response = client.post(
        reverse("admin:market_asset_changelist"),
        {"action": "refresh_prices_selected", "_selected_action": ids},
        follow=True,
    )

    [(task_name, kwargs)] = task_queue.tasks()
    request_id = kwargs["request_id"]
    # The message links to the run list filtered by the job's request id (its run's).
    assert [str(m) for m in response.context["messages"]] == [
        "Price refresh queued for 2 asset(s): AAPL, MSFT. "
        f'<a href="/admin/market/refreshrun/?request_id={request_id}">Follow its run</a> '
        "(it appears once a worker starts it)."
    ]
    assert task_name == "portfolio.tasks.refresh_and_recompute"  # REFRESH_JOB_TASK
    assert {key: kwargs[key] for key in ("symbols", "trigger", "user_id")} == {
        "symbols": ["AAPL", "MSFT"],
        "trigger": "admin",
        "user_id": analyst.pk,
    }
    event = AuditEvent.objects.get(action=AuditEvent.Action.REFRESH_TRIGGERED)
    assert (event.actor, event.details["symbols"], event.details["trigger"]) == (
        analyst,
        ["AAPL", "MSFT"],
        "admin",
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_admin_action_with_the_broker_down_says_nothing_started_and_audits_nothing(
    client, broker, task_queue
):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    ids = list(Asset.objects.filter(symbol="AAPL").values_list("pk", flat=True))
    broker.stop()

    response = client.post(
        reverse("admin:market_asset_changelist"),
        {"action": "refresh_prices_selected", "_selected_action": ids},
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        "The job queue is unavailable; the market refresh was not started."
    ]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REFRESH_TRIGGERED).exists()
    broker.start()
    assert task_queue.tasks() == []


def test_the_api_key_never_reaches_urls_logs_or_refresh_runs(
    settings, fake_twelvedata, fake_clock, twelvedata_server, caplog
):
    caplog.set_level(logging.DEBUG)
    settings.TWELVEDATA_API_KEY = SECRET
    fake_twelvedata.api_key = SECRET
    fake_twelvedata.fail_next("500")
    fake_twelvedata.fail_next("429_minute")
    fake_twelvedata.fail_symbol("MSFT", "bad_values")
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)
    prices_refresh(symbols=["AAPL", "MSFT", "^GSPC"], end=REFRESH_END, client=client)
    settings.TWELVEDATA_API_KEY = SECRET + "-wrong"  # a 401: the error path too
    client = TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)
    with pytest.raises(TwelveDataAuthError):
        prices_refresh(symbols=["AAPL"], end=REFRESH_END, client=client)

    assert fake_twelvedata.authorizations[-1] == f"apikey {SECRET}-wrong"
    urls = [request.url for request, _ in twelvedata_server.log]
    assert len(urls) == 4  # 500, 429, ok; then the 401
    assert not [url for url in urls if SECRET in url or "apikey" in url]
    assert SECRET not in caplog.text
    runs = serializers.serialize("json", RefreshRun.objects.all())
    assert SECRET not in runs
    assert [run.status for run in RefreshRun.objects.order_by("pk")] == ["partial", "failed"]
    assert Price.objects.filter(asset__symbol="AAPL").count() == len(SERVED_DATES)


def test_no_code_deletes_prices():
    price_delete = re.compile(
        r"DELETE\s+FROM\s+market_price\b|Price\.(all_)?objects\b[^\n]*\.delete\(|"
        r"TRUNCATE[^\n]*market_price\b",
        re.IGNORECASE,
    )
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("market", "core", "accounts", "strategy", "portfolio", "config", "bench")
        for path in (REPO / folder).rglob("*.py")
        if price_delete.search(path.read_text())
    ]

    assert offenders == []
