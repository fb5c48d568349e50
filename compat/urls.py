"""``/api/v1/`` routes. Until a route is served, every path answers 410 problem+json."""

from django.urls import re_path

from core.errors import api_v1_gone_view

urlpatterns = [
    re_path(r"^.*$", api_v1_gone_view, name="api-v1"),
]
