"""Strategy writes in the admin go through ``strategy.services``: validated like the engine,
audited with the diff, and recorded in the history by the user who made them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from core.history import BASELINE_REASON
from strategy.models import StrategyConfig
from tests.admin.factories import StrategyConfigFactory
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

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:strategy_strategyconfig_changelist"


def _change_url(strategy: StrategyConfig) -> str:
    return reverse("admin:strategy_strategyconfig_change", args=[strategy.pk])


@pytest.fixture
def default_strategy() -> StrategyConfig:
    """The strategy the data migration created: weekly rebalancing, and no history at all."""
    strategy = StrategyConfig.objects.get(name="default")
    assert (strategy.rebalance_frequency, strategy.history.count()) == ("weekly", 0)
    return strategy


def _post_change(analyst, strategy: StrategyConfig, **changes: str):
    data = admin_form_data(analyst.client, _change_url(strategy))
    return analyst.client.post(_change_url(strategy), {**data, **changes})


def test_changing_the_rebalance_frequency_records_strategy_changed_with_the_diff(
    analyst, default_strategy
):
    mark = audit_mark()

    response = _post_change(analyst, default_strategy, rebalance_frequency="monthly")

    assert response.status_code == 302, response.context["adminform"].form.errors
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.STRATEGY_CHANGED, analyst.user)
    assert event_target(event) == ("strategy.strategyconfig", str(default_strategy.pk), "default")
    assert stored_details(event) == {
        "changes": {"rebalance_frequency": {"old": "weekly", "new": "monthly"}}
    }
    default_strategy.refresh_from_db()
    assert default_strategy.rebalance_frequency == "monthly"


def test_changing_the_default_strategy_records_a_history_entry_listing_the_field(
    analyst, default_strategy
):
    _post_change(analyst, default_strategy, rebalance_frequency="monthly")

    baseline, edit = default_strategy.history.order_by("history_date", "history_id")
    assert (baseline.history_change_reason, baseline.rebalance_frequency) == (
        BASELINE_REASON,
        "weekly",
    )
    assert (edit.history_type, edit.history_user) == ("~", analyst.user)
    assert edit.rebalance_frequency == "monthly"
    assert changed_fields(edit) == ["rebalance_frequency"]


def test_history_page_of_the_default_strategy_shows_the_change(analyst, default_strategy):
    _post_change(analyst, default_strategy, rebalance_frequency="monthly")

    response = analyst.client.get(
        reverse("admin:strategy_strategyconfig_history", args=[default_strategy.pk])
    )

    assert response.status_code == 200
    rows = history_page_rows(response.content.decode())
    assert [(row["comment"], row["changes"]) for row in rows] == [
        ("Changed", "Rebalance frequency: weekly → monthly"),
        ("Created", ""),  # the baseline: the stored state before the first recorded change
    ]
    assert rows[0]["changed_by"] == "analyst@example.com"


def test_weights_not_summing_to_one_show_the_form_error_and_record_nothing(
    analyst, default_strategy
):
    mark = audit_mark()

    response = _post_change(analyst, default_strategy, momentum_weight="0.9")

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "__all__": [
            "momentum_weight + market_cap_weight + risk_parity_weight must sum to 1, got 1.5",
            "Component weights must sum to 1.",
        ]
    }
    default_strategy.refresh_from_db()
    assert default_strategy.momentum_weight == 0.4
    assert events_since(mark) == []
    assert default_strategy.history.count() == 0


def test_saving_the_change_form_unchanged_records_no_event_and_no_history(
    analyst, default_strategy
):
    mark = audit_mark()

    response = _post_change(analyst, default_strategy)

    assert response.status_code == 302
    assert events_since(mark) == []
    assert default_strategy.history.count() == 0


def test_adding_a_strategy_records_strategy_created_with_its_fields(analyst):
    add_url = reverse("admin:strategy_strategyconfig_add")
    data = admin_form_data(analyst.client, add_url)
    data.update(name="monthly-capped", description="Monthly, capped at 35 %.")
    data.update(rebalance_frequency="monthly", max_weight="0.35")
    mark = audit_mark()

    response = analyst.client.post(add_url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    strategy = StrategyConfig.objects.get(name="monthly-capped")
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.STRATEGY_CREATED, analyst.user)
    assert event_target(event) == target_of(strategy)
    assert stored_details(event) == {
        "fields": {
            "name": "monthly-capped",
            "description": "Monthly, capped at 35 %.",
            "momentum_weight": 0.4,
            "market_cap_weight": 0.3,
            "risk_parity_weight": 0.3,
            "momentum_lookback": 20,
            "volatility_lookback": 60,
            "momentum_threshold": 0.0,
            "outlier_std_threshold": 3.0,
            "min_price": 1.0,
            "max_forward_fill_days": 5,
            "min_daily_return": -0.5,
            "max_daily_return": 0.5,
            "min_weight": 0.01,
            "max_weight": 0.35,
            "min_assets": 3,
            "min_coverage": 0.8,
            "rebalance_frequency": "monthly",
            "transaction_cost_bps": 10.0,
            "risk_free_rate": 0.0,
        }
    }
    [created] = strategy.history.all()
    assert (created.history_type, created.history_user) == ("+", analyst.user)


def test_deleting_from_the_change_page_soft_deletes_and_records_strategy_deleted(analyst):
    strategy = StrategyConfigFactory(name="unused")
    mark = audit_mark()

    response = analyst.client.post(
        reverse("admin:strategy_strategyconfig_delete", args=[strategy.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    stored = StrategyConfig.all_objects.get(pk=strategy.pk)
    assert stored.deleted_at is not None
    [event] = events_since(mark)
    assert (event.action, event.actor) == (AuditEvent.Action.STRATEGY_DELETED, analyst.user)
    assert event_target(event) == target_of(stored)
    assert stored.history.latest().history_user == analyst.user


def test_soft_delete_action_records_strategy_deleted(analyst):
    strategy = StrategyConfigFactory(name="unused")
    mark = audit_mark()

    response = analyst.client.post(
        reverse(CHANGELIST),
        {"action": "soft_delete_selected", "_selected_action": [strategy.pk]},
        follow=True,
    )

    assert messages_of(response) == ["Soft-deleted 1 row(s)."]
    assert StrategyConfig.all_objects.get(pk=strategy.pk).deleted_at is not None
    assert [(e.action, e.actor, event_target(e)) for e in events_since(mark)] == [
        (AuditEvent.Action.STRATEGY_DELETED, analyst.user, target_of(strategy))
    ]


def test_restore_action_records_strategy_restored(analyst):
    strategy = StrategyConfigFactory(name="unused")
    strategy.delete()
    mark = audit_mark()

    response = analyst.client.post(
        reverse(CHANGELIST) + "?deleted=deleted",
        {"action": "restore_selected", "_selected_action": [strategy.pk]},
        follow=True,
    )

    assert messages_of(response) == ["Restored 1 row(s)."]
    assert StrategyConfig.objects.filter(pk=strategy.pk).exists()
    assert [(e.action, e.actor, event_target(e)) for e in events_since(mark)] == [
        (AuditEvent.Action.STRATEGY_RESTORED, analyst.user, target_of(strategy))
    ]
    assert strategy.history.latest().history_user == analyst.user
