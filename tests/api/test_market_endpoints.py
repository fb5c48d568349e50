"""Assets, prices, currencies and refresh jobs: behaviour, audit and query counts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from market.models import AssetClass, MarketCap, Price
from tests.factories import AssetFactory, PriceFactory, RefreshRunFactory
from tests.market.fx_pairs import fx_pair

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db

ROWS = 60


def test_asset_list_filters_by_class_sector_and_search(client_as):
    AssetFactory(symbol="ZQA", name="Quartz", sector="Mining", asset_class=AssetClass.COMMODITY)
    AssetFactory(symbol="ZQB", name="Other", sector="Mining", asset_class=AssetClass.EQUITY)
    viewer = client_as("viewer")

    by_class = viewer.get(api_url("asset-list"), {"asset_class": "commodity", "sector": "mining"})
    by_search = viewer.get(api_url("asset-list"), {"search": "quartz"})

    assert [row["symbol"] for row in by_class.json()["results"]] == ["ZQA"]
    assert [row["symbol"] for row in by_search.json()["results"]] == ["ZQA"]


def test_invalid_filter_value_is_400(client_as):
    response = client_as("viewer").get(api_url("asset-list"), {"asset_class": "nonsense"})
    body = assert_problem(response, 400)
    assert body["errors"][0]["pointer"] == "#/asset_class"


def test_asset_list_is_paginated_with_a_max_page_size(client_as, settings):
    settings.API_MAX_PAGE_SIZE = 5
    AssetFactory.create_batch(8)

    body = client_as("viewer").get(api_url("asset-list"), {"page_size": 1000}).json()

    assert len(body["results"]) == 5
    assert body["next"]


def test_asset_list_query_count(client_as, django_assert_max_num_queries):
    for asset in AssetFactory.create_batch(ROWS):
        MarketCap.objects.create(asset=asset, as_of=dt.date(2024, 1, 2), value=Decimal("1.50"))
    viewer = client_as("viewer")
    # user + groups (role), count, page (the market caps are a subquery of the page's query)
    with django_assert_max_num_queries(4):
        response = viewer.get(api_url("asset-list"), {"page_size": 100})
    assert len(response.json()["results"]) >= ROWS
    caps = [row["market_cap"] for row in response.json()["results"] if row["symbol"][:3] == "SYM"]
    assert caps == ["1.50"] * ROWS


def test_analyst_creates_updates_deletes_and_restores_an_asset_with_audit(client_as):
    analyst = client_as("analyst")

    created = analyst.post(
        api_url("asset-list"),
        {"symbol": "zzcr", "asset_class": "equity", "market_cap": "10.50"},
        format="json",
    )
    updated = analyst.patch(
        api_url("asset-detail", symbol="ZZCR"), {"market_cap": "12.00"}, format="json"
    )
    deleted = analyst.delete(api_url("asset-detail", symbol="ZZCR"))
    gone = analyst.get(api_url("asset-detail", symbol="ZZCR"))
    restored = analyst.post(api_url("asset-restore", symbol="ZZCR"))

    assert created.status_code == 201
    assert created.json()["symbol"] == "ZZCR"
    assert updated.json()["market_cap"] == "12.00"
    assert deleted.status_code == 204
    assert_problem(gone, 404)
    assert restored.status_code == 200
    assert restored.json()["market_cap"] == "12.00"
    # The cap is a dated row: created at 10.50 today, then changed to 12.00 (same day), in its
    # history by the analyst.
    [cap] = MarketCap.objects.filter(asset__symbol="ZZCR")
    assert (cap.as_of, cap.value, cap.source) == (
        timezone.now().date(),
        Decimal("12.00"),
        "analyst",
    )
    assert [(h.value, h.history_user) for h in cap.history.order_by("history_id")] == [
        (Decimal("10.50"), analyst.user),
        (Decimal("12.00"), analyst.user),
    ]
    actions = list(
        AuditEvent.objects.filter(target_type="market.asset")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        AuditEvent.Action.ASSET_CREATED,
        AuditEvent.Action.ASSET_UPDATED,
        AuditEvent.Action.ASSET_DELETED,
        AuditEvent.Action.ASSET_RESTORED,
    ]
    update_event = AuditEvent.objects.get(action=AuditEvent.Action.ASSET_UPDATED)
    assert update_event.details == {"changes": {"market_cap": {"old": "10.50", "new": "12.00"}}}
    assert update_event.actor == analyst.user


def test_asset_market_cap_is_the_latest_dated_value_known_today(client_as):
    asset = AssetFactory(symbol="ZCAP")
    today = timezone.now().date()
    MarketCap.objects.create(asset=asset, as_of=today - dt.timedelta(days=30), value=Decimal("5"))
    MarketCap.objects.create(asset=asset, as_of=today - dt.timedelta(days=2), value=Decimal("7.25"))
    MarketCap.objects.create(asset=asset, as_of=today + dt.timedelta(days=1), value=Decimal("9"))
    MarketCap.objects.create(asset=asset, as_of=today, shares_outstanding=1000)  # no value

    response = client_as("viewer").get(api_url("asset-detail", symbol="ZCAP"))

    assert response.json()["market_cap"] == "7.25"


def test_patching_a_cleared_market_cap_is_refused_and_changes_nothing(client_as):
    asset = AssetFactory(symbol="ZCLR")
    MarketCap.objects.create(asset=asset, as_of=dt.date(2024, 1, 2), value=Decimal("5"))

    response = client_as("analyst").patch(
        api_url("asset-detail", symbol="ZCLR"), {"market_cap": None}, format="json"
    )

    assert [e["pointer"] for e in assert_problem(response, 400)["errors"]] == ["#/market_cap"]
    assert list(MarketCap.objects.filter(asset=asset).values_list("value", flat=True)) == [
        Decimal("5.00")
    ]


def test_duplicate_live_symbol_is_a_409_conflict(client_as):
    AssetFactory(symbol="DUPE")
    response = client_as("analyst").post(
        api_url("asset-list"), {"symbol": "DUPE", "asset_class": "equity"}, format="json"
    )
    assert assert_problem(response, 409)["type"].endswith("/conflict")


def test_fx_symbols_with_a_slash_route_to_the_asset(client_as):
    pair = AssetFactory(symbol="ZZZ/USD", asset_class=AssetClass.FX)
    PriceFactory(asset=pair)
    viewer = client_as("viewer")

    assert viewer.get("/api/v2/assets/ZZZ/USD/").json()["symbol"] == "ZZZ/USD"
    assert viewer.get("/api/v2/assets/ZZZ/USD/prices/").status_code == 200


def test_prices_are_cursor_paginated_oldest_first_within_the_range(client_as, settings):
    settings.API_SERIES_PAGE_SIZE = 10
    asset = AssetFactory(symbol="ZZPX")
    start = dt.date(2024, 1, 1)
    Price.objects.bulk_create(
        Price(asset=asset, date=start + dt.timedelta(days=n), close=Decimal(100 + n))
        for n in range(25)
    )
    viewer = client_as("viewer")
    url = api_url("asset-prices", symbol="ZZPX")

    first = viewer.get(url, {"start": "2024-01-03", "end": "2024-01-20"}).json()
    second = viewer.get(first["next"]).json()

    dates = [row["date"] for row in first["results"] + second["results"]]
    assert dates[0] == "2024-01-03"
    assert dates[-1] == "2024-01-20"
    assert dates == sorted(dates)
    assert len(dates) == 18
    assert second["next"] is None


def test_prices_query_count(client_as, django_assert_max_num_queries):
    asset = AssetFactory(symbol="ZZQC")
    PriceFactory.create_batch(ROWS, asset=asset)
    viewer = client_as("viewer")
    # user + groups (role), the page (its asset looked up by symbol in the same statement)
    with django_assert_max_num_queries(3):
        response = viewer.get(api_url("asset-prices", symbol="ZZQC"))
    assert len(response.json()["results"]) == ROWS


def test_currencies_report_the_range_of_each_usd_conversion(client_as):
    # The seeded pairs without prices (GBP/USD, USD/CHF, …) are not reported.
    fx_pair("EUR/USD", {dt.date(2020, 1, 2): "1.1", dt.date(2024, 5, 6): "1.1"})
    fx_pair("USD/JPY", {dt.date(2021, 3, 4): "140"})
    fx_pair("EUR/GBP", {dt.date(2021, 3, 4): "0.85"})  # no USD leg: ignored

    rows = client_as("viewer").get(api_url("currency-list")).json()["results"]

    assert [row["code"] for row in rows] == ["EUR", "JPY", "USD"]
    assert rows[0] == {
        "code": "EUR",
        "pair": "EUR/USD",
        "first_date": "2020-01-02",
        "last_date": "2024-05-06",
        "observations": 2,
    }
    assert rows[2]["pair"] is None


def test_currencies_query_count(client_as, django_assert_max_num_queries):
    for number in range(ROWS):
        code = "Q" + chr(65 + number // 26) + chr(65 + number % 26)
        PriceFactory(asset=AssetFactory(symbol=f"{code}/USD", asset_class=AssetClass.FX))
    viewer = client_as("viewer")
    with django_assert_max_num_queries(3):
        response = viewer.get(api_url("currency-list"), {"page_size": 100})
    assert response.json()["count"] == ROWS + 1


def test_refresh_job_list_query_count(client_as, django_assert_max_num_queries):
    analyst = client_as("analyst")
    RefreshRunFactory.create_batch(ROWS, triggered_by=analyst.user)
    with django_assert_max_num_queries(4):
        response = analyst.get(api_url("refresh-job-list"), {"page_size": 100})
    assert response.json()["results"][0]["triggered_by"] == analyst.user.email
    # Which refresh it was: prices (nightly) or corporate actions (weekly).
    assert response.json()["results"][0]["kind"] == "prices"


def test_audit_event_list_query_count(client_as, django_assert_max_num_queries):
    from accounts.services import audit_record

    admin = client_as("admin")
    for number in range(ROWS):
        audit_record(action="test.event", actor=admin.user, details={"n": number})
    with django_assert_max_num_queries(4):
        response = admin.get(api_url("audit-event-list"), {"action": "test.event"})
    assert response.json()["count"] == ROWS


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refresh_post_queues_the_refresh_job_and_audits_it(client_as, task_queue):
    analyst = client_as("analyst")
    AssetFactory(symbol="ZZRF")

    response = analyst.post(
        api_url("refresh-job-list"),
        {"symbols": ["zzrf"], "start": "2024-01-01"},
        format="json",
        HTTP_X_REQUEST_ID="req-refresh-0001",
    )

    assert response.status_code == 202
    body = response.json()
    assert (body["request_id"], body["task_id"]) == ("req-refresh-0001", task_queue.ids()[0])
    assert body["runs_url"].endswith("?request_id=req-refresh-0001")
    assert task_queue.tasks() == [
        (
            "portfolio.tasks.refresh_and_recompute",  # REFRESH_JOB_TASK: refresh, then recompute
            {
                "symbols": ["ZZRF"],
                "start": "2024-01-01",
                "end": None,
                "trigger": "api",
                "user_id": analyst.user.pk,
                "request_id": "req-refresh-0001",
            },
        )
    ]
    event = AuditEvent.objects.get(action=AuditEvent.Action.REFRESH_TRIGGERED)
    assert (event.actor, event.request_id, event.details) == (
        analyst.user,
        "req-refresh-0001",
        {"symbols": ["ZZRF"], "start": "2024-01-01", "end": None, "trigger": "api"},
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refresh_post_with_the_broker_down_is_503_and_audits_no_trigger(
    client_as, broker, task_queue
):
    analyst = client_as("analyst")
    broker.stop()

    response = analyst.post(api_url("refresh-job-list"), {}, format="json")

    body = assert_problem(response, 503)
    assert body["detail"] == "The job queue is unavailable; the market refresh was not started."
    assert response["Retry-After"] == "30"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REFRESH_TRIGGERED).exists()
    broker.start()
    assert task_queue.tasks() == []


def test_refresh_rejects_unknown_symbols_and_future_dates(client_as):
    analyst = client_as("analyst")
    url = api_url("refresh-job-list")

    unknown = analyst.post(url, {"symbols": ["NOSUCH"]}, format="json")
    # In the API's date range (up to a year ahead) but after today: refused as impossible now.
    soon = dt.datetime.now(tz=dt.UTC).date() + dt.timedelta(days=2)
    future = analyst.post(url, {"end": soon.isoformat()}, format="json")

    assert assert_problem(unknown, 422)["errors"][0]["pointer"] == "#/symbols"
    assert assert_problem(future, 422)["errors"][0]["pointer"] == "#/end"
