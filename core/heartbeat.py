"""A job's heartbeat: a daemon thread that shows the job is alive while its main thread works.

Jobs (a market refresh, an index computation) write ``heartbeat_at`` on their run row and renew
their lease from here, every ``interval`` seconds, whatever the main thread is doing — a vendor
rate-limit wait of a minute, a long COPY. A run whose heartbeat is older than
``JOB_STALE_AFTER_SECONDS`` belongs to a process that died, and the next start declares it
abandoned (``market.services.refresh_lease``, ``portfolio.services.compute``).

Guarantees: ``beat`` runs in the thread only, never concurrently with itself; an exception in
it is logged and the thread keeps beating (a database blip must not stop the heartbeat for
good; a broken connection is replaced at the next beat); the thread's own database connection
is closed when it stops; leaving the ``with`` block stops the thread and waits for it (at most
one ``beat`` call plus ``JOIN_SECONDS``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)

JOIN_SECONDS = 5.0


class Heartbeat:
    """``with Heartbeat(interval=15, beat=...):`` calls ``beat()`` every ``interval`` seconds."""

    def __init__(self, *, interval: float, beat: Callable[[], None], name: str) -> None:
        self.interval = interval
        self.beat = beat
        self.name = name
        self.beats = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop beating and wait for the thread (idempotent)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=JOIN_SECONDS)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                    self.beats += 1
                except Exception:
                    logger.warning("heartbeat failed", exc_info=True, extra={"job": self.name})
                    # A broken connection (the server restarted) is replaced at the next beat.
                    close_old_connections()
        finally:
            # Django connections are per thread: this closes the heartbeat's own one.
            connection.close()
