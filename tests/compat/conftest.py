"""Helpers of the /api/v1 tests: the served index, MVP-style clients and the v1 headers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from portfolio.models import Index
from tests.factories import AdminRoleFactory, AnalystFactory, UserFactory, ViewerFactory
from tests.portfolio.published import published_index_build

V1_SLUG = "compat"


@pytest.fixture
def served_index(settings) -> Index:
    """A published index of 120 trading days (from 2023-01-02) that /api/v1 serves."""
    settings.API_V1_INDEX_SLUG = V1_SLUG
    return published_index_build(slug=V1_SLUG, assets=4, days=120)


@pytest.fixture
def unpublished_index(settings) -> Index:
    settings.API_V1_INDEX_SLUG = V1_SLUG
    return published_index_build(slug=V1_SLUG, assets=4, days=120, publish=False)


class MvpClient:
    """Calls /api/v1 as the MVP's web client does: JSON bodies, ``Authorization: Bearer``."""

    def __init__(self, user: User | None = None, token: str | None = None) -> None:
        self.client = Client()
        self.user = user
        self.token = token or (str(AccessToken.for_user(user)) if user is not None else None)

    def _headers(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, params: dict | None = None):
        return self.client.get(f"/api/v1/{path}", params or {}, **self._headers())

    def post(self, path: str, body: object | None = None):
        return self.client.post(
            f"/api/v1/{path}",
            body if body is not None else {},
            content_type="application/json",
            **self._headers(),
        )

    def put(self, path: str, body: object | None = None):
        return self.client.put(
            f"/api/v1/{path}", body or {}, content_type="application/json", **self._headers()
        )


@pytest.fixture
def mvp_client() -> Callable[[str], MvpClient]:
    """``mvp_client("viewer")``: a client with a valid access token of a new user of that role."""
    factories = {
        "viewer": ViewerFactory,
        "analyst": AnalystFactory,
        "admin": AdminRoleFactory,
        "no-role": UserFactory,
    }

    def make(role: str) -> MvpClient:
        return MvpClient(None if role == "anonymous" else factories[role]())

    return make


def assert_v1_headers(response, successor: str | None = None) -> None:
    """``Deprecation`` (``@epoch``), ``Sunset`` (HTTP date) and the successor ``Link``."""
    assert response["Deprecation"] == "@1767225600"
    assert response["Sunset"] == "Thu, 31 Dec 2026 00:00:00 GMT"
    link = response["Link"]
    assert link.endswith('>; rel="successor-version"')
    if successor is not None:
        assert link == f'<{successor}>; rel="successor-version"'
