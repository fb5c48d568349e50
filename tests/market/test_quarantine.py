"""The review of quarantined bars: services (accept, reject) and the admin's actions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from core.errors import ConflictError
from market.locks import refresh_lease
from market.models import Asset, Price, PriceRevision, QuarantinedBar, RefreshRun
from market.services import quarantined_bar_accept, quarantined_bar_reject
from portfolio.models import Index, IndexRun
from portfolio.selectors import index_inputs_snapshot, indexes_with_changed_inputs
from tests.admin.helpers import (
    Staff,
    audit_mark,
    event_target,
    events_since,
    messages_of,
    stored_details,
)
from tests.factories import AnalystFactory, ViewerFactory
from tests.market.quarantine_helpers import QuarantinedBarFactory, store_closes

pytestmark = pytest.mark.django_db

D = Decimal
JAN_11, JAN_12 = dt.date(2024, 1, 11), dt.date(2024, 1, 12)


@pytest.fixture
def aapl():
    return Asset.objects.get(symbol="AAPL")


@pytest.fixture
def analyst(client) -> Staff:
    """An analyst logged in to the admin (as in tests/admin)."""
    user = AnalystFactory(is_staff=True, email="analyst@example.com")
    client.force_login(user)
    return Staff(client, user)


@pytest.fixture
def reviewer():
    return AnalystFactory(email="reviewer@example.com")


def stored(asset, date):
    return Price.objects.filter(asset=asset, date=date).values_list("close", flat=True).first()


# ------------------------------------------------------------------------------ services


def test_accepting_a_revision_stores_the_close_with_its_revision_and_audits_it(aapl, reviewer):
    store_closes(aapl, {JAN_11: "312.00", JAN_12: "312.11"})
    bar = QuarantinedBarFactory(asset=aapl, reason=QuarantinedBar.Reason.REVISION)
    mark = audit_mark()

    decided = quarantined_bar_accept(bar, actor=reviewer)

    assert stored(aapl, JAN_12) == D("312105.79")
    [revision] = PriceRevision.objects.filter(asset=aapl)
    assert (revision.date, revision.old_close, revision.new_close, revision.refresh_run) == (
        JAN_12,
        D("312.11"),
        D("312105.79"),
        bar.refresh_run,
    )
    bar.refresh_from_db()
    assert (bar.status, bar.decided_by, bar.decided_at) == (
        "accepted",
        reviewer,
        decided.decided_at,
    )
    review = RefreshRun.objects.exclude(pk=bar.refresh_run_id).get()
    assert (review.status, review.trigger, review.triggered_by) == ("succeeded", "admin", reviewer)
    assert (review.rows_inserted, review.rows_updated, review.changed_symbols) == (0, 1, ["AAPL"])
    assert review.notes == {
        "AAPL": f"quarantined bar #{bar.pk} of 2024-01-12 accepted "
        f"(held by refresh #{bar.refresh_run_id}): updated"
    }
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.QUARANTINE_ACCEPTED, reviewer)
    assert event_target(event) == (
        "market.quarantinedbar",
        str(bar.pk),
        f"{aapl.pk} 2024-01-12 312105.79000000 (accepted)",
    )
    assert stored_details(event) == {
        "symbol": "AAPL",
        "date": "2024-01-12",
        "close": "312105.79000000",
        "reason": "revision",
        "reference_close": "312.11000000",
        "refresh_run": bar.refresh_run_id,
        "stored": "updated",
        "previous_close": "312.11000000",
        "review_run": review.pk,
    }


def test_accepting_a_new_bar_inserts_it_without_a_revision(aapl, reviewer):
    store_closes(aapl, {JAN_11: "312.11"})
    bar = QuarantinedBarFactory(asset=aapl)

    quarantined_bar_accept(bar, actor=reviewer)

    row = Price.objects.get(asset=aapl, date=JAN_12)
    assert (row.open, row.high, row.low, row.close, row.volume, row.source) == (
        D("312000"),
        D("313000"),
        D("311000"),
        D("312105.79"),
        1_000_000,
        "twelvedata",
    )
    assert PriceRevision.objects.count() == 0


def test_an_accepted_bar_makes_the_index_holding_it_recompute(aapl, reviewer):
    # The published run started after the quarantining refresh finished: only the review run
    # (finished now) can tell the recompute that AAPL changed.
    index = Index.objects.select_related("strategy", "benchmark").get(slug="autoindex")
    bar = QuarantinedBarFactory(asset=aapl)
    bar.refresh_run.finished_at = bar.refresh_run.started_at
    bar.refresh_run.changed_symbols = ["AAPL"]
    bar.refresh_run.save()
    inputs = index_inputs_snapshot(index)
    IndexRun.objects.create(
        index=index,
        status=IndexRun.Status.PUBLISHED,
        trigger=IndexRun.Trigger.CLI,
        config_snapshot={**inputs["config"], "name": index.strategy.name},
        universe_snapshot=inputs["universe"],
    )
    assert [found.slug for found in indexes_with_changed_inputs()] == []

    quarantined_bar_accept(bar, actor=reviewer)

    assert [found.slug for found in indexes_with_changed_inputs()] == ["autoindex"]


def test_rejecting_stores_nothing_and_audits_the_reason(aapl, reviewer):
    store_closes(aapl, {JAN_12: "312.11"})
    bar = QuarantinedBarFactory(asset=aapl)
    mark = audit_mark()

    quarantined_bar_reject(bar, actor=reviewer, reason="vendor error, x1000")

    assert stored(aapl, JAN_12) == D("312.11")
    bar.refresh_from_db()
    assert (bar.status, bar.decided_by) == ("rejected", reviewer)
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.QUARANTINE_REJECTED, reviewer)
    assert stored_details(event)["why"] == "vendor error, x1000"
    assert RefreshRun.objects.count() == 1  # the quarantining run only


@pytest.mark.parametrize("status", [QuarantinedBar.Status.ACCEPTED, QuarantinedBar.Status.REJECTED])
@pytest.mark.parametrize("decide", [quarantined_bar_accept, quarantined_bar_reject])
def test_a_bar_already_decided_is_a_conflict_and_nothing_changes(aapl, reviewer, status, decide):
    bar = QuarantinedBarFactory(asset=aapl, status=status)
    mark = audit_mark()

    with pytest.raises(ConflictError) as raised:
        decide(bar, actor=reviewer)

    label = "accepted (stored)" if status == "accepted" else "rejected"
    assert raised.value.detail == f"This quarantined bar was already decided ({label})."
    assert stored(aapl, JAN_12) is None
    assert events_since(mark) == []


def test_a_stale_copy_of_a_bar_decided_meanwhile_is_a_conflict(aapl, reviewer):
    bar = QuarantinedBarFactory(asset=aapl)
    stale = QuarantinedBar.objects.get(pk=bar.pk)
    quarantined_bar_reject(bar, actor=reviewer)

    with pytest.raises(ConflictError):
        quarantined_bar_accept(stale, actor=reviewer)

    assert stored(aapl, JAN_12) is None


def test_accepting_while_a_refresh_holds_the_lease_is_a_conflict(aapl, reviewer):
    bar = QuarantinedBarFactory(asset=aapl)
    lease = refresh_lease()
    assert lease.acquire()
    try:
        with pytest.raises(ConflictError) as raised:
            quarantined_bar_accept(bar, actor=reviewer)
    finally:
        lease.release()

    assert raised.value.detail == "A price refresh is running; accept the bar when it has finished."
    bar.refresh_from_db()
    assert (bar.status, stored(aapl, JAN_12)) == ("pending", None)


# ------------------------------------------------------------------------------ admin


def _act(staff, action: str, bars):
    return staff.client.post(
        reverse("admin:market_quarantinedbar_changelist"),
        {"action": action, "_selected_action": [bar.pk for bar in bars]},
        follow=True,
    )


def test_the_changelist_lists_the_bars_to_review_in_fixed_queries(
    analyst, aapl, django_assert_max_num_queries
):
    for day in range(5):
        QuarantinedBarFactory(asset=aapl, date=dt.date(2024, 1, 2 + day))

    with django_assert_max_num_queries(12):
        response = analyst.client.get(
            reverse("admin:market_quarantinedbar_changelist"), {"status__exact": "pending"}
        )

    assert response.status_code == 200
    assert response.context["cl"].result_count == 5
    assert [name for name, *_ in response.context["action_form"].fields["action"].choices] == [
        "",
        "accept_bars",
        "reject_bars",
    ]


def test_the_admin_accept_action_stores_the_bar_and_says_so(analyst, aapl):
    store_closes(aapl, {JAN_12: "312.11"})
    bar = QuarantinedBarFactory(asset=aapl, reason=QuarantinedBar.Reason.REVISION)
    mark = audit_mark()

    response = _act(analyst, "accept_bars", [bar])

    assert messages_of(response) == [
        "AAPL 2024-01-12 close 312105.79 accepted: the price is stored."
    ]
    assert stored(aapl, JAN_12) == D("312105.79")
    assert [(event.action, event.actor) for event in events_since(mark)] == [
        (AuditEvent.Action.QUARANTINE_ACCEPTED, analyst.user)
    ]


def test_the_admin_reject_action_reports_each_bar_and_refuses_decided_ones(analyst, aapl):
    pending = QuarantinedBarFactory(asset=aapl, date=JAN_11, close=D("0.312"))
    decided = QuarantinedBarFactory(asset=aapl, status=QuarantinedBar.Status.ACCEPTED)

    response = _act(analyst, "reject_bars", [pending, decided])

    assert messages_of(response) == [
        "AAPL 2024-01-11 close 0.312 rejected: nothing is stored.",
        "AAPL 2024-01-12 close 312105.79: This quarantined bar was already decided "
        "(accepted (stored)).",
    ]
    pending.refresh_from_db()
    assert pending.status == "rejected"


def test_the_change_page_is_read_only(analyst, aapl):
    bar = QuarantinedBarFactory(asset=aapl)

    response = analyst.client.get(reverse("admin:market_quarantinedbar_change", args=[bar.pk]))

    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}  # every field is read-only
    assert (
        analyst.client.post(
            reverse("admin:market_quarantinedbar_change", args=[bar.pk]), {"close": "1"}
        ).status_code
        == 403
    )


def test_a_viewer_cannot_see_or_review_quarantined_bars(client, aapl):
    bar = QuarantinedBarFactory(asset=aapl)
    client.force_login(ViewerFactory(is_staff=True))

    response = client.get(reverse("admin:market_quarantinedbar_changelist"))

    assert response.status_code == 403
    assert (
        client.post(
            reverse("admin:market_quarantinedbar_changelist"),
            {"action": "accept_bars", "_selected_action": [bar.pk]},
        ).status_code
        == 403
    )
    bar.refresh_from_db()
    assert bar.status == "pending"


def test_the_refresh_run_list_shows_the_quarantined_count(analyst):
    RefreshRun.objects.create(
        status=RefreshRun.Status.PARTIAL, trigger=RefreshRun.Trigger.BEAT, bars_quarantined=2
    )

    response = analyst.client.get(reverse("admin:market_refreshrun_changelist"))

    assert response.status_code == 200
    assert "bars_quarantined" in response.context["cl"].list_display
    assert b'<td class="field-bars_quarantined">2</td>' in response.content
