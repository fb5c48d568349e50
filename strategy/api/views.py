"""Strategy configurations (analysts): read, replace, change.

Thin: the body is validated by :class:`StrategyInputSerializer`, the change is made (validated
like the admin, and audited) by :func:`strategy.services.strategy_update`, whose Django
``ValidationError`` reaches ``core.errors`` and becomes a 400 with field errors.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnalyst
from strategy.models import StrategyConfig
from strategy.services import strategy_update

from .schema import strategy_detail_schema
from .serializers import StrategyInputSerializer, StrategyOutputSerializer


@strategy_detail_schema
class StrategyDetailView(APIView):
    permission_classes = [IsAnalyst]
    http_method_names = ["get", "put", "patch", "options", "head"]

    def get(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        return Response(StrategyOutputSerializer(_live_strategy(pk)).data)

    def put(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        return self._change(request, pk, partial=False)

    def patch(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        return self._change(request, pk, partial=True)

    def _change(self, request: Request, strategy_id: int, *, partial: bool) -> Response:
        _live_strategy(strategy_id)  # 404 before validating the body
        data = StrategyInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        try:
            strategy, _diff = strategy_update(
                strategy_id=strategy_id, changes=dict(data.validated_data), actor=request.user
            )
        except StrategyConfig.DoesNotExist:  # deleted since the check above
            raise _not_found() from None
        return Response(StrategyOutputSerializer(strategy).data)


def _live_strategy(strategy_id: int) -> StrategyConfig:
    """The strategy, unless it is unknown or soft-deleted (then 404)."""
    try:
        return StrategyConfig.objects.get(pk=strategy_id)
    except StrategyConfig.DoesNotExist:
        raise _not_found() from None


def _not_found() -> Http404:
    return Http404("No live strategy with this id.")
