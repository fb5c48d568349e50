"""The cached user snapshot of authentication (``accounts.user_cache``): no query on a hot read,
and no privilege kept longer than ``AUTH_USER_CACHE_SECONDS`` after it was taken away.

Changes through the account services take effect on the very next request; changes made any
other way (the groups edited directly, a row updated in SQL, a password set in the admin) on
the first request after the window. Time moves with time-machine; Redis and PostgreSQL are real.
"""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.cache import caches
from django.utils import timezone

from accounts.models import User
from accounts.services import role_changes_audit, user_update
from accounts.user_cache import KEY_FORMAT, user_snapshot_get
from tests.api.conftest import api_url, assert_problem, bearer
from tests.factories import AnalystFactory, ViewerFactory

pytestmark = pytest.mark.django_db

WINDOW_SECONDS = 30.0  # AUTH_USER_CACHE_SECONDS's default (config/settings/base.py)
DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _window(settings):
    settings.AUTH_USER_CACHE_SECONDS = WINDOW_SECONDS


def _later(seconds: float) -> time_machine.travel:
    return time_machine.travel(timezone.now() + dt.timedelta(seconds=seconds), tick=False)


def _assets(client, user):
    """A viewer-only read (``GET assets/``): 200 for a viewer, 403 without a role."""
    return client.get(api_url("asset-list"), **bearer(user))


def _refresh_jobs(client, user):
    """An analyst-only read (``GET jobs/refresh/``)."""
    return client.get(api_url("refresh-job-list"), **bearer(user))


def test_a_cached_user_authenticates_and_passes_the_role_check_without_a_query(
    django_assert_num_queries,
):
    viewer = ViewerFactory()
    with django_assert_num_queries(2):  # the row, the groups
        first = user_snapshot_get(user_id=viewer.pk)

    with django_assert_num_queries(0):
        again = user_snapshot_get(user_id=viewer.pk)
        user = again.user()
        assert (user.pk, user.email, user.is_active) == (viewer.pk, viewer.email, True)
        assert user.groups  # a manager, not evaluated

    assert first is not None
    assert again is not None
    assert again.role == first.role == "viewer"


def test_the_snapshot_never_holds_the_password_hash():
    viewer = ViewerFactory()
    user_snapshot_get(user_id=viewer.pk)

    stored = caches["default"].get(KEY_FORMAT.format(user_id=viewer.pk))

    assert viewer.password.encode() not in pickle.dumps(stored)
    assert stored.revoke_digest  # simplejwt's digest, which the token's claim also carries


def test_a_role_removed_through_the_services_is_refused_on_the_next_request(api_client):
    viewer = ViewerFactory()
    assert _assets(api_client, viewer).status_code == 200

    viewer.groups.clear()
    role_changes_audit(user=viewer, before={"viewer"}, after=set(), actor=None)

    assert_problem(_assets(api_client, viewer), 403)


def test_a_deactivation_through_the_services_is_refused_on_the_next_request(api_client):
    viewer = ViewerFactory()
    assert _assets(api_client, viewer).status_code == 200

    user_update(user=viewer, changes={"is_active": False}, actor=None)

    body = assert_problem(_assets(api_client, viewer), 401)
    assert body["type"].endswith("/user-inactive")


def test_a_role_removed_behind_the_services_back_lasts_at_most_the_window(api_client):
    analyst = AnalystFactory()
    with _later(0):
        assert _refresh_jobs(api_client, analyst).status_code == 200

    # Not through a service: nothing drops the snapshot.
    analyst.groups.set([Group.objects.get(name="viewer")])

    with _later(WINDOW_SECONDS - 1):
        assert _refresh_jobs(api_client, analyst).status_code == 200  # within the bound
    with _later(WINDOW_SECONDS):
        assert_problem(_refresh_jobs(api_client, analyst), 403)
        assert _assets(api_client, analyst).status_code == 200  # still a viewer


def test_a_deactivation_behind_the_services_back_lasts_at_most_the_window(api_client):
    viewer = ViewerFactory()
    with _later(0):
        assert _assets(api_client, viewer).status_code == 200

    User.objects.filter(pk=viewer.pk).update(is_active=False)

    with _later(WINDOW_SECONDS - 1):
        assert _assets(api_client, viewer).status_code == 200
    with _later(WINDOW_SECONDS):
        body = assert_problem(_assets(api_client, viewer), 401)
    assert body["type"].endswith("/user-inactive")


def test_a_password_change_revokes_earlier_tokens_within_the_window(api_client):
    viewer = ViewerFactory()
    with _later(0):
        headers = bearer(viewer)
        assert api_client.get(api_url("asset-list"), **headers).status_code == 200

    viewer.set_password("a-new-password-of-some-length")
    viewer.save()  # as the admin's password form does

    with _later(WINDOW_SECONDS):
        body = assert_problem(api_client.get(api_url("asset-list"), **headers), 401)
        assert body["type"].endswith("/password-changed")
        assert _assets(api_client, viewer).status_code == 200  # a token issued after it


def test_a_deleted_user_is_not_found_after_the_window(api_client):
    viewer = ViewerFactory()
    with _later(0):
        headers = bearer(viewer)
        assert api_client.get(api_url("asset-list"), **headers).status_code == 200

    viewer.delete()

    with _later(WINDOW_SECONDS):
        body = assert_problem(api_client.get(api_url("asset-list"), **headers), 401)
    assert body["type"].endswith("/user-not-found")


def test_a_zero_window_reads_the_user_on_every_request(settings, django_assert_num_queries):
    settings.AUTH_USER_CACHE_SECONDS = 0
    viewer = ViewerFactory()
    user_snapshot_get(user_id=viewer.pk)

    with django_assert_num_queries(2):
        user_snapshot_get(user_id=viewer.pk)


def test_a_redis_outage_authenticates_from_the_database(api_client, settings):
    viewer = ViewerFactory()
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "LOCATION": DEAD_REDIS},
    }

    assert _assets(api_client, viewer).status_code == 200
    viewer.groups.clear()
    assert_problem(_assets(api_client, viewer), 403)  # nothing cached: seen at once
