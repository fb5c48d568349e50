"""The live event stream on the stream process (ASGI under uvicorn, real Redis, real DB)."""

from __future__ import annotations

import http.client
import json
import time

import pytest
from django.core.management import call_command
from rest_framework_simplejwt.tokens import AccessToken

from core.events import hub_client_name, publish_event
from portfolio.models import Index, IndexRun
from portfolio.services import index_run_compute
from tests.factories import AnalystFactory, UserFactory, ViewerFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PHASES = [None, "load", "compute", "metrics", "store", "publish"]


def bearer(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def connected(message) -> bool:
    return "connected" in message.comments


def test_a_compute_streams_its_progress_then_its_publication_filtered_by_role(open_stream):
    call_command("load_demo_data", verbosity=0)
    index = Index.objects.select_related("strategy", "benchmark").get(slug="autoindex")
    analyst = open_stream(bearer(AnalystFactory()))
    viewer = open_stream(bearer(ViewerFactory()))
    assert analyst.status == 200
    assert analyst.headers["Content-Type"].startswith("text/event-stream")
    first = analyst.until(connected)
    assert first[0].retry == 3000
    viewer.until(connected)

    run = index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)

    def final_progress(message) -> bool:
        return (
            message.event == "index_run.progress"
            and json.loads(message.data)["status"] == "published"
        )

    seen = analyst.events(analyst.until(final_progress))
    types = [message.event for message in seen]
    assert types == ["index_run.progress"] * 6 + ["index_run.published", "index_run.progress"]
    progress = [json.loads(message.data) for message in seen if message.event.endswith("progress")]
    assert [item["phase"] for item in progress] == [*PHASES, None]
    assert [item["status"] for item in progress] == ["running"] * 5 + ["succeeded", "published"]
    assert {item["run_id"] for item in progress} == {run.pk}
    assert {item["index"] for item in progress} == {"autoindex"}
    assert progress[0]["started_at"] == run.started_at.isoformat()
    assert progress[0]["finished_at"] is None
    assert progress[-1]["finished_at"] == run.finished_at.isoformat()
    published = json.loads(seen[6].data)
    assert published == {
        "run_id": run.pk,
        "index": "autoindex",
        "last_level": run.last_level,
        "data_through": run.data_through.isoformat(),
    }
    ids = [message.id for message in seen]
    assert ids == sorted(ids, key=lambda value: tuple(int(part) for part in value.split("-")))

    # A viewer gets the publication only.
    viewer_seen = viewer.events(viewer.until(lambda message: message.id is not None))
    assert [(message.event, message.id) for message in viewer_seen] == [
        ("index_run.published", seen[6].id)
    ]
    assert json.loads(viewer_seen[0].data) == published

    # Resuming after the third event replays the five after it, in order, with their ids.
    resumed = open_stream({**bearer(AnalystFactory()), "Last-Event-ID": seen[2].id})
    replayed = resumed.events(resumed.until(lambda message: message.id == seen[-1].id))
    assert [(m.id, m.event, m.data) for m in replayed] == [
        (m.id, m.event, m.data) for m in seen[3:]
    ]


def test_the_stream_sends_heartbeats_and_live_events_after_them(open_stream, settings):
    settings.EVENTS_HEARTBEAT_SECONDS = 0.3
    client = open_stream(bearer(ViewerFactory()))
    client.until(connected)
    client.until(lambda message: "heartbeat" in message.comments, timeout=5)

    publish_event("index_run.published", {"run_id": 7, "index": "x"})
    publish_event("refresh.progress", {"run_id": 8}, audience="analyst")  # not for a viewer
    publish_event("index_run.published", {"run_id": 9, "index": "y"})

    got = client.events(
        client.until(lambda message: message.id is not None and "9" in message.data)
    )
    assert [json.loads(message.data)["run_id"] for message in got] == [7, 9]


def test_without_credentials_the_stream_answers_401_problem(open_stream):
    client = open_stream()
    assert client.status == 401
    assert client.headers["Content-Type"] == "application/problem+json"
    body = json.loads(client.body)
    assert body["type"].endswith("/not-authenticated")
    assert body["status"] == 401


def test_a_bad_token_is_refused_and_a_user_without_role_is_forbidden(open_stream):
    bad = open_stream({"Authorization": "Bearer not-a-token"})
    assert bad.status == 401
    assert json.loads(bad.body)["type"].endswith("/token-not-valid")
    no_role = open_stream(bearer(UserFactory()))
    assert no_role.status == 403
    assert json.loads(no_role.body)["type"].endswith("/permission-denied")


def test_a_lost_subscription_is_renewed_and_nothing_published_meanwhile_is_missed(
    open_stream, redis_connection
):
    client = open_stream(bearer(ViewerFactory()))
    client.until(connected)

    def hub_ids() -> set[str]:
        named = redis_connection.client_list()
        return {c["id"] for c in named if c.get("name") == hub_client_name()}

    def eventually(check, seconds: float = 10.0):
        deadline = time.monotonic() + seconds
        while not (result := check()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return result

    hubs = hub_ids()
    assert hubs  # this run's subscription (the name carries the run's key prefix)
    for client_id in hubs:
        redis_connection.client_kill_filter(_id=client_id)
    assert eventually(lambda: not hub_ids() & hubs)  # gone before anything is published

    publish_event("index_run.published", {"run_id": 1, "index": "x"})  # maybe nobody listens
    publish_event("index_run.published", {"run_id": 2, "index": "x"})

    got = client.events(client.until(lambda m: m.id is not None and '"run_id":2' in m.data))
    assert [json.loads(message.data)["run_id"] for message in got] == [1, 2]
    assert eventually(lambda: hub_ids() - hubs)  # subscribed again, on a new connection


def test_a_stream_ends_after_its_lifetime_for_the_reader_to_sign_in_again(open_stream, settings):
    settings.EVENTS_HEARTBEAT_SECONDS = 0.2
    settings.EVENTS_STREAM_MAX_SECONDS = 0.5
    client = open_stream(bearer(ViewerFactory()))
    started = time.monotonic()
    client.until(connected)
    while client.next(timeout=5) is not None:
        pass  # heartbeats, then the end of the stream
    assert time.monotonic() - started < 3


def test_only_get_is_allowed(stream_server):
    host, port = stream_server
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("POST", "/api/v2/events/", headers={"Content-Length": "0"})
    answer = connection.getresponse()
    assert answer.status == 405
    assert json.loads(answer.read())["type"].endswith("/method-not-allowed")


def test_with_redis_down_a_stream_says_so_and_ends(open_stream, settings):
    settings.EVENTS_REDIS_URL = "redis://127.0.0.1:9/0"
    client = open_stream(bearer(ViewerFactory()))
    assert client.status == 200
    assert client.next().retry == 3000
    assert client.next().comments == ["events unavailable"]
    assert client.next() is None  # ended
