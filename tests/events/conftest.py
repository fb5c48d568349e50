"""The stream process for the tests: the ASGI app under uvicorn on a free loopback port, in a
thread of the test process (same settings, same test database, real Redis)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.core.asgi import get_asgi_application
from django_redis import get_redis_connection

from core.events import stream_key
from tests.events.sse import SSEClient

EVENTS_PATH = "/api/v2/events/"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def _empty_event_buffer() -> Iterator[None]:
    """Each test starts with no buffered event (the key is under this run's prefix)."""
    get_redis_connection("strict").delete(stream_key())
    yield
    get_redis_connection("strict").delete(stream_key())


@pytest.fixture
def stream_server() -> Iterator[tuple[str, int]]:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        get_asgi_application(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield "127.0.0.1", port
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def open_stream(stream_server) -> Iterator[Callable[..., SSEClient]]:
    """``open_stream(headers)``: an SSE connection to the stream server, closed afterwards."""
    clients: list[SSEClient] = []

    def open_(headers: dict[str, str] | None = None, path: str = EVENTS_PATH) -> SSEClient:
        host, port = stream_server
        client = SSEClient(host, port, path, headers or {})
        clients.append(client)
        return client

    yield open_
    for client in clients:
        client.close()
