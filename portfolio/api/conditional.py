"""Conditional GETs of published index data: ETag / Last-Modified validators, 304s, and the
cached rendered body with gzip negotiation.

Every published read answers with an ``ETag`` (from :class:`portfolio.cache.PublishedRead`: the
run, the index's last edit, the canonical query) and ``Last-Modified`` (the later of the run's
publication and the index's last edit). ``If-None-Match`` wins over ``If-Modified-Since``
(RFC 9110 §13.2.2). Clients may store responses privately and must revalidate them
(``Cache-Control: private, no-cache``).

A client that accepts gzip (``Accept-Encoding``) gets the body's pre-compressed copy with
``Content-Encoding: gzip`` and a weak ETag (``W/"…"``, the same tag: weak comparison, which
``If-None-Match`` uses, matches either), as ``django.middleware.gzip`` does; every answer says
``Vary: Accept-Encoding, Authorization``. The body is the JSON the view's renderer produces,
byte for byte; a client asking for JSON with parameters (``application/json; indent=2``) gets
it rendered for it, uncached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date, parse_etags, parse_http_date_safe
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from portfolio.cache import GZIP, PublishedRead, published_body_cached

CACHE_CONTROL = "private, no-cache"
JSON_MEDIA_TYPE = "application/json"
# The body depends on who may see it (not on who asked) and on its content coding.
VARY = ("Accept-Encoding", "Authorization")


def _validators(read: PublishedRead, *, gzip_accepted: bool) -> dict[str, str]:
    return {
        "ETag": f"W/{read.etag}" if gzip_accepted else read.etag,
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


def accepts_gzip(header: str | None) -> bool:
    """Whether ``Accept-Encoding`` allows gzip: ``gzip`` (or ``x-gzip``) with a q-value above 0,
    or, when gzip is not named, ``*`` with one (RFC 9110 §12.5.3)."""
    if not header:
        return False
    gzip_q: float | None = None
    any_q: float | None = None
    for part in header.split(","):
        coding, _, parameters = part.partition(";")
        q = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        coding = coding.strip().lower()
        if coding in ("gzip", "x-gzip"):
            gzip_q = q
        elif coding == "*":
            any_q = q
    chosen = gzip_q if gzip_q is not None else any_q
    return chosen is not None and chosen > 0


def _renders_plain_json(request: Request) -> bool:
    return (
        isinstance(getattr(request, "accepted_renderer", None), JSONRenderer)
        and getattr(request, "accepted_media_type", None) == JSON_MEDIA_TYPE
    )


def published_read_response(
    request: Request, read: PublishedRead, build: Callable[[], Any]
) -> HttpResponse:
    """304 when the client's copy is current; else the cached (or freshly rendered) body.

    ``build`` returns the response data (already serialized); it runs only on a cache miss.
    Neither a 304 nor a cached body reads the database here.
    """
    gzip_accepted = accepts_gzip(request.headers.get("Accept-Encoding"))
    headers = _validators(read, gzip_accepted=gzip_accepted)
    response: HttpResponse
    if is_not_modified(request, read):
        response = Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
    elif _renders_plain_json(request):
        renderer = request.accepted_renderer

        def render() -> bytes:
            rendered = renderer.render(build(), JSON_MEDIA_TYPE, {"request": request})
            return rendered if isinstance(rendered, bytes) else rendered.encode()

        body, coding = published_body_cached(read, render, gzip_accepted=gzip_accepted)
        response = HttpResponse(body, content_type=JSON_MEDIA_TYPE, headers=headers)
        if coding == GZIP:
            response["Content-Encoding"] = GZIP
    else:
        response = Response(build(), headers={**headers, "ETag": read.etag})
    patch_vary_headers(response, VARY)
    return response
