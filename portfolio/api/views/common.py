"""Helpers of the index views: index lookups and validated query parameters."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework.request import Request

from portfolio.models import Index
from portfolio.selectors import PublishedPointer, index_get_live, published_pointer_get


def pointer_or_404(slug: str) -> PublishedPointer:
    try:
        return published_pointer_get(slug=slug)
    except Index.DoesNotExist:
        raise Http404("No live index with this slug.") from None


def live_index_or_404(slug: str) -> Index:
    try:
        return index_get_live(slug=slug)
    except Index.DoesNotExist:
        raise Http404("No live index with this slug.") from None


def valid_query(request: Request, serializer_class: type[Any]) -> dict[str, Any]:
    """Validated query parameters (400 with field errors otherwise)."""
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


def canonical_query(params: dict[str, Any], request: Request, *paging: str) -> dict[str, str]:
    """The cache identity of a query: validated values plus the raw paging parameters."""
    canonical = {name: str(value) for name, value in params.items() if value is not None}
    canonical.update(
        {name: request.query_params[name] for name in paging if name in request.query_params}
    )
    return canonical
