"""Whole-run series of the published run, each in one request: the allocation history and the
drawdowns (``portfolio.selectors_series`` has the formulas).

Like the other published reads (``indexes.py``): the published run is resolved once (its
cached pointer), the body is read by that run's id, rendered once and cached by run through
:mod:`portfolio.api.conditional` (ETag / Last-Modified, 304). Numbers are the same fixed-place
strings as everywhere (``core.decimal_format.fixed_places``): weights and ratios 6 places.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema_view
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.permissions import IsViewer
from core.decimal_format import FixedDecimalField, fixed_places
from portfolio.api.conditional import published_read_response
from portfolio.api.openapi import INDEX_ALLOCATION_HISTORY_GET, INDEX_DRAWDOWN_GET
from portfolio.api.serializers import (
    MAX_DIGITS,
    RATIO_DECIMAL_PLACES,
    WEIGHT_DECIMAL_PLACES,
    DateWindowQuerySerializer,
    SeriesQuerySerializer,
)
from portfolio.cache import PublishedRead
from portfolio.selectors_series import (
    allocation_history_of_run,
    drawdown_series,
    run_level_series,
)

from .common import canonical_query, kind_available_or_409, pointer_or_404, valid_query

_WEIGHT_FIELD = FixedDecimalField(max_digits=MAX_DIGITS, decimal_places=WEIGHT_DECIMAL_PLACES)
_RATIO_FIELD = FixedDecimalField(max_digits=MAX_DIGITS, decimal_places=RATIO_DECIMAL_PLACES)


def _weights(values: list[float]) -> list[str]:
    return [fixed_places(value, WEIGHT_DECIMAL_PLACES, _WEIGHT_FIELD) for value in values]


def _ratios(values: list[float]) -> list[str]:
    return [fixed_places(value, RATIO_DECIMAL_PLACES, _RATIO_FIELD) for value in values]


@extend_schema_view(get=INDEX_ALLOCATION_HISTORY_GET)
class IndexAllocationHistoryView(APIView):
    permission_classes = [IsViewer]

    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        params = valid_query(request, DateWindowQuerySerializer)
        pointer = pointer_or_404(slug)
        read = PublishedRead(
            endpoint="allocation-history", pointer=pointer, params=canonical_query(params, request)
        )
        run_id = pointer.run_id

        def build() -> dict[str, Any]:
            body: dict[str, Any] = {
                "index": pointer.slug,
                "run_id": run_id,
                "dates": [],
                "symbols": [],
                "sectors": [],
                "weights": [],
            }
            if run_id is None:
                return body
            history = allocation_history_of_run(run_id=run_id).window(
                start=params.get("start"), end=params.get("end")
            )
            return {
                **body,
                "dates": [day.isoformat() for day in history.dates],
                "symbols": history.symbols,
                "sectors": history.sectors,
                "weights": [_weights(row) for row in history.weights.tolist()],
            }

        return published_read_response(request, read, build)


@extend_schema_view(get=INDEX_DRAWDOWN_GET)
class IndexDrawdownView(APIView):
    permission_classes = [IsViewer]

    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        params = valid_query(request, SeriesQuerySerializer)
        pointer = pointer_or_404(slug)
        kind_available_or_409(pointer, params["kind"])
        read = PublishedRead(
            endpoint="drawdown", pointer=pointer, params=canonical_query(params, request)
        )
        run_id = pointer.run_id

        def build() -> dict[str, Any]:
            body: dict[str, Any] = {
                "index": pointer.slug,
                "run_id": run_id,
                "kind": params["kind"],
                "dates": [],
                "drawdowns": [],
                "max_drawdown": None,
            }
            if run_id is None:
                return body
            series = run_level_series(run_id=run_id, kind=params["kind"])
            drawdowns = drawdown_series(series.levels)
            days = series.dates.astype("datetime64[D]")
            keep = np.ones(len(days), dtype=bool)
            if params.get("start") is not None:
                keep &= days >= np.datetime64(params["start"], "D")
            if params.get("end") is not None:
                keep &= days <= np.datetime64(params["end"], "D")
            shown = drawdowns[keep]
            return {
                **body,
                "dates": [str(day) for day in days[keep]],
                "drawdowns": _ratios(shown.tolist()),
                "max_drawdown": _ratios([float(shown.min())])[0] if len(shown) else None,
            }

        return published_read_response(request, read, build)
