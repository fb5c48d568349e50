# ruff: noqa: N999  gunicorn's conventional name: run by path, never imported
"""gunicorn settings for the web process (Procfile ``web``, the image's CMD, compose ``web``).

Process model (docs/operations.md, "Process model and failure behaviour"): ``WEB_CONCURRENCY``
processes (default 2) of ``WEB_THREADS`` threads each (default 8, ``gthread`` workers). A
request blocked on a dead dependency holds one thread for at most its bounded wait
(``DB_POOL_TIMEOUT``, ``CELERY_SEND_TIMEOUT``), never a whole process, so ``/health/live`` is
answered by a free thread while other requests wait. Every value can be overridden from the
environment; gunicorn's own ``GUNICORN_CMD_ARGS`` still wins over this file. Why gthread 2 × 8
(measured against sync and other thread counts, ``python -m bench.serving_model``):
docs/performance.md, "Serving model".
"""

from __future__ import annotations

import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# A request running longer than this is killed with its worker (a hung dependency, not a slow
# page: every wait on PostgreSQL, Redis or the queue is bounded well below it).
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
# On SIGTERM (a deploy), requests in flight get this long to finish.
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
# Headers up to 16 KB each (a large JWT, a long cookie) reach Django, which answers in
# problem+json; gunicorn's default of 8190 bytes answers 431 in HTML. The request line stays
# at gunicorn's maximum (8190: a larger value is clamped to it).
limit_request_field_size = int(os.environ.get("WEB_LIMIT_REQUEST_FIELD_SIZE", "16384"))
limit_request_line = int(os.environ.get("WEB_LIMIT_REQUEST_LINE", "8190"))
limit_request_fields = 100
accesslog = "-"
# gunicorn's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl): a second
# server on the same host (a test's, another project's) would take it over. Nothing uses it.
control_socket_disable = True


def child_exit(server: object, worker: object) -> None:
    """A worker exited: in Prometheus multiprocess mode its live gauges stop being exported
    (docs/metrics.md, "Several processes")."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
