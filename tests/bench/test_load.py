"""The API benchmarks' load generators against a real HTTP server on loopback.

Both generators (wrk where installed, the Python one everywhere) must rotate the paths and the
viewer tokens request by request and count what did not succeed, or ``bench.api``'s figures
would be throttled or silently include errors.
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from bench.load import LoadResult, load, load_tool

TOKENS = ["token-a", "token-b", "token-c"]
PATHS = ["/first", "/second"]


class Recorder:
    """Answers 200 (or ``status``) and counts each request's path and bearer token."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.seen: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            self.seen[request.path, token] += 1
        return Response(b"ok", status=self.status, content_type="text/plain")


@pytest.fixture
def http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


def _serve(server: HTTPServer, recorder: Recorder) -> str:
    for path in PATHS:
        server.expect_request(path).respond_with_handler(recorder)
    return server.url_for("/").rstrip("/")


def _assert_rotated(result: LoadResult, recorder: Recorder) -> None:
    served = sum(recorder.seen.values())
    # Answers arriving after the window are not counted: at most one per connection.
    assert result.requests <= served <= result.requests + 2
    assert {path for path, _token in recorder.seen} == set(PATHS)
    assert {token for _path, token in recorder.seen} == set(TOKENS)
    per_token = Counter(
        token for (_path, token), count in recorder.seen.items() for _ in range(count)
    )
    assert max(per_token.values()) - min(per_token.values()) <= 3  # 1/3 of the load each


def test_python_generator_rotates_paths_and_tokens_and_counts_every_answer(http_server):
    recorder = Recorder()
    base_url = _serve(http_server, recorder)

    result = load(base_url, PATHS, tokens=TOKENS, connections=2, seconds=1.0, prefer_wrk=False)

    assert (result.tool, result.errors) == ("python-asyncio", 0)
    assert result.requests >= 20
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms
    _assert_rotated(result, recorder)


def test_python_generator_counts_error_answers(http_server):
    base_url = _serve(http_server, Recorder(status=500))

    result = load(base_url, PATHS, tokens=TOKENS, connections=2, seconds=0.5, prefer_wrk=False)

    assert result.requests > 0
    assert result.errors == result.requests
    assert result.error_statuses == {500: result.requests}


def test_python_generator_counts_refused_connections():
    result = load(
        "http://127.0.0.1:9", PATHS, tokens=TOKENS, connections=2, seconds=0.3, prefer_wrk=False
    )

    assert result.requests == 0
    assert result.errors > 0


wrk_only = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


@wrk_only
def test_wrk_rotates_paths_and_tokens_and_says_it_measured(http_server):
    recorder = Recorder()
    base_url = _serve(http_server, recorder)

    result = load(base_url, PATHS, tokens=TOKENS, connections=2, seconds=1.0)

    assert result.tool == load_tool()
    assert result.tool.startswith("wrk")
    assert result.errors == 0
    assert result.requests >= 20
    assert 0 < result.p50_ms <= result.p95_ms <= result.p99_ms <= result.max_ms
    _assert_rotated(result, recorder)


@wrk_only
def test_wrk_counts_error_answers(http_server):
    base_url = _serve(http_server, Recorder(status=503))

    result = load(base_url, PATHS, tokens=TOKENS, connections=2, seconds=1.0)

    assert result.requests > 0
    assert result.errors == result.requests
    assert result.error_statuses == {503: result.requests}
