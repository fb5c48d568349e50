"""Asset writes in the admin go through the market services: each one is audited (actor, target,
diff) and recorded in the asset's history by the user who made it."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from core.history import BASELINE_REASON
from market.models import Asset, DataSource, MarketCap, Split
from tests.admin.helpers import (
    admin_form_data,
    audit_mark,
    changed_fields,
    event_target,
    events_since,
    history_page_rows,
    messages_of,
    stored_details,
    target_of,
)
from tests.factories import AssetFactory, PriceFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:market_asset_changelist"


def _change_url(asset: Asset) -> str:
    return reverse("admin:market_asset_change", args=[asset.pk])


def _edit_aapl(analyst, **changes: str) -> Asset:
    """Post AAPL's change form (migration-created, never edited) with ``changes``."""
    aapl = Asset.objects.get(symbol="AAPL")
    data = admin_form_data(analyst.client, _change_url(aapl))
    data.update(changes)
    response = analyst.client.post(_change_url(aapl), data, HTTP_X_REQUEST_ID="req-asset-edit-01")
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert response["Location"] == reverse(CHANGELIST)
    return aapl


def test_changing_market_cap_and_sector_records_one_asset_updated_event_with_the_diff(analyst):
    mark = audit_mark()

    aapl = _edit_aapl(analyst, exchange="XNAS", sector="Semiconductors")

    [event] = events_since(mark)
    assert event.action == AuditEvent.Action.ASSET_UPDATED
    assert (event.actor, event.actor_email) == (analyst.user, "analyst@example.com")
    assert event_target(event) == ("market.asset", str(aapl.pk), "AAPL")
    assert (event.request_id, event.ip) == ("req-asset-edit-01", "127.0.0.1")
    assert stored_details(event) == {
        "changes": {
            "exchange": {"old": "NASDAQ", "new": "XNAS"},
            "sector": {"old": "Technology", "new": "Semiconductors"},
        }
    }
    aapl.refresh_from_db()
    assert (aapl.exchange, aapl.sector) == ("XNAS", "Semiconductors")


def test_changing_an_asset_records_a_history_entry_by_the_user_listing_the_changed_fields(
    analyst,
):
    aapl = _edit_aapl(analyst, exchange="XNAS", sector="Semiconductors")

    newest = aapl.history.latest()
    assert newest.history_type == "~"
    assert newest.history_user == analyst.user
    assert (newest.exchange, newest.sector) == ("XNAS", "Semiconductors")
    assert changed_fields(newest) == ["exchange", "sector"]
    diff = newest.diff_against(newest.prev_record)
    assert sorted((c.field, c.old, c.new) for c in diff.changes) == [
        ("exchange", "NASDAQ", "XNAS"),
        ("sector", "Technology", "Semiconductors"),
    ]


def test_history_page_shows_the_change_in_its_changes_column(analyst):
    aapl = _edit_aapl(analyst, exchange="XNAS", sector="Semiconductors")

    response = analyst.client.get(reverse("admin:market_asset_history", args=[aapl.pk]))

    assert response.status_code == 200
    newest = history_page_rows(response.content.decode())[0]
    assert (newest["comment"], newest["changed_by"]) == ("Changed", "analyst@example.com")
    assert newest["changes"] == ("Exchange: NASDAQ → XNAS Sector: Technology → Semiconductors")


def test_saving_the_change_form_unchanged_records_no_event_and_no_history(analyst):
    asset = AssetFactory()
    MarketCap.objects.create(asset=asset, as_of=datetime.date(2024, 1, 2), value=Decimal("1234.50"))
    history_before = asset.history.count()
    mark = audit_mark()

    response = analyst.client.post(
        _change_url(asset), admin_form_data(analyst.client, _change_url(asset))
    )

    assert response.status_code == 302
    assert events_since(mark) == []
    assert asset.history.count() == history_before


def test_symbol_is_read_only_on_the_change_form(analyst):
    asset = AssetFactory(symbol="KEEP")
    response = analyst.client.get(_change_url(asset))

    form = response.context["adminform"].form
    assert "symbol" not in form.fields
    assert "symbol" in response.context["adminform"].readonly_fields


def test_a_posted_symbol_is_ignored_and_only_the_real_change_is_recorded(analyst):
    asset = AssetFactory(symbol="KEEP", name="Keep Inc.")
    data = admin_form_data(analyst.client, _change_url(asset))
    mark = audit_mark()

    analyst.client.post(_change_url(asset), {**data, "symbol": "OTHER", "name": "Kept Inc."})

    asset.refresh_from_db()
    assert (asset.symbol, asset.name) == ("KEEP", "Kept Inc.")
    [event] = events_since(mark)
    assert stored_details(event) == {"changes": {"name": {"old": "Keep Inc.", "new": "Kept Inc."}}}


def test_adding_an_asset_records_asset_created_and_a_creation_by_the_user(analyst):
    add_url = reverse("admin:market_asset_add")
    data = admin_form_data(analyst.client, add_url)
    data.update(
        symbol="NEWCO",
        name="New Co",
        asset_class="equity",
        sector="Energy",
        currency="EUR",
        exchange="XETRA",
    )
    mark = audit_mark()

    response = analyst.client.post(add_url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    asset = Asset.objects.get(symbol="NEWCO")
    [event] = events_since(mark)
    assert event.action == AuditEvent.Action.ASSET_CREATED
    assert event.actor == analyst.user
    assert event_target(event) == ("market.asset", str(asset.pk), "NEWCO")
    assert stored_details(event) == {
        "fields": {
            "symbol": "NEWCO",
            "name": "New Co",
            "sector": "Energy",
            "asset_class": "equity",
            "currency": "EUR",
            "exchange": "XETRA",
            "market_cap": None,
            "is_active": True,
        }
    }
    [created] = asset.history.all()
    assert (created.history_type, created.history_user) == ("+", analyst.user)


def test_adding_a_live_symbol_again_shows_the_form_error_and_records_nothing(analyst):
    AssetFactory(symbol="TAKEN")
    add_url = reverse("admin:market_asset_add")
    data = {**admin_form_data(analyst.client, add_url), "symbol": "TAKEN", "asset_class": "etf"}
    mark = audit_mark()

    response = analyst.client.post(add_url, data)

    assert response.status_code == 200
    assert "A live asset with this symbol already exists." in response.content.decode()
    assert Asset.objects.filter(symbol="TAKEN").count() == 1
    assert events_since(mark) == []


def test_deleting_from_the_change_page_soft_deletes_and_records_asset_deleted(analyst):
    asset = AssetFactory(symbol="GONE")
    mark = audit_mark()

    response = analyst.client.post(
        reverse("admin:market_asset_delete", args=[asset.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    stored = Asset.all_objects.get(pk=asset.pk)
    assert stored.deleted_at is not None
    assert not Asset.objects.filter(pk=asset.pk).exists()
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.ASSET_DELETED, analyst.user)
    assert event_target(event) == target_of(stored)
    newest = stored.history.latest()
    assert (newest.history_user, newest.deleted_at) == (analyst.user, stored.deleted_at)


def test_deleting_an_asset_that_has_prices_from_the_change_page_soft_deletes_it(analyst):
    asset = AssetFactory(symbol="PRICED")
    PriceFactory(asset=asset)
    mark = audit_mark()

    response = analyst.client.post(
        reverse("admin:market_asset_delete", args=[asset.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert Asset.all_objects.get(pk=asset.pk).deleted_at is not None
    assert [event.action for event in events_since(mark)] == [AuditEvent.Action.ASSET_DELETED]


def test_soft_delete_action_records_one_asset_deleted_event_per_row(analyst):
    first, second = AssetFactory(symbol="DEL1"), AssetFactory(symbol="DEL2")
    mark = audit_mark()

    response = analyst.client.post(
        reverse(CHANGELIST),
        {"action": "soft_delete_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert messages_of(response) == ["Soft-deleted 2 row(s)."]
    assert Asset.all_objects.filter(pk__in=[first.pk, second.pk], deleted_at=None).count() == 0
    recorded = events_since(mark)
    assert [(e.action, e.actor) for e in recorded] == [
        (AuditEvent.Action.ASSET_DELETED, analyst.user)
    ] * 2
    assert sorted(event_target(e) for e in recorded) == [target_of(first), target_of(second)]


def test_restore_action_records_one_asset_restored_event_per_row(analyst):
    first, second = AssetFactory(symbol="RES1"), AssetFactory(symbol="RES2")
    first.delete()
    second.delete()
    mark = audit_mark()

    response = analyst.client.post(
        reverse(CHANGELIST) + "?deleted=deleted",
        {"action": "restore_selected", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )

    assert messages_of(response) == ["Restored 2 row(s)."]
    assert Asset.objects.filter(pk__in=[first.pk, second.pk]).count() == 2
    recorded = events_since(mark)
    assert [(e.action, e.actor) for e in recorded] == [
        (AuditEvent.Action.ASSET_RESTORED, analyst.user)
    ] * 2
    assert sorted(event_target(e) for e in recorded) == [target_of(first), target_of(second)]
    assert first.history.latest().history_user == analyst.user


def test_restoring_an_asset_whose_symbol_is_live_again_shows_an_error_and_records_nothing(
    analyst,
):
    deleted = AssetFactory(symbol="DUP")
    deleted.delete()
    AssetFactory(symbol="DUP")
    history_before = deleted.history.count()
    mark = audit_mark()

    response = analyst.client.post(
        reverse(CHANGELIST) + "?deleted=deleted",
        {"action": "restore_selected", "_selected_action": [deleted.pk]},
        follow=True,
    )

    assert messages_of(response) == [
        "Restored 0 row(s).",
        "DUP: A live asset with this symbol already exists.",
    ]
    assert Asset.all_objects.get(pk=deleted.pk).deleted_at is not None
    assert events_since(mark) == []
    assert deleted.history.count() == history_before


def test_a_first_edit_of_a_never_edited_asset_keeps_its_stored_state_as_a_baseline(analyst):
    aapl = Asset.objects.get(symbol="AAPL")
    assert aapl.history.count() == 0  # created by the data migration, without history

    _edit_aapl(analyst, exchange="XNAS")

    baseline, edit = aapl.history.order_by("history_date", "history_id")
    assert baseline.history_change_reason == BASELINE_REASON
    assert (baseline.exchange, baseline.sector) == ("NASDAQ", "Technology")
    assert edit.prev_record == baseline
    assert changed_fields(edit) == ["exchange"]


def test_the_baseline_record_names_no_author(analyst):
    aapl = _edit_aapl(analyst, exchange="XNAS")

    baseline = aapl.history.earliest()

    assert baseline.history_user is None


def test_an_analyst_adds_a_market_cap_and_a_split_inline_as_the_analysts_rows(analyst):
    aapl = Asset.objects.get(symbol="AAPL")
    data = admin_form_data(analyst.client, _change_url(aapl))
    data.update(
        {
            "market_caps-TOTAL_FORMS": "1",
            "market_caps-0-as_of": "2024-01-02",
            "market_caps-0-value": "3000000000000.50",
            "splits-TOTAL_FORMS": "1",
            "splits-0-effective_date": "2020-08-31",
            "splits-0-from_factor": "4",
            "splits-0-to_factor": "1",
        }
    )

    response = analyst.client.post(_change_url(aapl), data)

    assert response.status_code == 302
    [cap] = MarketCap.objects.filter(asset=aapl)
    assert (cap.as_of, cap.value, cap.source) == (
        datetime.date(2024, 1, 2),
        Decimal("3000000000000.50"),
        DataSource.ANALYST,
    )
    [split] = Split.objects.filter(asset=aapl)
    assert (split.share_multiplier, split.source) == (4.0, DataSource.ANALYST)
    assert split.history.get().history_user == analyst.user


def test_an_inline_market_cap_needs_its_date(analyst):
    aapl = Asset.objects.get(symbol="AAPL")
    data = admin_form_data(analyst.client, _change_url(aapl))
    data.update({"market_caps-TOTAL_FORMS": "1", "market_caps-0-value": "10"})

    response = analyst.client.post(_change_url(aapl), data)

    assert response.status_code == 200
    assert not MarketCap.objects.filter(asset=aapl).exists()
