"""Under /api/ a trailing slash never decides between a route and an HTML error page."""

from __future__ import annotations

import pytest
from django.test import override_settings

from tests.factories import TEST_PASSWORD, UserFactory

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_path_is_problem_json_even_in_debug(api_client, debug):
    with override_settings(DEBUG=debug):
        response = api_client.get("/api/v2/no-such-thing/")

    body = assert_problem(response, 404)
    assert body["instance"] == "/api/v2/no-such-thing/"


@pytest.mark.parametrize("debug", [False, True])
def test_token_with_a_trailing_slash_signs_in_like_without(api_client, debug):
    user = UserFactory()
    assert api_url("auth-token") == "/api/v2/auth/token"

    with override_settings(DEBUG=debug):
        response = api_client.post(
            "/api/v2/auth/token/",
            {"email": user.email, "password": TEST_PASSWORD},
            format="json",
        )

    assert response.status_code == 200
    assert set(response.json()) >= {"access", "refresh"}


@pytest.mark.parametrize("debug", [False, True])
def test_post_without_the_slash_reaches_the_route_with_its_body(client_as, debug):
    # /api/v2/assets/ written without its slash: served, not a 500 (APPEND_SLASH cannot
    # redirect a POST) and not a redirect that would drop the body.
    with override_settings(DEBUG=debug):
        response = client_as("analyst").post(
            "/api/v2/assets",
            {"symbol": "ZZTOP", "asset_class": "equity"},
            format="json",
        )

    assert response.status_code == 201
    assert response.json()["symbol"] == "ZZTOP"


def test_a_views_own_problem_404_is_kept(client_as):
    response = client_as("viewer").get(api_url("asset-detail", symbol="NOPE"))

    body = assert_problem(response, 404)
    assert body["instance"] == "/api/v2/assets/NOPE/"
