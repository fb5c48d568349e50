"""Strategy configurations (analysts): read, replace, change (validated, audited)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts.models import AuditEvent
from accounts.permissions import IsAnalyst
from accounts.services import audit_from_request
from strategy.models import StrategyConfig
from strategy.services import strategy_update

from ..serializers import StrategyInputSerializer, StrategyOutputSerializer


def _jsonable(diff: dict[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    return {field: {"old": old, "new": new} for field, (old, new) in diff.items()}


_STRATEGY_ID = OpenApiParameter(
    "id",
    int,
    OpenApiParameter.PATH,
    description="Strategy id (`strategy` of an index).",
    examples=[OpenApiExample("default strategy", value=1)],
)
_STRATEGY_CHANGE_NOTE = (
    "Validated like the admin (the engine's own rules: component weights sum to 1, "
    "min_weight < max_weight, …); 400 with field errors otherwise. Audited. Takes effect at "
    "the next computation; published runs keep their config snapshot."
)


@extend_schema_view(
    put=extend_schema(
        tags=["strategies"],
        summary="Replace a strategy's settings (analyst)",
        description=_STRATEGY_CHANGE_NOTE,
        request=StrategyInputSerializer,
        responses={200: StrategyOutputSerializer},
    ),
    patch=extend_schema(
        tags=["strategies"],
        summary="Change some of a strategy's settings (analyst)",
        description=_STRATEGY_CHANGE_NOTE,
        request=StrategyInputSerializer(partial=True),
        responses={200: StrategyOutputSerializer},
        examples=[
            OpenApiExample("monthly", value={"rebalance_frequency": "monthly"}, request_only=True)
        ],
    ),
)
@extend_schema(parameters=[_STRATEGY_ID])
class StrategyDetailView(APIView):
    permission_classes = [IsAnalyst]
    http_method_names = ["get", "put", "patch", "options", "head"]

    @extend_schema(
        tags=["strategies"],
        summary="One strategy configuration (analyst)",
        responses={200: StrategyOutputSerializer},
    )
    def get(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        return Response(StrategyOutputSerializer(_strategy(pk)).data)

    def put(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        return self._change(request, pk, partial=False)

    def patch(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        return self._change(request, pk, partial=True)

    def _change(self, request: Request, strategy_id: int, *, partial: bool) -> Response:
        _strategy(strategy_id)  # 404 before validating the body
        data = StrategyInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            strategy, diff = _call_or_404(
                lambda: strategy_update(
                    strategy_id=strategy_id, changes=dict(data.validated_data), actor=request.user
                )
            )
            if diff:
                audit_from_request(
                    request,
                    action=AuditEvent.Action.STRATEGY_CHANGED,
                    target=strategy,
                    details={"changes": _jsonable(diff)},
                )
        return Response(StrategyOutputSerializer(strategy).data)


def _strategy(strategy_id: int) -> StrategyConfig:
    return _call_or_404(lambda: StrategyConfig.objects.get(pk=strategy_id))


def _call_or_404(load: Callable[[], Any]) -> Any:
    """Run a strategy read or write: unknown id → 404, invalid values → 400 field errors."""
    try:
        return load()
    except StrategyConfig.DoesNotExist:
        raise Http404("No live strategy with this id.") from None
    except DjangoValidationError as error:
        errors = dict(error.message_dict)
        if NON_FIELD_ERRORS in errors:  # rules across fields, e.g. weights summing to 1
            errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
        raise serializers.ValidationError(errors) from None
