"""Index writes in the admin go through ``portfolio.services.indexes``: the definition and its
many-to-many universe are audited as one diff and recorded in the history by the user."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db.models import F
from django.urls import reverse

from accounts.models import AuditEvent
from market.models import Asset
from portfolio.models import Index, IndexMembership
from tests.admin.helpers import (
    admin_form_data,
    audit_mark,
    event_target,
    events_since,
    history_page_rows,
    messages_of,
    stored_details,
    target_of,
)
from tests.portfolio.published import published_index_build

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:portfolio_index_changelist"
# The default index's universe (data migration), and the same without TSLA.
UNIVERSE = sorted(
    ["AAPL", "AMZN", "GLD", "GOOGL", "IEF", "META", "MSFT", "NVDA", "SLV", "TLT", "TSLA", "USO"]
)
WITHOUT_TSLA = [symbol for symbol in UNIVERSE if symbol != "TSLA"]


def _change_url(index: Index) -> str:
    return reverse("admin:portfolio_index_change", args=[index.pk])


@pytest.fixture
def autoindex() -> Index:
    """The index the data migration created, with no history yet."""
    index = Index.objects.get(slug="autoindex")
    assert sorted(index.universe.values_list("symbol", flat=True)) == UNIVERSE
    assert index.history.count() == 0
    return index


def _post_change(analyst, index: Index, *, drop: tuple[str, ...] = (), **changes: str):
    data = admin_form_data(analyst.client, _change_url(index))
    dropped = {str(pk) for pk in Asset.objects.filter(symbol__in=drop).values_list("pk", flat=True)}
    data["universe"] = [pk for pk in data["universe"] if pk not in dropped]
    response = analyst.client.post(_change_url(index), {**data, **changes})
    assert response.status_code == 302, response.context["adminform"].form.errors
    return response


def test_renaming_and_removing_an_asset_records_one_index_updated_with_both_diffs(
    analyst, autoindex
):
    mark = audit_mark()

    _post_change(analyst, autoindex, drop=("TSLA",), name="AutoIndex Renamed")

    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.INDEX_UPDATED, analyst.user)
    assert event_target(event) == ("portfolio.index", str(autoindex.pk), "AutoIndex Renamed")
    assert stored_details(event) == {
        "changes": {
            "name": {"old": "AutoIndex", "new": "AutoIndex Renamed"},
            "universe": {"old": UNIVERSE, "new": WITHOUT_TSLA},
        },
        # TSLA's open membership (from the data migration) went with it.
        "memberships": {"opened": [], "deleted": ["TSLA"]},
    }
    autoindex.refresh_from_db()
    assert autoindex.name == "AutoIndex Renamed"
    assert sorted(autoindex.universe.values_list("symbol", flat=True)) == WITHOUT_TSLA


def test_the_edit_is_recorded_in_the_index_history_by_the_user(analyst, autoindex):
    _post_change(analyst, autoindex, drop=("TSLA",), name="AutoIndex Renamed")

    baseline, *edits = autoindex.history.order_by("history_date", "history_id")
    assert edits, "the edit wrote no history record"
    assert {(record.history_type, record.history_user) for record in edits} == {("~", analyst.user)}
    newest = edits[-1]
    assert newest.name == "AutoIndex Renamed"
    assert sorted(row.asset.symbol for row in newest.universe.all()) == WITHOUT_TSLA
    assert baseline.name == "AutoIndex"


def test_history_page_shows_the_universe_change(analyst, autoindex):
    _post_change(analyst, autoindex, drop=("TSLA",), name="AutoIndex Renamed")

    response = analyst.client.get(reverse("admin:portfolio_index_history", args=[autoindex.pk]))

    assert response.status_code == 200
    newest = history_page_rows(response.content.decode())[0]
    assert newest["changed_by"] == "analyst@example.com"
    old, new = ", ".join(UNIVERSE), ", ".join(WITHOUT_TSLA)
    assert newest["changes"] == f"Universe: [{old}] → [{new}]"


def test_history_page_of_a_first_rename_lists_only_the_name(analyst, autoindex):
    _post_change(analyst, autoindex, name="AutoIndex Renamed")

    response = analyst.client.get(reverse("admin:portfolio_index_history", args=[autoindex.pk]))

    rows = history_page_rows(response.content.decode())
    assert [row["changes"] for row in rows] == ["Name: AutoIndex → AutoIndex Renamed", ""]


def test_saving_the_change_form_unchanged_records_no_event_and_no_history(analyst, autoindex):
    mark = audit_mark()

    _post_change(analyst, autoindex)

    assert events_since(mark) == []
    assert autoindex.history.count() == 0


def test_adding_an_index_records_index_created_with_its_fields_and_universe(analyst):
    add_url = reverse("admin:portfolio_index_add")
    members = Asset.objects.filter(symbol__in=["MSFT", "AAPL", "GLD"])
    data = admin_form_data(analyst.client, add_url)
    data.update(
        slug="trio",
        name="Trio",
        description="Three assets.",
        base_value="250.5",
        base_currency="EUR",
        benchmark=str(Asset.objects.get(symbol="SPY").pk),
        strategy=str(Index.objects.get(slug="autoindex").strategy_id),
        universe=[str(asset.pk) for asset in members],
    )
    mark = audit_mark()

    response = analyst.client.post(add_url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    index = Index.objects.get(slug="trio")
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.INDEX_CREATED, analyst.user)
    assert event_target(event) == target_of(index)
    assert stored_details(event) == {
        "fields": {
            "slug": "trio",
            "name": "Trio",
            "description": "Three assets.",
            "base_value": "250.5",
            "base_currency": "EUR",
            "benchmark": "SPY",
            "strategy": "default",
        },
        "universe": ["AAPL", "GLD", "MSFT"],
        "memberships": {"opened": ["AAPL", "GLD", "MSFT"]},
    }
    assert [
        (row.asset.symbol, row.start_date, row.end_date)
        for row in index.memberships.order_by("asset__symbol")
    ] == [("AAPL", None, None), ("GLD", None, None), ("MSFT", None, None)]
    assert {
        record.history_user for record in IndexMembership.history.filter(index_id=index.pk)
    } == {analyst.user}
    assert sorted(index.universe.values_list("symbol", flat=True)) == ["AAPL", "GLD", "MSFT"]
    assert {record.history_user for record in index.history.all()} == {analyst.user}


def test_adding_an_index_with_a_live_slug_shows_the_form_error_and_records_nothing(analyst):
    add_url = reverse("admin:portfolio_index_add")
    data = admin_form_data(analyst.client, add_url)
    data.update(
        slug="autoindex",
        name="Second AutoIndex",
        strategy=str(Index.objects.get(slug="autoindex").strategy_id),
        universe=[str(Asset.objects.get(symbol="AAPL").pk)],
    )
    mark = audit_mark()

    response = analyst.client.post(add_url, data)

    assert response.status_code == 200
    assert "A live index with this slug already exists." in response.content.decode()
    assert Index.objects.filter(slug="autoindex").count() == 1
    assert events_since(mark) == []


def test_soft_delete_action_records_index_deleted(superuser):
    index = published_index_build(slug="spare", publish=False, benchmark=False)
    mark = audit_mark()

    response = superuser.client.post(
        reverse(CHANGELIST),
        {"action": "soft_delete_selected", "_selected_action": [index.pk]},
        follow=True,
    )

    assert messages_of(response) == ["Soft-deleted 1 row(s)."]
    stored = Index.all_objects.get(pk=index.pk)
    assert stored.deleted_at is not None
    assert [(e.action, e.actor, event_target(e)) for e in events_since(mark)] == [
        (AuditEvent.Action.INDEX_DELETED, superuser.user, target_of(stored))
    ]
    assert stored.history.latest().history_user == superuser.user


def test_restore_action_records_index_restored(superuser):
    index = published_index_build(slug="spare", publish=False, benchmark=False)
    index.delete()
    mark = audit_mark()

    response = superuser.client.post(
        reverse(CHANGELIST) + "?deleted=deleted",
        {"action": "restore_selected", "_selected_action": [index.pk]},
        follow=True,
    )

    assert messages_of(response) == ["Restored 1 row(s)."]
    assert Index.objects.filter(pk=index.pk).exists()
    assert [(e.action, e.actor, event_target(e)) for e in events_since(mark)] == [
        (AuditEvent.Action.INDEX_RESTORED, superuser.user, target_of(index))
    ]
    assert index.history.latest().history_user == superuser.user


# MEMBERSHIPS (the inline of dated memberships)


def _membership_prefix(data: dict, symbol: str) -> str:
    """The inline form prefix (``memberships-<n>``) of ``symbol``'s row on the page."""
    asset_pk = str(Asset.objects.get(symbol=symbol).pk)
    total = int(data["memberships-TOTAL_FORMS"])
    [prefix] = [
        f"memberships-{number}"
        for number in range(total)
        if data[f"memberships-{number}-asset"] == asset_pk
    ]
    return prefix


def _post_memberships(analyst, index: Index, edit) -> Any:
    data = admin_form_data(analyst.client, _change_url(index))
    edit(data)
    return analyst.client.post(_change_url(index), data)


def _windows(index: Index, symbol: str) -> list[tuple]:
    return list(
        index.memberships.filter(asset__symbol=symbol)
        .order_by(F("start_date").asc(nulls_first=True))
        .values_list("start_date", "end_date")
    )


def test_editing_a_membership_window_is_saved_audited_and_in_the_history(analyst, autoindex):
    before = autoindex.updated_at
    mark = audit_mark()

    def nvda_from_2016(data):
        data[f"{_membership_prefix(data, 'NVDA')}-start_date"] = "2016-01-04"

    response = _post_memberships(analyst, autoindex, nvda_from_2016)

    assert response.status_code == 302
    assert _windows(autoindex, "NVDA") == [(datetime.date(2016, 1, 4), None)]
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.INDEX_UPDATED, analyst.user)
    assert stored_details(event) == {
        "memberships": {
            "saved": [{"asset": "NVDA", "start_date": "2016-01-04", "end_date": None}],
            "deleted": [],
        }
    }
    record = IndexMembership.history.filter(asset__symbol="NVDA").latest()
    assert (record.history_type, record.history_user, record.start_date) == (
        "~",
        analyst.user,
        datetime.date(2016, 1, 4),
    )
    autoindex.refresh_from_db()
    assert autoindex.updated_at > before  # due for a recompute


def test_a_second_window_of_the_same_asset_is_added_when_it_does_not_overlap(analyst, autoindex):
    def tsla_out_in_2022_then_back(data):
        prefix = _membership_prefix(data, "TSLA")
        data[f"{prefix}-end_date"] = "2021-12-31"
        extra = int(data["memberships-TOTAL_FORMS"])
        data["memberships-TOTAL_FORMS"] = str(extra + 1)
        data[f"memberships-{extra}-asset"] = data[f"{prefix}-asset"]
        data[f"memberships-{extra}-start_date"] = "2023-01-02"
        data[f"memberships-{extra}-end_date"] = ""

    response = _post_memberships(analyst, autoindex, tsla_out_in_2022_then_back)

    assert response.status_code == 302
    assert _windows(autoindex, "TSLA") == [
        (None, datetime.date(2021, 12, 31)),
        (datetime.date(2023, 1, 2), None),
    ]


def test_overlapping_windows_of_one_asset_are_a_form_error_and_save_nothing(analyst, autoindex):
    mark = audit_mark()

    def tsla_twice(data):
        prefix = _membership_prefix(data, "TSLA")
        data[f"{prefix}-end_date"] = "2022-06-30"
        extra = int(data["memberships-TOTAL_FORMS"])
        data["memberships-TOTAL_FORMS"] = str(extra + 1)
        data[f"memberships-{extra}-asset"] = data[f"{prefix}-asset"]
        data[f"memberships-{extra}-start_date"] = "2022-01-03"

    response = _post_memberships(analyst, autoindex, tsla_twice)

    assert response.status_code == 200
    assert "TSLA: membership windows overlap from 2022-01-03 to 2022-06-30." in (
        response.content.decode()
    )
    assert _windows(autoindex, "TSLA") == [(None, None)]
    assert events_since(mark) == []


def test_a_window_ending_before_it_starts_is_a_form_error(analyst, autoindex):
    def backwards(data):
        prefix = _membership_prefix(data, "AAPL")
        data[f"{prefix}-start_date"] = "2020-01-02"
        data[f"{prefix}-end_date"] = "2019-12-31"

    response = _post_memberships(analyst, autoindex, backwards)

    assert response.status_code == 200
    assert "A membership cannot end before it starts." in response.content.decode()
    assert _windows(autoindex, "AAPL") == [(None, None)]


def test_adding_an_asset_to_the_universe_opens_a_membership(analyst, autoindex):
    spy = Asset.objects.get(symbol="SPY")
    data = admin_form_data(analyst.client, _change_url(autoindex))
    data["universe"] = [*data["universe"], str(spy.pk)]

    response = analyst.client.post(_change_url(autoindex), data)

    assert response.status_code == 302
    assert _windows(autoindex, "SPY") == [(None, None)]
    assert IndexMembership.history.filter(asset=spy).get().history_user == analyst.user


def test_the_change_page_with_its_memberships_is_a_fixed_number_of_queries(
    analyst, autoindex, django_assert_max_num_queries
):
    with django_assert_max_num_queries(40):
        response = analyst.client.get(_change_url(autoindex))

    assert response.status_code == 200
    assert response.context["inline_admin_formsets"][0].formset.total_form_count() == 12
