"""Change a strategy configuration from the API.

NOTE (coordination): the strategy app has no ``services.py`` yet; when it gets one, move
:func:`strategy_update` there unchanged (the view already calls it like a service).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from rest_framework import serializers
from rest_framework.settings import api_settings

from strategy.models import StrategyConfig


@transaction.atomic
def strategy_update(
    *, strategy_id: int, changes: dict[str, Any], actor: Any = None
) -> tuple[StrategyConfig, dict[str, tuple[Any, Any]]]:
    """Apply ``changes`` to the live strategy, validated like the admin; return it and the diff.

    The row is locked for the read-modify-write, so two concurrent edits serialise. Raises
    ``StrategyConfig.DoesNotExist`` and DRF ``ValidationError`` (field errors, plus
    ``non_field_errors`` for rules across fields, e.g. weights not summing to 1). An unchanged
    request saves nothing and returns an empty diff. The change takes effect at the next
    computation; published runs keep the snapshot they were computed with.
    """
    strategy = StrategyConfig.objects.select_for_update().get(pk=strategy_id)
    diff = {
        name: (getattr(strategy, name), value)
        for name, value in changes.items()
        if getattr(strategy, name) != value
    }
    if not diff:
        return strategy, {}
    for name, (_old, new) in diff.items():
        setattr(strategy, name, new)
    try:
        strategy.full_clean()
    except DjangoValidationError as error:
        errors = dict(error.message_dict)
        if NON_FIELD_ERRORS in errors:
            errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
        raise serializers.ValidationError(errors) from None
    # simple_history records who made the change (the JWT user is not on the Django request).
    strategy._history_user = actor if getattr(actor, "is_authenticated", False) else None
    strategy.save(update_fields=[*diff, "updated_at"])
    return strategy, diff
