"""The job console of the admin: "Recompute now" and "Refresh now" queue audited jobs and link to
their runs; run states, progress, durations and retry links on the run lists and pages (and
their live fragments); the data warnings on the Index page and the admin home."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from market.models import Asset, MarketCap, Price, PriceRevision, RefreshRun
from portfolio.models import Index, IndexRun
from tests.admin.helpers import audit_mark, events_since, messages_of
from tests.factories import RefreshRunFactory
from tests.portfolio.published import published_index_build, run_build

SENT_AT_COMMIT = pytest.mark.django_db(transaction=True, serialized_rollback=True)
COMPUTE_TASK = "portfolio.tasks.compute_index"
REFRESH_TASK = "portfolio.tasks.refresh_and_recompute"
NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def _text(response) -> str:
    """The page's text without tags, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def _set_times(model, pk: int, *, started: dt.datetime, finished: dt.datetime | None) -> None:
    model.objects.filter(pk=pk).update(started_at=started, finished_at=finished)


# --------------------------------------------------------------------------- Recompute now


@SENT_AT_COMMIT
def test_recompute_now_queues_the_compute_audited_and_the_page_follows_the_job(analyst, task_queue):
    index = published_index_build(slug="alpha")
    page = reverse("admin:portfolio_index_change", args=[index.pk])
    button = reverse("admin:portfolio_index_recompute", args=[index.pk])
    assert f'action="{button}"' in analyst.client.get(page).content.decode()
    mark = audit_mark()

    response = analyst.client.post(button, HTTP_X_REQUEST_ID="req-recompute-01")

    assert response.status_code == 302
    assert response["Location"] == f"{page}?queued=req-recompute-01"
    assert task_queue.tasks() == [
        (
            COMPUTE_TASK,
            {
                "index_id": index.pk,
                "trigger": "admin",
                "user_id": analyst.user.pk,
                "request_id": "req-recompute-01",
            },
        )
    ]
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.COMPUTE_TRIGGERED, analyst.user)
    followed = analyst.client.get(response["Location"])
    runs = reverse("admin:portfolio_indexrun_changelist")
    assert messages_of(followed) == [
        f'Recompute of alpha queued. <a href="{runs}?request_id=req-recompute-01&amp;'
        f'index__id__exact={index.pk}">Follow its run</a> (it appears once a worker starts it).'
    ]
    assert "Recompute : queued (waiting for a worker)" in _text(followed)
    link = f"{runs}?request_id=req-recompute-01&index__id__exact={index.pk}"
    assert analyst.client.get(link).status_code == 200  # a filter the admin accepts

    # A worker starts the job: the page's fragment now shows its run, then it is published.
    fragment = reverse("admin:portfolio_index_job_state", args=[index.pk])
    fragment += "?request_id=req-recompute-01"
    assert 'data-active="1"' in analyst.client.get(fragment).content.decode()
    run = run_build(index=index, status=IndexRun.Status.RUNNING, publish=False)
    IndexRun.objects.filter(pk=run.pk).update(request_id="req-recompute-01")
    assert f"Latest run #{run.pk} : running" in _text(analyst.client.get(fragment))
    IndexRun.objects.filter(index=index, status="published").update(status="superseded")
    IndexRun.objects.filter(pk=run.pk).update(status="published", finished_at=timezone.now())
    done = analyst.client.get(fragment).content.decode()
    assert f"Latest run #{run.pk}" in done
    assert 'data-state="published"' in done
    assert 'data-active="0"' in done
    listed = analyst.client.get(link)
    assert [row.pk for row in listed.context["cl"].result_list] == [run.pk]


@SENT_AT_COMMIT
def test_the_recompute_action_queues_each_selected_index(analyst, task_queue):
    alpha = published_index_build(slug="alpha")
    beta = published_index_build(slug="beta")

    response = analyst.client.post(
        reverse("admin:portfolio_index_changelist"),
        {"action": "recompute_selected", "_selected_action": [alpha.pk, beta.pk]},
        follow=True,
        HTTP_X_REQUEST_ID="req-recompute-02",
    )

    assert [message.split(" queued.")[0] for message in messages_of(response)] == [
        "Recompute of alpha",
        "Recompute of beta",
    ]
    assert sorted(kwargs["index_id"] for _name, kwargs in task_queue.tasks()) == [
        alpha.pk,
        beta.pk,
    ]


@pytest.mark.django_db
def test_a_viewer_without_change_permission_gets_no_recompute(client):
    from tests.factories import ViewerFactory

    viewer = ViewerFactory(is_staff=True)
    client.force_login(viewer)
    index = Index.objects.get(slug="autoindex")

    assert client.post(reverse("admin:portfolio_index_recompute", args=[index.pk])).status_code in (
        302,
        403,
    )
    assert not IndexRun.objects.filter(index=index, trigger="admin").exists()


# --------------------------------------------------------------------------- Refresh now


@SENT_AT_COMMIT
def test_refresh_now_on_the_asset_page_queues_one_refresh_and_links_to_its_run(analyst, task_queue):
    asset = Asset.objects.get(symbol="AAPL")
    page = reverse("admin:market_asset_change", args=[asset.pk])
    button = reverse("admin:market_asset_refresh", args=[asset.pk])
    assert f'action="{button}"' in analyst.client.get(page).content.decode()

    response = analyst.client.post(button, follow=True, HTTP_X_REQUEST_ID="req-refresh-now1")

    runs = reverse("admin:market_refreshrun_changelist")
    assert messages_of(response) == [
        f'Price refresh queued for 1 asset(s): AAPL. <a href="{runs}?request_id=req-refresh-now1"'
        ">Follow its run</a> (it appears once a worker starts it)."
    ]
    assert task_queue.tasks() == [
        (
            REFRESH_TASK,
            {
                "symbols": ["AAPL"],
                "start": None,
                "end": None,
                "trigger": "admin",
                "user_id": analyst.user.pk,
                "request_id": "req-refresh-now1",
            },
        )
    ]
    # The link's list shows the run once a worker created it with that request id.
    run = RefreshRunFactory(status=RefreshRun.Status.RUNNING, request_id="req-refresh-now1")
    RefreshRunFactory(status=RefreshRun.Status.SUCCEEDED, request_id="someone-else")
    listed = analyst.client.get(f"{runs}?request_id=req-refresh-now1")
    assert [row.pk for row in listed.context["cl"].result_list] == [run.pk]


# --------------------------------------------------------------------------- states


@pytest.mark.django_db
def test_refresh_runs_show_state_progress_duration_and_retry_link(analyst):
    now = timezone.now()
    first = RefreshRunFactory(status=RefreshRun.Status.RETRYING, task_id="t-1")
    _set_times(RefreshRun, first.pk, started=NOW, finished=NOW + dt.timedelta(seconds=4.25))
    waiting = RefreshRunFactory(
        status=RefreshRun.Status.RUNNING,
        task_id="t-1",
        first_attempt=first,
        symbols_total=8,
        symbols_done=3,
        waiting_until=(now + dt.timedelta(minutes=5)).replace(microsecond=0),
    )
    partial = RefreshRunFactory(status=RefreshRun.Status.PARTIAL)
    _set_times(
        RefreshRun, partial.pk, started=NOW, finished=NOW + dt.timedelta(minutes=2, seconds=5)
    )

    listing = analyst.client.get(reverse("admin:market_refreshrun_changelist"))

    rows = {
        run.pk: run for run in listing.context["cl"].result_list
    }  # the list shows the three runs
    assert set(rows) == {first.pk, waiting.pk, partial.pk}
    text = _text(listing)
    until = f"{waiting.waiting_until:%H:%M:%S}"
    assert f"waiting for vendor credits until {until} UTC 3 / 8" in text
    assert "retrying (waiting for an automatic Celery retry)" in text
    assert "4.2 s" in text
    assert "2 min 05 s" in text
    first_url = reverse("admin:market_refreshrun_change", args=[first.pk])
    assert f'<a href="{first_url}">#{first.pk}</a>' in listing.content.decode()

    page = analyst.client.get(reverse("admin:market_refreshrun_change", args=[waiting.pk]))
    body = page.content.decode()
    state_url = reverse("admin:market_refreshrun_state", args=[waiting.pk])
    assert f'data-job-state-url="{state_url}"' in body
    assert 'data-active="1"' in body
    assert '<progress max="8" value="3"></progress>' in body
    assert f'(retry of <a href="{first_url}">#{first.pk}</a>)' in body
    assert f"Waiting until {waiting.waiting_until:%Y-%m-%d %H:%M:%S} UTC" in _text(page)

    # The worker goes on and finishes: the fragment says so (the page re-reads it).
    RefreshRun.objects.filter(pk=waiting.pk).update(
        status="succeeded", symbols_done=8, waiting_until=None, finished_at=timezone.now()
    )
    fragment = analyst.client.get(state_url)
    assert fragment.status_code == 200
    assert 'data-state="succeeded"' in fragment.content.decode()
    assert 'data-active="0"' in fragment.content.decode()
    assert "8 / 8 symbols (100 %)" in _text(fragment)


@pytest.mark.django_db
def test_index_runs_show_state_duration_and_retry_link(analyst):
    index = published_index_build(slug="alpha", publish=False)
    first = run_build(index=index, status=IndexRun.Status.FAILED, publish=False)
    retry = run_build(index=index, status=IndexRun.Status.RUNNING, publish=False)
    IndexRun.objects.filter(pk=retry.pk).update(first_attempt=first, finished_at=None)
    _set_times(IndexRun, first.pk, started=NOW, finished=NOW + dt.timedelta(hours=1, minutes=2))

    listing = analyst.client.get(reverse("admin:portfolio_indexrun_changelist"))

    text = _text(listing)
    assert "1 h 02 min" in text
    first_url = reverse("admin:portfolio_indexrun_change", args=[first.pk])
    assert f'<a href="{first_url}">#{first.pk}</a>' in listing.content.decode()
    page = analyst.client.get(reverse("admin:portfolio_indexrun_change", args=[retry.pk]))
    assert f"Run #{retry.pk} : running (retry of #{first.pk} )" in _text(page)
    fragment = analyst.client.get(reverse("admin:portfolio_indexrun_state", args=[retry.pk]))
    assert 'data-event-types="index_run.progress index_run.published"' in (
        fragment.content.decode()
    )
    assert f'data-event-run="{retry.pk}"' in fragment.content.decode()


# --------------------------------------------------------------------------- warnings


def _cap_warning(count: int, total: int, symbols: list[str]) -> str:
    return (
        f"No market cap for {count} of {total} assets ({', '.join(symbols)}): the market-cap"
        " component is equal weight for them."
    )


@pytest.mark.django_db
def test_the_missing_market_cap_warning_appears_and_disappears_when_caps_are_set(analyst):
    index = published_index_build(slug="alpha", assets=3)
    symbols = sorted(index.universe.values_list("symbol", flat=True))
    page = reverse("admin:portfolio_index_change", args=[index.pk])
    MarketCap.objects.create(
        asset=Asset.objects.get(symbol=symbols[0]), as_of=dt.date(2020, 1, 1), value=10**9
    )

    assert _cap_warning(2, 3, symbols[1:]) in _text(analyst.client.get(page))
    home = analyst.client.get(reverse("admin:index"))
    assert f"Alpha Index : {_cap_warning(2, 3, symbols[1:])}" in _text(home)

    for symbol in symbols[1:]:
        MarketCap.objects.create(
            asset=Asset.objects.get(symbol=symbol),
            as_of=dt.date(2020, 1, 1),
            shares_outstanding=1000,
        )

    assert "No market cap" not in _text(analyst.client.get(page))
    assert "Alpha Index" not in _text(analyst.client.get(reverse("admin:index")))


@pytest.mark.django_db
def test_a_market_cap_dated_after_today_does_not_count(analyst):
    index = published_index_build(slug="alpha", assets=1)
    [asset] = index.universe.all()
    MarketCap.objects.create(
        asset=asset, as_of=timezone.now().date() + dt.timedelta(days=3), value=10**9
    )

    text = _text(analyst.client.get(reverse("admin:portfolio_index_change", args=[index.pk])))

    assert _cap_warning(1, 1, [asset.symbol]) in text


@pytest.mark.django_db
def test_stale_prices_are_warned_on_the_index_page(analyst, settings):
    settings.HEALTH_DATA_FRESHNESS_GRACE_DAYS = 0
    index = published_index_build(slug="alpha", assets=2)
    fresh, stale = sorted(index.universe.all(), key=lambda asset: asset.symbol)
    today = timezone.now().date()
    expected = today - dt.timedelta(days=1)
    while expected.weekday() >= 5:
        expected -= dt.timedelta(days=1)
    Price.objects.create(asset=fresh, date=expected, close=Decimal("10"))
    Price.objects.create(asset=stale, date=dt.date(2024, 1, 2), close=Decimal("10"))

    text = _text(analyst.client.get(reverse("admin:portfolio_index_change", args=[index.pk])))

    assert (
        f"Stale prices for 1 of 2 assets ({stale.symbol} last close 2024-01-02): the last"
        f" expected trading day is {expected.isoformat()}."
    ) in text


# --------------------------------------------------------------------------- asset chart


@pytest.mark.django_db
def test_the_asset_page_carries_its_closes_and_revisions_for_the_chart(analyst, settings):
    asset = Asset.objects.get(symbol="AAPL")
    for day, close in ((2, "10.5"), (3, "11"), (4, "12.25")):
        Price.objects.create(asset=asset, date=dt.date(2024, 1, day), close=Decimal(close))
    PriceRevision.objects.create(
        asset=asset, date=dt.date(2024, 1, 3), old_close=Decimal("10.75"), new_close=Decimal("11")
    )
    settings.CHARTS_AVAILABLE = True

    page = analyst.client.get(reverse("admin:market_asset_change", args=[asset.pk]))

    assert page.context["asset_chart"] == {
        "symbol": "AAPL",
        "dates": ["2024-01-02", "2024-01-03", "2024-01-04"],
        "closes": [10.5, 11.0, 12.25],
        "revisions": [{"date": "2024-01-03", "old_close": 10.75, "new_close": 11.0}],
    }
    body = page.content.decode()
    assert '<canvas id="chart-asset-close"' in body
    assert '<script id="asset-chart-data" type="application/json">' in body
    assert "3 closes, 1 revised (red points)." in _text(page)


@pytest.mark.django_db
def test_without_charts_the_asset_page_says_so_and_works(analyst):
    asset = Asset.objects.get(symbol="AAPL")
    Price.objects.create(asset=asset, date=dt.date(2024, 1, 2), close=Decimal("10"))

    with override_settings(CHARTS_AVAILABLE=False):
        page = analyst.client.get(reverse("admin:market_asset_change", args=[asset.pk]))

    assert page.status_code == 200
    assert "Charts unavailable (npm not installed)." in _text(page)
    assert "chart-asset-close" not in page.content.decode()


@pytest.mark.django_db
def test_a_run_that_just_succeeded_is_still_followed_until_it_is_published(analyst):
    index = published_index_build(slug="alpha", publish=False)
    run = run_build(index=index, status=IndexRun.Status.SUCCEEDED, publish=False)
    state_url = reverse("admin:portfolio_indexrun_state", args=[run.pk])
    IndexRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())

    # Committed "succeeded", publishing next: the box keeps polling.
    assert 'data-active="1"' in analyst.client.get(state_url).content.decode()

    IndexRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - dt.timedelta(minutes=5))
    assert 'data-active="0"' in analyst.client.get(state_url).content.decode()


@pytest.mark.django_db
def test_the_admin_home_warns_in_a_fixed_number_of_queries(analyst, django_assert_max_num_queries):
    for slug in ("alpha", "beta", "gamma"):
        published_index_build(slug=slug, assets=2, publish=False)

    with django_assert_max_num_queries(12):
        home = analyst.client.get(reverse("admin:index"))

    text = _text(home)
    for name in ("Alpha Index", "Beta Index", "Gamma Index"):
        assert f"{name} : No market cap for 2 of 2 assets" in text


@pytest.mark.django_db
def test_run_lists_and_pages_need_a_fixed_number_of_queries(analyst, django_assert_max_num_queries):
    first = RefreshRunFactory(status=RefreshRun.Status.FAILED, task_id="t-1")
    for _ in range(5):
        RefreshRunFactory(status=RefreshRun.Status.RUNNING, first_attempt=first, symbols_total=4)
    asset = Asset.objects.get(symbol="AAPL")
    Price.objects.create(asset=asset, date=dt.date(2024, 1, 2), close=Decimal("10"))

    with django_assert_max_num_queries(10):
        listing = analyst.client.get(reverse("admin:market_refreshrun_changelist"))
    with django_assert_max_num_queries(10):
        page = analyst.client.get(reverse("admin:market_refreshrun_change", args=[first.pk]))
    with django_assert_max_num_queries(12):
        fragment = analyst.client.get(reverse("admin:market_refreshrun_state", args=[first.pk]))
    with django_assert_max_num_queries(25):
        asset_page = analyst.client.get(reverse("admin:market_asset_change", args=[asset.pk]))

    assert [response.status_code for response in (listing, page, fragment, asset_page)] == [200] * 4
    assert len(listing.context["cl"].result_list) == 6


@SENT_AT_COMMIT
def test_recompute_with_the_broker_down_says_so_and_records_nothing(analyst, broker, task_queue):
    index = published_index_build(slug="alpha")
    mark = audit_mark()
    broker.stop()

    response = analyst.client.post(
        reverse("admin:portfolio_index_recompute", args=[index.pk]), follow=True
    )

    assert response.status_code == 200
    [message] = messages_of(response)
    assert "queued" not in message
    assert "unavailable" in message.lower()
    assert events_since(mark) == []
    assert task_queue.tasks() == []
