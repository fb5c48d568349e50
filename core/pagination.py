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
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request


def _require_ordered(queryset: Any, paginator: object) -> None:
    if isinstance(queryset, QuerySet) and not queryset.ordered:
        raise ImproperlyConfigured(
            f"{type(paginator).__name__} needs an ordered queryset ({queryset.model.__name__})."
        )


class CataloguePagination(PageNumberPagination):
    """``?page=N&page_size=M`` with ``count``/``next``/``previous``/``results``."""

    page_size_query_param = "page_size"

    def __init__(self) -> None:
        # Read per instance (one per request), so settings overrides apply.
        self.page_size = int(settings.API_PAGE_SIZE)
        self.max_page_size = int(settings.API_MAX_PAGE_SIZE)

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

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> tuple[str, ...]:
        return tuple(getattr(view, "series_ordering", None) or (self.ordering,))
