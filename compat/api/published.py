"""The one index v1 serves (the MVP had exactly one): ``API_V1_INDEX_SLUG``, default
``autoindex``, read only through its published run."""

from __future__ import annotations

from django.conf import settings

from portfolio.models import Index
from portfolio.selectors import PublishedPointer, index_get_live, published_pointer_get


def v1_pointer() -> PublishedPointer | None:
    """The served index and its published run (``run_id`` ``None`` until one is published);
    ``None`` when the index does not exist."""
    try:
        return published_pointer_get(slug=settings.API_V1_INDEX_SLUG)
    except Index.DoesNotExist:
        return None


def v1_index() -> Index | None:
    """The served index with its benchmark and strategy loaded, or ``None``."""
    try:
        return index_get_live(slug=settings.API_V1_INDEX_SLUG)
    except Index.DoesNotExist:
        return None
