"""The same endpoint under WSGI (bounded streams), session auth for staff, the admin script tag,
and publishing with Redis down (a bad URL, not a mock)."""

from __future__ import annotations

import json
import time

import pytest
from django.core.management import call_command
from prometheus_client import REGISTRY

from core.events import publish_event
from portfolio.models import Index, IndexRun
from portfolio.services import index_run_compute
from tests.factories import AnalystFactory, UserFactory, ViewerFactory

pytestmark = pytest.mark.django_db

EVENTS = "/api/v2/events/"
DEAD_REDIS = "redis://127.0.0.1:9/0"


def failed_count(event_type: str) -> float:
    value = REGISTRY.get_sample_value("autoindex_events_publish_failed_total", {"type": event_type})
    return value or 0.0


@pytest.fixture
def short_streams(settings):
    settings.EVENTS_WSGI_MAX_SECONDS = 1.0
    settings.EVENTS_HEARTBEAT_SECONDS = 0.3


def read_all(response) -> str:
    return b"".join(response.streaming_content).decode()


def test_a_wsgi_stream_replays_heartbeats_and_ends_for_the_client_to_reconnect(
    client, short_streams, django_capture_on_commit_callbacks
):
    staff = AnalystFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        publish_event("refresh.progress", {"run_id": 1, "status": "running"}, audience="analyst")
        publish_event("index_run.published", {"run_id": 2, "index": "autoindex"})
    client.force_login(staff)

    started = time.monotonic()
    response = client.get(EVENTS, HTTP_LAST_EVENT_ID="0-0")
    body = read_all(response)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache, no-store"
    assert body.startswith("retry: 3000\n\n: connected\n\n")
    blocks = [block for block in body.split("\n\n") if block.startswith("id: ")]
    parsed = [dict(line.split(": ", 1) for line in block.split("\n")) for block in blocks]
    assert [(item["event"], json.loads(item["data"])) for item in parsed] == [
        ("refresh.progress", {"run_id": 1, "status": "running"}),
        ("index_run.published", {"run_id": 2, "index": "autoindex"}),
    ]
    assert ": heartbeat" in body
    assert 0.9 <= elapsed < 5  # bounded: the thread is given back after EVENTS_WSGI_MAX_SECONDS

    # Resuming after the first id replays only the second.
    again = read_all(client.get(EVENTS, HTTP_LAST_EVENT_ID=parsed[0]["id"]))
    assert f"id: {parsed[1]['id']}\nevent: index_run.published" in again
    assert "refresh.progress" not in again


def test_a_viewer_session_reads_publications_only(
    client, short_streams, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        publish_event("refresh.progress", {"run_id": 1}, audience="analyst")
        publish_event("index_run.published", {"run_id": 2, "index": "autoindex"})
    client.force_login(ViewerFactory(is_staff=True))
    body = read_all(client.get(EVENTS, HTTP_LAST_EVENT_ID="0-0"))
    assert "event: index_run.published" in body
    assert "refresh.progress" not in body


def test_a_session_needs_staff_and_nothing_gets_401(client):
    anonymous = client.get(EVENTS)
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"] == "application/problem+json"
    assert anonymous.json()["type"].endswith("/not-authenticated")
    client.force_login(AnalystFactory(is_staff=False))
    assert client.get(EVENTS).status_code == 401
    client.force_login(UserFactory(is_staff=True))  # staff without a role
    assert client.get(EVENTS).status_code == 403


def test_admin_pages_load_the_live_events_script(client, settings):
    login = client.get("/admin/login/")
    assert "core/live-events.js" not in login.content.decode()
    client.force_login(AnalystFactory(is_staff=True, is_superuser=True))

    page = client.get("/admin/").content.decode()
    assert 'src="/static/core/live-events.js" data-events-url="/api/v2/events/" defer' in page

    settings.STREAM_PUBLIC_URL = "http://127.0.0.1:8001"
    page = client.get("/admin/").content.decode()
    assert 'data-events-url="http://127.0.0.1:8001/api/v2/events/"' in page


def test_allowed_admin_origins_get_a_credentialed_cors_answer(client, settings, short_streams):
    settings.EVENTS_ALLOWED_ORIGINS = ["http://127.0.0.1:8000"]
    client.force_login(ViewerFactory(is_staff=True))
    allowed = client.get(EVENTS, HTTP_ORIGIN="http://127.0.0.1:8000")
    assert allowed["Access-Control-Allow-Origin"] == "http://127.0.0.1:8000"
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    read_all(allowed)
    other = client.get(EVENTS, HTTP_ORIGIN="http://evil.example")
    assert "Access-Control-Allow-Credentials" not in other
    read_all(other)


def test_publishing_with_redis_down_never_fails_the_caller(
    settings, django_capture_on_commit_callbacks
):
    settings.EVENTS_REDIS_URL = DEAD_REDIS
    call_command("load_demo_data", verbosity=0)
    index = Index.objects.select_related("strategy", "benchmark").get(slug="autoindex")
    progress_before = failed_count("index_run.progress")
    published_before = failed_count("index_run.published")

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        run = index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)

    assert run.status == IndexRun.Status.PUBLISHED
    assert failed_count("index_run.progress") - progress_before == 7
    assert failed_count("index_run.published") - published_before == 1
    assert time.monotonic() - started < 20  # a refused connection fails fast


def test_a_wsgi_stream_with_redis_down_says_so_and_ends(client, settings, short_streams):
    settings.EVENTS_REDIS_URL = DEAD_REDIS
    client.force_login(ViewerFactory(is_staff=True))
    response = client.get(EVENTS)
    assert response.status_code == 200
    assert read_all(response) == "retry: 3000\n\n: events unavailable\n\n"


def test_past_its_cap_a_web_process_sends_streams_away_at_once(client, settings, short_streams):
    settings.EVENTS_WSGI_MAX_STREAMS = 1
    client.force_login(ViewerFactory(is_staff=True))
    first = iter(client.get(EVENTS).streaming_content)
    assert next(first).startswith(b"retry: 3000")  # streaming: it holds the one slot

    started = time.monotonic()
    busy = read_all(client.get(EVENTS))
    assert busy == "retry: 30000\n\n: busy\n\n"
    assert time.monotonic() - started < 0.5

    assert b"".join(first).endswith(b": heartbeat\n\n")  # ends after EVENTS_WSGI_MAX_SECONDS
    assert read_all(client.get(EVENTS)).startswith("retry: 3000\n\n: connected")


def test_admin_pages_keep_a_self_only_script_policy(client):
    client.force_login(AnalystFactory(is_staff=True, is_superuser=True))
    response = client.get("/admin/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self';" in policy or policy.endswith("connect-src 'self'")
    page = response.content.decode()
    assert "<script>" not in page  # every script has a src (no inline body)


def test_a_public_stream_url_joins_the_connect_src_of_the_policy():
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['connect-src'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "STREAM_PUBLIC_URL": "https://app.example.com:8001/",
    }
    answer = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert answer.stdout.strip().splitlines()[-1] == "[\"'self'\", 'https://app.example.com:8001']"
