"""Idle event streams do not slow the API: the cached history read's p99 with and without 200
open Server-Sent Events connections.

Two servers on the benchmark database (demo data, ``autoindex`` published), as deployed: the
Procfile's ``web`` (gunicorn, :data:`bench.serving.PROCFILE_MODEL`) and its ``stream``
(``python -m config.stream``: uvicorn, the ASGI app; docs/events.md). Each of :data:`ROUNDS`
rounds loads ``GET /api/v2/indexes/autoindex/values/?page_size=5000`` on ``web`` for
:data:`SECONDS` with :data:`CONNECTIONS` keep-alive connections (after a warm-up) twice: with
no stream open, then with :data:`STREAMS` viewers' streams held open on ``stream`` (each
connected, answered 200 and said ``: connected`` before the load starts; every one must still
be open after it).

Figures (medians over the rounds):

- ``stream.api_p99_ms_idle``: the history read's p99 with no stream open;
- ``stream.api_p99_ms_with_streams``: the same with the streams open;
- ``stream.api_p99_ratio``: with ÷ without (the goal is ≤ 2).
"""

from __future__ import annotations

import contextlib
import select
import socket
import statistics
import sys
from collections.abc import Iterator
from typing import Any

from bench.api import PATHS, published_demo_index, viewer_tokens
from bench.load import LoadResult, load, load_tool
from bench.serving import (
    PROCFILE_MODEL,
    BenchServer,
    ServerProcess,
)

STREAMS = 200
CONNECTIONS = 32
ROUNDS = 3
SECONDS = 6.0
WARMUP_SECONDS = 3.0
EVENTS_PATH = "/api/v2/events/"


def _log(message: str) -> None:
    print(f"  stream: {message}", file=sys.stderr, flush=True)


class StreamServer(ServerProcess):
    """The Procfile's ``stream`` process on a free loopback port; a context manager."""

    name = "stream process"
    stop_timeout_s = 15.0

    def __init__(self, *, database: str) -> None:
        super().__init__({"AUTOINDEX_BENCH_DATABASE": database, "STREAM_HOST": "127.0.0.1"})
        self.env["STREAM_PORT"] = str(self.port)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "config.stream"]


def open_streams(port: int, tokens: list[str], count: int) -> list[socket.socket]:
    """``count`` event streams, each answered 200 and ``: connected`` (else raises)."""
    streams = []
    for number in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        request = (
            f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {tokens[number % len(tokens)]}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        )
        sock.sendall(request.encode())
        received = b""
        while b": connected" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError(f"stream {number} closed: {received[:300]!r}")
            received += chunk
        if not received.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"stream {number} answered {received[:300]!r}")
        streams.append(sock)
    return streams


def still_open(streams: list[socket.socket]) -> int:
    """How many streams the server has not closed (their pending heartbeats are drained)."""
    alive = 0
    for sock in streams:
        sock.setblocking(False)
        closed = False
        with contextlib.suppress(BlockingIOError):
            while select.select([sock], [], [], 0)[0]:
                if not sock.recv(65536):
                    closed = True
                    break
        alive += not closed
    return alive


def _history(server: BenchServer, tokens: list[str], seconds: float) -> LoadResult:
    result = load(
        server.base_url, [PATHS["history"]], tokens=tokens, connections=CONNECTIONS, seconds=seconds
    )
    if result.errors:
        raise RuntimeError(f"history: {result.errors} errors ({result.error_statuses})")
    return result


def measure(*, database: str) -> tuple[list[float], list[float]]:
    idle: list[float] = []
    with_streams: list[float] = []
    tokens = viewer_tokens()
    with (
        StreamServer(database=database) as stream,
        BenchServer(PROCFILE_MODEL, database=database) as web,
    ):
        _history(web, tokens, WARMUP_SECONDS)
        for number in range(ROUNDS):
            idle.append(_history(web, tokens, SECONDS).p99_ms)
            streams = open_streams(stream.port, tokens, STREAMS)
            try:
                with_streams.append(_history(web, tokens, SECONDS).p99_ms)
                alive = still_open(streams)
                if alive != STREAMS:
                    raise RuntimeError(f"only {alive} of {STREAMS} streams stayed open")
            finally:
                for sock in streams:
                    sock.close()
            _log(
                f"round {number + 1}: p99 {idle[-1]:.1f} ms idle, {with_streams[-1]:.1f} ms "
                f"with {STREAMS} streams open"
            )
    return idle, with_streams


def run() -> Iterator[dict[str, Any]]:
    from django.db import connection

    published_demo_index()
    tool = load_tool()
    _log(
        f"{tool}, {CONNECTIONS} connections, {ROUNDS} rounds of {SECONDS:.0f} s; "
        f"{STREAMS} idle streams on the stream process; gunicorn {PROCFILE_MODEL.label}"
    )
    idle, with_streams = measure(database=connection.settings_dict["NAME"])
    labels = {"tool": tool, "serving": f"{PROCFILE_MODEL.label} + uvicorn stream"}
    p99_idle = statistics.median(idle)
    p99_with = statistics.median(with_streams)
    yield {"name": "stream.api_p99_ms_idle", "value": round(p99_idle, 1), "unit": "ms", **labels}
    yield {
        "name": "stream.api_p99_ms_with_streams",
        "value": round(p99_with, 1),
        "unit": "ms",
        **labels,
    }
    ratio = round(p99_with / p99_idle, 3)
    yield {"name": "stream.api_p99_ratio", "value": ratio, "unit": "ratio", **labels}
