"""Published reads replayed without DRF (``portfolio.api.replay``): the same bytes and headers
as the full view, no query, and every check of who asks still made on every request.

Real Redis and PostgreSQL; time moves with time-machine where a bound is tested.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts.services import role_changes_audit, user_update
from portfolio.api.replay import Replay, ReplayStore, replayable
from portfolio.api.views import IndexSimulationView
from portfolio.models import IndexRun
from tests.factories import AnalystFactory, ViewerFactory
from tests.portfolio.published import level_on, published_index_build, run_build

from .conftest import api_url, assert_problem, bearer

pytestmark = pytest.mark.django_db

POINTER_WINDOW_SECONDS = 30.0


@pytest.fixture(autouse=True)
def _window(settings):
    settings.PUBLISHED_POINTER_CACHE_SECONDS = POINTER_WINDOW_SECONDS


@pytest.fixture
def index():
    return published_index_build(slug="replayed", days=40)


@pytest.fixture
def viewer():
    return ViewerFactory()


def _replays(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "autoindex_published_read_replays_total", {"outcome": outcome}
    )
    return value or 0.0


def _get(client, user, name="index-values", params=None, **headers):
    return client.get(api_url(name, slug="replayed"), params or {}, **{**bearer(user), **headers})


def _first_level(client, user) -> str:
    return _get(client, user, params={"page_size": 1}).json()["results"][0]["level"]


def _headers(response) -> list[tuple[str, str]]:
    return [(name, value) for name, value in response.items() if name != "X-Request-ID"]


def _later(seconds: float) -> time_machine.travel:
    return time_machine.travel(timezone.now() + dt.timedelta(seconds=seconds), tick=False)


@pytest.mark.parametrize(
    ("name", "params", "headers"),
    [
        ("index-detail", {}, {}),
        ("index-values", {"page_size": 7}, {}),
        ("index-values", {"page_size": 7}, {"HTTP_ACCEPT_ENCODING": "gzip"}),
        ("index-allocations", {}, {}),
        ("index-allocation-history", {}, {}),
        ("index-drawdown", {"kind": "total"}, {}),
        ("index-metrics", {"range": "1m"}, {}),
        ("index-benchmark", {}, {}),
    ],
)
def test_a_replay_is_the_full_views_answer_with_no_query(
    client, viewer, index, name, params, headers, django_assert_num_queries
):
    full = _get(client, viewer, name, params, **headers)
    replayed_before = _replays("replayed")

    with django_assert_num_queries(0):
        replayed = _get(client, viewer, name, params, **headers)

    assert _replays("replayed") == replayed_before + 1
    assert replayed.status_code == full.status_code == 200
    assert replayed.content == full.content
    assert replayed["X-Request-ID"] != full["X-Request-ID"]  # each request its own
    assert _headers(replayed) == _headers(full)
    assert replayed["ETag"]


def test_each_query_and_content_coding_has_its_own_replay(client, viewer, index):
    one = _get(client, viewer, params={"page_size": 1})
    two = _get(client, viewer, params={"page_size": 2})
    compressed = _get(client, viewer, params={"page_size": 2}, HTTP_ACCEPT_ENCODING="gzip")

    assert len(_get(client, viewer, params={"page_size": 1}).json()["results"]) == 1
    assert _get(client, viewer, params={"page_size": 2}).content == two.content
    again = _get(client, viewer, params={"page_size": 2}, HTTP_ACCEPT_ENCODING="gzip")
    assert again["Content-Encoding"] == "gzip"
    assert again.content == compressed.content != two.content
    assert one.content != two.content


def test_a_publish_changes_the_replayed_answer_on_the_next_request(client, viewer, index):
    old_level = _first_level(client, viewer)
    replayed_before = _replays("replayed")
    assert _first_level(client, viewer) == old_level
    assert _replays("replayed") == replayed_before + 1

    run_build(index=index, days=40, shift=50.0)

    assert _first_level(client, viewer) == f"{level_on(0, shift=50.0):.6f}" != old_level


def test_a_deactivation_is_refused_on_the_next_request(client, viewer, index):
    assert _get(client, viewer).status_code == 200
    assert _get(client, viewer).status_code == 200  # replayed

    user_update(user=viewer, changes={"is_active": False}, actor=None)

    body = assert_problem(_get(client, viewer), 401)
    assert body["type"].endswith("/user-inactive")


def test_losing_the_role_is_refused_within_the_user_cache_window(client, viewer, index):
    assert _get(client, viewer).status_code == 200
    assert _get(client, viewer).status_code == 200  # replayed

    viewer.groups.clear()  # behind the services' back: seen within AUTH_USER_CACHE_SECONDS
    with _later(29):
        assert _get(client, viewer).status_code == 200
    with _later(30):
        assert_problem(_get(client, viewer), 403)


def test_a_role_change_through_the_services_is_seen_on_the_next_request(client, index):
    analyst = AnalystFactory()
    assert _get(client, analyst).status_code == 200
    assert _get(client, analyst).status_code == 200  # replayed
    analyst.groups.clear()  # as the admin's group edit: the change, then its audit
    role_changes_audit(user=analyst, before={"analyst"}, after=set(), actor=None)

    assert_problem(_get(client, analyst), 403)


def test_a_bad_token_is_refused_even_with_a_replay_held(client, viewer, index):
    assert _get(client, viewer).status_code == 200

    response = client.get(
        api_url("index-values", slug="replayed"), HTTP_AUTHORIZATION="Bearer not.a.token"
    )

    assert_problem(response, 401)


def test_replays_are_throttled_like_full_answers(client, viewer, index, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "viewer": "3/min",
        },
    }
    answers = [_get(client, viewer) for _ in range(4)]

    assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
    assert_problem(answers[3], 429)
    assert int(answers[3]["Retry-After"]) >= 1


def test_a_change_behind_the_services_back_is_bounded_by_when_the_pointer_was_read(
    client, viewer, index
):
    with _later(0):
        old_level = _first_level(client, viewer)  # the pointer is read now
    with _later(20):  # another query: answered by the full view from the cached pointer
        old_page = _get(client, viewer, params={"page_size": 2}).json()["results"]
    run = run_build(index=index, days=40, shift=50.0, publish=False)
    IndexRun.objects.filter(index=index, status="published").update(status="superseded")
    IndexRun.objects.filter(pk=run.pk).update(status="published", published_at=timezone.now())

    with _later(POINTER_WINDOW_SECONDS - 1):
        assert _get(client, viewer, params={"page_size": 2}).json()["results"] == old_page
        assert _first_level(client, viewer) == old_level
    with _later(POINTER_WINDOW_SECONDS):
        new_page = _get(client, viewer, params={"page_size": 2}).json()["results"]
    assert new_page[0]["level"] == f"{level_on(0, shift=50.0):.6f}"


def test_conditional_requests_go_to_the_full_view(client, viewer, index):
    etag = _get(client, viewer)["ETag"]
    _get(client, viewer)  # a replay is held
    replayed_before = _replays("replayed")

    revalidated = _get(client, viewer, HTTP_IF_NONE_MATCH=etag)

    assert revalidated.status_code == 304
    assert _replays("replayed") == replayed_before


def test_replays_can_be_turned_off(client, viewer, index, settings):
    settings.PUBLISHED_READ_REPLAY_MAX_BYTES = 0
    replayed_before, filled_before = _replays("replayed"), _replays("filled")

    for _ in range(3):
        assert _get(client, viewer).status_code == 200

    assert (_replays("replayed"), _replays("filled")) == (replayed_before, filled_before)


def _replay(size: int) -> Replay:
    return Replay(pointer_version="v", pointer_read_at=0.0, headers=(), body=b"x" * size)


def test_the_store_keeps_the_most_recently_used_replays_within_its_bytes():
    store = ReplayStore()
    store.put(("a",), _replay(40), max_bytes=100)
    store.put(("b",), _replay(40), max_bytes=100)
    assert store.get(("a",)) is not None  # now the most recently used
    store.put(("c",), _replay(40), max_bytes=100)

    assert store.get(("b",)) is None
    assert store.get(("a",)) is not None
    assert store.get(("c",)) is not None
    assert store.size_bytes == 80
    store.put(("d",), _replay(101), max_bytes=100)  # larger than the whole store: not kept
    assert store.get(("d",)) is None
    assert store.size_bytes == 80


def test_a_token_that_expired_is_refused_even_with_its_replay_and_snapshot_held(
    client, viewer, index, settings
):
    settings.PUBLISHED_POINTER_CACHE_SECONDS = 3600  # both still usable when the token expires
    settings.AUTH_USER_CACHE_SECONDS = 3600
    headers = bearer(viewer)  # a 15-minute access token
    url = api_url("index-values", slug="replayed")
    with _later(0):
        assert client.get(url, **headers).status_code == 200
        assert client.get(url, **headers).status_code == 200  # replayed: the token remembered
    with _later(14 * 60):
        assert client.get(url, **headers).status_code == 200

    with _later(16 * 60):
        body = assert_problem(client.get(url, **headers), 401)

    assert body["type"].endswith("/token-not-valid")


def test_a_view_that_throttles_by_its_own_scope_cannot_be_replayed():
    with pytest.raises(ImproperlyConfigured, match="IndexSimulationView"):
        replayable(IndexSimulationView.as_view())


def test_a_redis_that_lost_its_scripts_still_admits_replays(
    client, viewer, index, redis_connection
):
    _get(client, viewer)  # the full view; the admission script is loaded by the next request
    assert _get(client, viewer).status_code == 200
    redis_connection.script_flush()  # a restarted Redis, say
    replayed_before = _replays("replayed")

    again = _get(client, viewer)

    assert again.status_code == 200
    assert _replays("replayed") == replayed_before + 1
