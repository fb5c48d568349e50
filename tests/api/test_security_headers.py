"""Security headers, CSP (admin and Swagger UI work without any other origin) and CORS."""

from __future__ import annotations

import pytest

from .conftest import api_url

pytestmark = pytest.mark.django_db


def test_api_responses_carry_the_strict_policy_and_security_headers(client_as):
    response = client_as("viewer").get(api_url("currency-list"))

    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_swagger_ui_is_served_locally_with_scripts_from_self_only(client):
    page = client.get("/api/docs/")
    script = client.get("/api/docs/?script=")

    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn.jsdelivr.net" not in html
    assert "/static/drf_spectacular_sidecar/" in html
    assert "<script>" not in html  # the init script is a separate request
    assert script.status_code == 200
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" in policy.split("style-src", 1)[1].split(";")[0]


def test_admin_pages_allow_inline_styles_but_not_scripts(admin_client):
    policy = admin_client.get("/admin/")["Content-Security-Policy"]
    assert "'unsafe-inline'" in policy.split("style-src", 1)[1].split(";")[0]
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";")[0]


def test_cors_allows_only_listed_origins(client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]

    allowed = client.options(
        api_url("asset-list"),
        HTTP_ORIGIN="https://app.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    refused = client.options(
        api_url("asset-list"),
        HTTP_ORIGIN="https://evil.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )

    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "x-request-id" in allowed["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in refused


def test_schema_is_public_and_declares_problem_json_errors(client):
    schema = client.get("/api/schema/?format=json").json()

    responses = schema["paths"]["/api/v2/assets/"]["get"]["responses"]
    assert set(responses) >= {"200", "400", "401", "403", "404", "429", "500"}
    assert list(responses["401"]["content"]) == ["application/problem+json"]
