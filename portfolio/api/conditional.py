"""Conditional GETs of published index data: ETag / Last-Modified validators and 304s.

Every published read answers with a strong ``ETag`` (from :class:`portfolio.cache.PublishedRead`:
the run, the index's last edit, the canonical query) and ``Last-Modified`` (the later of the
run's publication and the index's last edit). ``If-None-Match`` wins over ``If-Modified-Since``
(RFC 9110 §13.2.2). Clients may store responses privately and must revalidate them
(``Cache-Control: private, no-cache``): a revalidation costs the auth check and one indexed
query, never the data.
"""

from __future__ import annotations

from typing import Any

from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, parse_etags, parse_http_date_safe
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from portfolio.cache import PublishedRead, published_read_cached

CACHE_CONTROL = "private, no-cache"


def _validators(read: PublishedRead) -> dict[str, str]:
    return {
        "ETag": read.etag,
        "Last-Modified": http_date(read.pointer.last_modified.timestamp()),
        "Cache-Control": CACHE_CONTROL,
    }


def _etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 requires for ``If-None-Match``."""
    if header.strip() == "*":
        return True
    weakless = etag.removeprefix("W/")
    return any(candidate.removeprefix("W/") == weakless for candidate in parse_etags(header))


def is_not_modified(request: Request, read: PublishedRead) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, read.etag)
    if_modified_since = parse_http_date_safe(request.headers.get("If-Modified-Since") or "")
    if if_modified_since is None:
        return False
    return int(read.pointer.last_modified.timestamp()) <= if_modified_since


def published_read_response(request: Request, read: PublishedRead, build: Any) -> Response:
    """304 when the client's copy is current; else the cached (or freshly built) body.

    ``build`` returns the response data (already serialized); it runs only on a cache miss.
    """
    headers = _validators(read)
    if is_not_modified(request, read):
        response = Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
    else:
        response = Response(published_read_cached(read, build), headers=headers)
    # The body depends on who may see it, not on who asked; say so to any private cache.
    patch_vary_headers(response, ("Authorization",))
    return response
