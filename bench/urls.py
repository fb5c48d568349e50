"""The benchmark server's routes: production's (``config.urls``) plus ``GET /bench/hello``.

``/bench/hello`` is the same-run baseline of ``bench.api``: a plain Django view behind the
whole middleware stack that touches neither PostgreSQL nor Redis, so its throughput is what
gunicorn and Django alone allow on the machine at that moment ("the framework limit"). It is
served only by :mod:`bench.settings`, never by a deployed process.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as production_urlpatterns

HELLO_PATH = "/bench/hello"

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


@require_GET
def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"Hello, world!", content_type="text/plain")


urlpatterns = [path(HELLO_PATH.lstrip("/"), hello, name="bench-hello"), *production_urlpatterns]
