"""Health endpoints, request ids, and problem+json for Django-level errors."""

import pytest

pytestmark = pytest.mark.django_db


def test_health_live_answers_200(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_ready_checks_database_redis_and_broker(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert (checks["database"], checks["redis"], checks["broker"]) == ("ok", "ok", "ok")


def test_well_formed_request_id_is_echoed(client):
    response = client.get("/health/live", headers={"X-Request-ID": "abc123-request-id"})
    assert response["X-Request-ID"] == "abc123-request-id"


@pytest.mark.parametrize("candidate", ["", "short", "has spaces in it", "x" * 200, "bad\nline"])
def test_malformed_request_id_is_replaced(client, candidate):
    response = client.get("/health/live", headers={"X-Request-ID": candidate})
    assert response["X-Request-ID"] != candidate
    assert len(response["X-Request-ID"]) == 32


def test_unknown_url_is_problem_json(client):
    response = client.get("/no/such/page", headers={"X-Request-ID": "req-404-check"})
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["request_id"] == "req-404-check"
    assert body["instance"] == "/no/such/page"


def test_log_lines_carry_the_request_id(client, caplog):
    with caplog.at_level("WARNING", logger="django.request"):
        client.get("/no/such/page", headers={"X-Request-ID": "req-logged-1234"})
    assert any(
        getattr(record, "request_id", None) == "req-logged-1234" for record in caplog.records
    )
