"""Default pagination: page numbers for catalogues, cursors for time series.

Both refuse an unordered queryset (a page boundary over an unordered result is not stable, so a
client could see a row twice or never). Sizes come from settings: ``API_PAGE_SIZE`` and
``API_MAX_PAGE_SIZE`` for catalogues, ``API_SERIES_PAGE_SIZE`` and ``API_SERIES_MAX_PAGE_SIZE``
for time series; a client picks a smaller or larger page with ``page_size`` up to the maximum.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request


def _require_ordered(queryset: Any, paginator: object) -> None:
    if isinstance(queryset, QuerySet) and not queryset.ordered:
        raise ImproperlyConfigured(
            f"{type(paginator).__name__} needs an ordered queryset ({queryset.model.__name__})."
        )


def _strict_page_size(
    request: Request, param: str, default: int | None, maximum: int | None
) -> int:
    """``page_size`` from the query: a positive integer (capped at ``maximum``) or a 400.

    DRF silently falls back to the default for a malformed value; a client asking for
    ``page_size=abc`` should be told instead.
    """
    if default is None or maximum is None:
        raise ImproperlyConfigured("page_size and max_page_size must be set.")
    raw = request.query_params.get(param)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationError({param: ["A positive integer is required."]})
    return min(int(raw), maximum)


def _document_minimums(parameters: list[dict[str, Any]], names: set[str]) -> list[dict[str, Any]]:
    for parameter in parameters:
        if parameter.get("name") in names:
            parameter["schema"] = {**parameter.get("schema", {}), "minimum": 1}
    return parameters


class CataloguePagination(PageNumberPagination):
    """``?page=N&page_size=M`` with ``count``/``next``/``previous``/``results``."""

    page_size_query_param = "page_size"

    def __init__(self) -> None:
        # Read per instance (one per request), so settings overrides apply.
        self.page_size = int(settings.API_PAGE_SIZE)
        self.max_page_size = int(settings.API_MAX_PAGE_SIZE)

    def get_page_size(self, request: Request) -> int:
        return _strict_page_size(
            request, self.page_size_query_param, self.page_size, self.max_page_size
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return _document_minimums(
            super().get_schema_operation_parameters(view),
            {self.page_query_param, self.page_size_query_param or ""},
        )

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        _require_ordered(queryset, self)
        return super().paginate_queryset(queryset, request, view)


class SeriesCursorPagination(CursorPagination):
    """Opaque ``?cursor=`` over a date-ordered series; stable while new rows are appended.

    Views set ``ordering`` (default ``date``, oldest first). The ordering field must be unique
    within the filtered queryset (one row per date), which holds for one asset's prices and
    one run's index values.
    """

    ordering = "date"
    page_size_query_param = "page_size"

    def __init__(self) -> None:
        self.page_size = int(settings.API_SERIES_PAGE_SIZE)
        self.max_page_size = int(settings.API_SERIES_MAX_PAGE_SIZE)

    def get_page_size(self, request: Request) -> int:
        return _strict_page_size(
            request, self.page_size_query_param, self.page_size, self.max_page_size
        )

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return _document_minimums(
            super().get_schema_operation_parameters(view), {self.page_size_query_param or ""}
        )

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        return tuple(getattr(view, "series_ordering", None) or (self.ordering,))
