"""Test-only routes that fail on purpose (unexpected exceptions → 500, domain 422)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import UnprocessableError


class BoomApiView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("secret internals: SELECT * FROM market_price")


class UnprocessableApiView(APIView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise UnprocessableError("The index has no published run yet.")


def boom_django_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals in a plain Django view")


urlpatterns = [
    path("boom-api", BoomApiView.as_view()),
    path("unprocessable", UnprocessableApiView.as_view()),
    path("boom-django", boom_django_view),
    path("", include("config.urls")),
]
handler404 = "core.errors.not_found_view"
handler500 = "core.errors.server_error_view"
