"""API test helpers: a DRF client, role users, and clients signed in with real JWTs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.factories import AdminRoleFactory, AnalystFactory, UserFactory, ViewerFactory

ROLES = ("anonymous", "viewer", "analyst", "admin")


def api_url(name: str, **kwargs: object) -> str:
    """``reverse`` for the v2 API: ``api_url("asset-list")`` → ``/api/v2/assets/``."""
    return reverse(f"api:{name}", kwargs={"version": "v2", **kwargs})


def bearer(user) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(user)}"}


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user() -> Callable[[str], object | None]:
    factories = {
        "viewer": ViewerFactory,
        "analyst": AnalystFactory,
        "admin": AdminRoleFactory,
        "no-role": UserFactory,
    }

    def make(role: str) -> object | None:
        return None if role == "anonymous" else factories[role]()

    return make


@pytest.fixture
def client_as(make_user) -> Callable[[str], APIClient]:
    """``client_as("analyst")``: an APIClient sending a valid access token of a new analyst."""

    def signed_in(role: str) -> APIClient:
        client = APIClient()
        user = make_user(role)
        if user is not None:
            client.credentials(**bearer(user))
        client.user = user
        return client

    return signed_in


def assert_problem(response, status_code: int) -> dict:
    """The response is RFC 9457 problem+json for ``status_code`` with our extension members."""
    assert response.status_code == status_code, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status_code
    assert body["type"].startswith("https://autoindex.example/problems/")
    assert body["title"]
    assert "detail" in body
    assert "instance" in body
    assert body["request_id"] == response["X-Request-ID"]
    assert "Traceback" not in response.content.decode()
    return body
