"""A small Server-Sent Events client for the tests: one HTTP connection read by a thread."""

from __future__ import annotations

import contextlib
import http.client
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Message:
    event: str = "message"
    id: str | None = None
    data: str = ""
    comments: list[str] = field(default_factory=list)
    retry: int | None = None


class SSEClient:
    """Opens ``path`` on ``host:port`` and queues every message (comments included)."""

    def __init__(
        self, host: str, port: int, path: str, headers: dict[str, str], timeout: float = 20.0
    ) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=timeout)
        self.connection.request("GET", path, headers={"Accept": "text/event-stream", **headers})
        self.sock = self.connection.sock  # getresponse may drop its own reference
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.headers = self.response.headers
        self.messages: queue.Queue[Message | None] = queue.Queue()
        if self.status == 200:
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
        else:
            self.body = self.response.read()

    def _read(self) -> None:
        current = Message()
        try:
            while True:
                raw = self.response.readline()
                if not raw:
                    break
                line = raw.decode().rstrip("\r\n")
                if not line:
                    self.messages.put(current)
                    current = Message()
                elif line.startswith(":"):
                    current.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    value = value.removeprefix(" ")
                    if name == "event":
                        current.event = value
                    elif name == "id":
                        current.id = value
                    elif name == "data":
                        current.data += value
                    elif name == "retry":
                        current.retry = int(value)
        except (OSError, ValueError, AttributeError):  # AttributeError: closed under us
            pass
        self.messages.put(None)  # the stream ended

    def next(self, timeout: float = 10.0) -> Message | None:
        return self.messages.get(timeout=timeout)

    def until(self, predicate: Any, timeout: float = 20.0) -> list[Message]:
        """Messages up to and including the first one ``predicate`` accepts."""
        seen: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            message = self.messages.get(timeout=max(deadline - time.monotonic(), 0.01))
            if message is None:
                raise AssertionError(f"stream ended before the expected message: {seen}")
            seen.append(message)
            if predicate(message):
                return seen

    def events(self, messages: list[Message]) -> list[Message]:
        return [message for message in messages if message.id is not None]

    def close(self) -> None:
        """Hang up (the reader thread's file keeps the socket alive past a plain close)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()
