"""Helpers of the index views: index lookups and validated query parameters."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, CursorPagination, PageNumberPagination
from rest_framework.request import Request

from core.errors import ConflictError, ErrorCode
from portfolio.cache import published_pointer_cached
from portfolio.models import Index
from portfolio.selectors import LEVEL_KIND_TOTAL, PublishedPointer, index_get_live


class TotalReturnUnavailable(ConflictError):
    """``kind=total`` on a published run computed before total-return levels existed: its
    levels have no total-return series (a recompute gives it one). Never answered as nulls."""

    code = ErrorCode.TOTAL_RETURN_UNAVAILABLE
    title = "Total-return levels are not available for this run"


def kind_available_or_409(pointer: PublishedPointer, kind: str) -> None:
    """Refuse ``kind=total`` when the published run has no total-return levels (409). With
    nothing published there is nothing to refuse: the endpoint answers as it does for
    ``price``."""
    if kind == LEVEL_KIND_TOTAL and pointer.run_id is not None and not pointer.has_total_levels:
        raise TotalReturnUnavailable(
            f"The published run #{pointer.run_id} of {pointer.slug} was computed before "
            "total-return levels existed; ask for kind=price, or recompute the index.",
            extra={"run_id": pointer.run_id},
        )


def pointer_or_404(slug: str) -> PublishedPointer:
    """The index's published-run pointer, cached (``portfolio.cache``: no query while the
    cached entry is current); 404 for no live index with this slug."""
    try:
        return published_pointer_cached(slug=slug)
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


def valid_paging(request: Request, paginator: BasePagination | None) -> None:
    """Refuses malformed paging parameters before anything else answers: a 400 for a
    ``page`` that is not a positive integer (or ``last``) or a bad ``page_size``, a 404 for a
    cursor that does not decode.

    Published reads call it before the conditional check, so ``If-None-Match`` never turns a
    malformed request into a 304. A well-formed page past the end is still found out (404)
    only when the page is built.
    """
    if paginator is None:
        return
    if isinstance(paginator, PageNumberPagination | CursorPagination):
        paginator.get_page_size(request)  # strict (core.pagination): a 400 when malformed
    if isinstance(paginator, PageNumberPagination):
        raw = request.query_params.get(paginator.page_query_param)
        last = raw in paginator.last_page_strings
        if raw is not None and not last and not (raw.isdigit() and int(raw) > 0):
            raise ValidationError(
                {paginator.page_query_param: ["A positive integer (or `last`) is required."]}
            )
    if isinstance(paginator, CursorPagination):
        paginator.decode_cursor(request)  # NotFound("Invalid cursor") when it does not decode
