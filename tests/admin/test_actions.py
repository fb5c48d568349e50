"""Admin actions that start or publish something: each one is audited with the acting user."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from market.models import Asset
from portfolio.models import IndexRun
from tests.admin.helpers import (
    audit_mark,
    event_target,
    events_since,
    messages_of,
    stored_details,
    target_of,
)
from tests.portfolio.published import published_index_build, run_build

# Transactional: the refresh is sent when the (real) transaction commits, as in production,
# where admin requests are not wrapped in one; the broker's refusal must reach the action.
SENT_AT_COMMIT = pytest.mark.django_db(transaction=True, serialized_rollback=True)
REFRESH_TASK = "portfolio.tasks.refresh_and_recompute"


def _refresh_prices(analyst, symbols: list[str], **headers: str):
    selected = Asset.objects.filter(symbol__in=symbols).values_list("pk", flat=True)
    return analyst.client.post(
        reverse("admin:market_asset_changelist"),
        {"action": "refresh_prices_selected", "_selected_action": list(selected)},
        follow=True,
        **headers,
    )


@SENT_AT_COMMIT
def test_refresh_prices_queues_one_task_and_records_refresh_triggered(analyst, task_queue):
    mark = audit_mark()

    response = _refresh_prices(analyst, ["MSFT", "AAPL"], HTTP_X_REQUEST_ID="req-refresh-0001")

    runs = reverse("admin:market_refreshrun_changelist")
    assert messages_of(response) == [
        f'Price refresh queued for 2 asset(s): AAPL, MSFT. <a href="{runs}?request_id='
        'req-refresh-0001">Follow its run</a> (it appears once a worker starts it).'
    ]
    assert task_queue.tasks() == [
        (
            REFRESH_TASK,
            {
                "symbols": ["AAPL", "MSFT"],
                "start": None,
                "end": None,
                "trigger": "admin",
                "user_id": analyst.user.pk,
                "request_id": "req-refresh-0001",
            },
        )
    ]
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.REFRESH_TRIGGERED, analyst.user)
    assert (event.request_id, event_target(event)) == ("req-refresh-0001", ("", "", ""))
    assert stored_details(event) == {
        "symbols": ["AAPL", "MSFT"],
        "start": None,
        "end": None,
        "trigger": "admin",
    }


@SENT_AT_COMMIT
def test_refresh_prices_with_the_broker_down_shows_an_error_queues_and_records_nothing(
    analyst, task_queue, broker
):
    mark = audit_mark()
    broker.stop()

    response = _refresh_prices(analyst, ["AAPL", "MSFT"])

    broker.start()
    assert messages_of(response) == [
        "The job queue is unavailable; the market refresh was not started."
    ]
    assert task_queue.tasks() == []
    assert events_since(mark) == []


@SENT_AT_COMMIT
def test_refresh_prices_over_the_credit_cap_shows_the_refusal_queues_and_records_nothing(
    analyst, task_queue, settings
):
    # Two symbols without prices cost at least one credit each: over a one-credit cap.
    settings.REFRESH_MAX_CREDITS_PER_REQUEST = 1
    mark = audit_mark()

    response = _refresh_prices(analyst, ["AAPL", "MSFT"])

    [message] = messages_of(response)
    assert message.startswith("This refresh needs ")
    assert message.endswith(
        " vendor credits; one request may spend at most 1. "
        "Ask for fewer symbols or a shorter range."
    )
    assert task_queue.tasks() == []
    assert events_since(mark) == []


@pytest.mark.django_db
def test_publishing_a_superseded_run_records_run_published_by_the_user(analyst):
    index = published_index_build(slug="pub", assets=3, days=60)
    older = IndexRun.objects.get(index=index, status=IndexRun.Status.PUBLISHED)
    newer = run_build(index=index, days=60, shift=1.0)
    older.refresh_from_db()
    assert (older.status, newer.status) == ("superseded", "published")
    mark = audit_mark()

    response = analyst.client.post(
        reverse("admin:portfolio_indexrun_changelist"),
        {"action": "publish_run", "_selected_action": [older.pk]},
        follow=True,
    )

    assert messages_of(response) == [f"Run #{older.pk} of Pub Index is now published."]
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, newer.status) == ("published", "superseded")
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.RUN_PUBLISHED, analyst.user)
    assert event_target(event) == target_of(older)
    assert event.target_repr == f"{index.pk} run #{older.pk} (published)"
    assert stored_details(event) == {"index": index.pk, "data_through": "2023-03-24"}
