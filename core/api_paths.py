"""One answer per API address, whatever the trailing slash and whatever ``DEBUG`` says.

Routes under ``/api/`` are written with or without a trailing slash (``auth/token``,
``indexes/``), as the framework's defaults and the MVP's clients had them. A client that adds or
drops the slash used to get Django's answers for a page site: a 404 HTML page (``DEBUG`` on:
the technical page listing every route), or for a POST with ``APPEND_SLASH`` a ``RuntimeError``
500 page, since a redirect cannot carry a request body.

:class:`ApiPathMiddleware` sits inside ``CommonMiddleware`` and only looks at 404 responses under
``/api/`` (the happy path costs one status comparison):

- if the same path with the slash toggled is a route, the request is served by that route
  (internally, no redirect: the method and body are kept);
- otherwise the answer is the problem+json 404 of :func:`core.errors.not_found_view`, also with
  ``DEBUG`` on. A 404 from a route that matched (an unknown index slug) passes unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, get_resolver

from core.errors import not_found_view

API_PREFIX = "/api/"


def _toggled_slash(path: str) -> str:
    return path[:-1] if path.endswith("/") else f"{path}/"


def _is_route(path: str, urlconf: str | None) -> bool:
    try:
        get_resolver(urlconf).resolve(path)
    except Resolver404:
        return False
    return True


class ApiPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code != 404 or not request.path_info.startswith(API_PREFIX):
            return response
        if getattr(request, "resolver_match", None) is not None:
            return response  # a route answered 404 itself (an unknown slug): its problem stands
        urlconf = getattr(request, "urlconf", None)
        alternate = _toggled_slash(request.path_info)
        if alternate != API_PREFIX and _is_route(alternate, urlconf):
            request.path = f"{request.path[: -len(request.path_info)]}{alternate}"
            request.path_info = alternate
            return self.get_response(request)
        return not_found_view(request)
