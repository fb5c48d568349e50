"""The one index v1 serves (the MVP had exactly one): ``API_V1_INDEX_SLUG``, default
``autoindex``, read only through its published run."""

from __future__ import annotations

from django.conf import settings

from portfolio.cache import published_pointer_cached
from portfolio.models import Index
from portfolio.selectors import PublishedPointer, index_get_live


def v1_pointer() -> PublishedPointer | None:
    """The served index and its published run (``run_id`` ``None`` until one is published);
    ``None`` when the index does not exist. The cached pointer of the v2 reads
    (``portfolio.cache``): no query while it is current, a publish seen on the next request."""
    try:
        return published_pointer_cached(slug=settings.API_V1_INDEX_SLUG)
    except Index.DoesNotExist:
        return None


def v1_index() -> Index | None:
    """The served index with its benchmark and strategy loaded, or ``None``."""
    try:
        return index_get_live(slug=settings.API_V1_INDEX_SLUG)
    except Index.DoesNotExist:
        return None
