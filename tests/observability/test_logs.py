"""Log lines are one JSON object each, carrying the request id and the trace id, in the web
process and in a worker running a task the request queued (core/logging.py).

The lines are read from a handler using the project's formatter, as the console handler of
``LOGGING`` writes them.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from core.logging import StructuredFormatter
from market.models import RefreshRun
from tests.factories import ViewerFactory
from tests.market.conftest import SERVED_DATES
from tests.observability.refresh_job import (
    JOB,
    REFRESHED_SYMBOLS,
    post_refresh,
    running_worker,
    wait_for,
)

pytestmark = pytest.mark.django_db

HEX_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
HEX_SPAN_ID = re.compile(r"^[0-9a-f]{16}$")
LEADING_FIELDS = ["ts", "level", "logger", "event", "request_id"]


class LogCapture:
    """The lines written through the root logger while attached, each parsed as JSON (a line
    that is not one JSON object fails the test)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(StructuredFormatter())
        self.level_before = logging.NOTSET

    def attach(self) -> None:
        """Attach, at ``LOG_LEVEL`` (again after a worker starts: Celery sets the root level to
        the worker's, ``error`` for a test worker, and Django's set-up reapplies ``LOGGING``)."""
        root = logging.getLogger()
        if self.handler not in root.handlers:
            self.level_before = root.level
            root.addHandler(self.handler)
        root.setLevel(logging.INFO)

    def detach(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.level_before)

    def __call__(self) -> list[dict[str, Any]]:
        parsed = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        assert all(isinstance(line, dict) for line in parsed)
        return parsed


@pytest.fixture
def log_lines(settings) -> Iterator[LogCapture]:
    settings.LOG_FORMAT = "json"
    capture = LogCapture()
    capture.attach()
    yield capture
    capture.detach()


def _signed_in_viewer() -> tuple[APIClient, Any]:
    user = ViewerFactory.create()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client, user


def test_web_lines_are_json_with_the_request_id_trace_id_and_user(log_lines):
    client, user = _signed_in_viewer()

    response = client.get("/api/v2/assets/", HTTP_X_REQUEST_ID="req-log-web-0001")

    assert response.status_code == 200
    lines = [line for line in log_lines() if line["request_id"] == "req-log-web-0001"]
    assert [line["event"] for line in lines] == ["request_started", "request_finished"]
    for line in lines:
        assert list(line)[:5] == LEADING_FIELDS
        assert line["level"] == "info"
        assert line["logger"] == "django_structlog.middlewares.request"
        assert HEX_TRACE_ID.match(line["trace_id"])
        assert HEX_SPAN_ID.match(line["span_id"])
    assert len({line["trace_id"] for line in lines}) == 1
    finished = lines[-1]
    assert (finished["code"], finished["request"], finished["user_id"]) == (
        200,
        "GET /api/v2/assets/",
        user.pk,
    )


def test_each_request_without_a_caller_trace_starts_a_trace_of_its_own(log_lines):
    client, _ = _signed_in_viewer()

    for request_id in ("req-log-own-trace-1", "req-log-own-trace-2"):
        assert client.get("/api/v2/assets/", HTTP_X_REQUEST_ID=request_id).status_code == 200

    ids = {
        line["request_id"]: (line["trace_id"], line["span_id"])
        for line in log_lines()
        if line["request_id"].startswith("req-log-own-trace-")
    }
    (first_trace, first_span), (second_trace, second_span) = ids.values()
    assert first_trace != second_trace
    assert first_span != second_span
    for trace_id, span_id in ids.values():
        assert HEX_TRACE_ID.match(trace_id)
        assert trace_id != "0" * 32
        assert HEX_SPAN_ID.match(span_id)
        assert span_id != "0" * 16


def test_a_line_django_writes_after_the_response_keeps_the_request_and_trace_ids(log_lines):
    response = APIClient().get("/api/v2/no-such-page/", HTTP_X_REQUEST_ID="req-log-web-0404")

    assert response.status_code == 404
    lines = [line for line in log_lines() if line["request_id"] == "req-log-web-0404"]
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert [(line["level"], line["event"]) for line in not_found] == [
        ("warning", "Not Found: /api/v2/no-such-page/")
    ]
    assert len({line.get("trace_id") for line in lines}) == 1
    assert HEX_TRACE_ID.match(not_found[0]["trace_id"])


CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"


def test_without_an_exporter_the_lines_carry_the_callers_trace_and_a_span_of_the_request(
    log_lines,
):
    # No exporter is attached here: the request is served with a span that only has ids.
    response = APIClient().get(
        "/api/v2/currencies/",
        HTTP_X_REQUEST_ID="req-log-traceparent",
        HTTP_TRACEPARENT=f"00-{CALLER_TRACE_ID}-{CALLER_SPAN_ID}-01",
    )

    assert response.status_code == 401
    lines = [line for line in log_lines() if line["request_id"] == "req-log-traceparent"]
    assert [line["event"] for line in lines] == [
        "request_started",
        "request_finished",
        "Unauthorized: /api/v2/currencies/",  # Django's, after the response
    ]
    assert {line["trace_id"] for line in lines} == {CALLER_TRACE_ID}
    (span_id,) = {line["span_id"] for line in lines}
    assert HEX_SPAN_ID.match(span_id)
    assert span_id != CALLER_SPAN_ID


def test_probe_lines_carry_no_trace_id(log_lines):
    response = APIClient().get("/health/live", HTTP_X_REQUEST_ID="req-log-probe-001")

    assert response.status_code == 200
    lines = [line for line in log_lines() if line["request_id"] == "req-log-probe-001"]
    assert [line["event"] for line in lines] == ["request_started", "request_finished"]
    assert [line.get("trace_id") for line in lines] == [None, None]


def test_an_ill_formed_request_id_is_replaced_once_for_every_line(log_lines):
    response = APIClient().get("/api/v2/no-such-page/", HTTP_X_REQUEST_ID="bad id\nforged=1")

    request_id = response["X-Request-ID"]
    assert request_id != "bad id\nforged=1"
    lines = [line for line in log_lines() if "no-such-page" in json.dumps(line)]
    assert {line["request_id"] for line in lines} == {request_id}


@pytest.mark.slow
@JOB
def test_worker_lines_are_json_with_the_request_id_and_trace_id_of_the_request(vendor, log_lines):
    with running_worker():
        log_lines.attach()
        accepted = post_refresh(request_id="req-log-worker-1")
        wait_for(
            lambda: (
                RefreshRun.objects.filter(
                    request_id="req-log-worker-1", status=RefreshRun.Status.SUCCEEDED
                ).exists()
                and any(line["event"] == "task_succeeded" for line in log_lines())
            )
        )

    lines = log_lines()
    (request_trace_id,) = {
        line["trace_id"]
        for line in lines
        if line["logger"] == "django_structlog.middlewares.request"
        and line["request_id"] == "req-log-worker-1"
    }
    in_task = [line for line in lines if line.get("task_id") == accepted["task_id"]]
    assert {line["request_id"] for line in in_task} == {"req-log-worker-1"}
    assert {line["trace_id"] for line in in_task} == {request_trace_id}
    events = [line["event"] for line in in_task]
    assert events[0] == "task_started"
    assert "task_succeeded" in events
    # A standard-library line keeps its extra fields.
    (finished,) = [line for line in in_task if line["event"] == "refresh finished"]
    assert (finished["logger"], finished["status"], finished["inserted"]) == (
        "market.services.refresh",
        "succeeded",
        len(REFRESHED_SYMBOLS) * len(SERVED_DATES),
    )
    # The request's user travels with the task (django-structlog's message header).
    assert {line.get("user_id") for line in in_task} == {in_task[0]["user_id"]} != {None}


def test_console_lines_stay_readable(settings):
    settings.LOG_FORMAT = "console"
    record = logging.makeLogRecord(
        {
            "name": "market.services.refresh",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": "refresh finished",
            "created": 1_700_000_000.25,
            "status": "succeeded",
        }
    )

    line = StructuredFormatter().format(record)

    assert line == (
        "2023-11-14T22:13:20.250000+00:00 info    market.services.refresh: refresh finished "
        "status=succeeded"
    )
