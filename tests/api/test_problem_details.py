"""Every error is RFC 9457 problem+json with a request id, and never leaks internals."""

from __future__ import annotations

import base64
import json

import pytest
from django.test import Client, override_settings

from tests.factories import AssetFactory

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db


def test_validation_error_lists_each_field_with_a_pointer(client_as):
    response = client_as("analyst").post(
        api_url("asset-list"), {"symbol": "bad symbol!", "market_cap": "-1"}, format="json"
    )

    body = assert_problem(response, 400)
    pointers = {error["pointer"] for error in body["errors"]}
    assert pointers == {"#/symbol", "#/asset_class", "#/market_cap"}
    assert all(error["detail"] for error in body["errors"])


def test_malformed_json_is_400_problem(client_as):
    response = client_as("analyst").post(
        api_url("asset-list"), data="{not json", content_type="application/json"
    )
    assert_problem(response, 400)


def test_missing_credentials_is_401_with_www_authenticate(api_client):
    response = api_client.get(api_url("auth-me"))

    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        # alg "none" with a plausible payload: must never be accepted.
        _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({"user_id": "1", "token_type": "access"})
        + ".",
    ],
)
def test_invalid_token_is_401_problem(api_client, token):
    response = api_client.get(api_url("auth-me"), HTTP_AUTHORIZATION=f"Bearer {token}")

    body = assert_problem(response, 401)
    assert "messages" not in body


def test_role_too_low_is_403_problem(client_as):
    response = client_as("viewer").post(
        api_url("asset-list"), {"symbol": "NEW", "asset_class": "equity"}, format="json"
    )
    assert_problem(response, 403)


def test_unknown_asset_is_404_problem(client_as):
    response = client_as("viewer").get(api_url("asset-detail", symbol="NOPE"))
    assert_problem(response, 404)


def test_unknown_api_url_is_404_problem(client_as):
    response = client_as("viewer").get("/api/v2/no-such-thing/")
    assert_problem(response, 404)


def test_wrong_method_is_405_problem_with_allow(client_as):
    AssetFactory(symbol="PUTME")
    response = client_as("analyst").put(
        api_url("asset-detail", symbol="PUTME"), {"name": "x"}, format="json"
    )

    assert_problem(response, 405)
    assert "PATCH" in response["Allow"]


def test_wrong_content_type_is_415_problem(client_as):
    response = client_as("analyst").post(
        api_url("asset-list"), data="symbol=X", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415)


def test_restore_over_a_live_asset_is_409_problem(client_as):
    AssetFactory(symbol="TWICE").delete()
    AssetFactory(symbol="TWICE")

    response = client_as("analyst").post(api_url("asset-restore", symbol="TWICE"))

    body = assert_problem(response, 409)
    assert body["type"].endswith("/conflict")


@override_settings(ROOT_URLCONF="tests.api.errors_urls")
def test_domain_error_is_422_problem_with_its_code():
    response = Client().get("/unprocessable")

    body = assert_problem(response, 422)
    assert body["type"].endswith("/unprocessable")
    assert body["detail"] == "The index has no published run yet."


def test_throttled_request_is_429_problem_with_retry_after(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1/min"},
    }
    client = Client()
    client.get("/api/schema/")
    response = client.get("/api/schema/")

    assert_problem(response, 429)
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("path", ["/boom-api", "/boom-django"])
@override_settings(ROOT_URLCONF="tests.api.errors_urls")
def test_unexpected_error_is_500_problem_without_internals(path):
    response = Client(raise_request_exception=False).get(path)

    body = assert_problem(response, 500)
    text = response.content.decode()
    assert "secret internals" not in text
    assert "SELECT" not in text
    assert "RuntimeError" not in text
    assert body["request_id"]


def test_unknown_api_v1_path_is_410_with_deprecation_and_sunset(client):
    """The MVP's routes are served by compat (tests/compat); any other v1 path is gone."""
    response = client.get("/api/v1/indexes/")

    body = assert_problem(response, 410)
    assert body["type"].endswith("/api-version-gone")
    assert response["Deprecation"].startswith("@")
    assert response["Sunset"].endswith("GMT")
    assert 'rel="successor-version"' in response["Link"]
