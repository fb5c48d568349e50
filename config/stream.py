"""The ``stream`` process (Procfile ``stream``, compose ``stream``): the ASGI app under uvicorn.

It serves the open-ended Server-Sent Events of ``/api/v2/events/`` (docs/events.md) on
``STREAM_HOST:STREAM_PORT`` (default 127.0.0.1:8001), apart from gunicorn ``web``: an idle
stream is a coroutine waiting on an in-process queue fed by the process's one Redis pub/sub
subscription, so hundreds of them hold no gunicorn thread and no extra Redis connection.
``STREAM_WORKERS`` processes (default 1); on shutdown open streams get
``STREAM_GRACEFUL_SECONDS`` (default 5) before they are cut (browsers reconnect with
``Last-Event-ID``).

    python -m config.stream
"""

from __future__ import annotations

import os


def main() -> None:
    import django
    import uvicorn

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    from django.conf import settings

    uvicorn.run(
        "config.asgi:application",
        host=settings.STREAM_HOST,
        port=settings.STREAM_PORT,
        workers=int(os.environ.get("STREAM_WORKERS", "1")),
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        timeout_graceful_shutdown=int(os.environ.get("STREAM_GRACEFUL_SECONDS", "5")),
        log_level=os.environ.get("LOG_LEVEL", "info").lower(),
        access_log=False,  # Django's request lines (django-structlog) already say it
    )


if __name__ == "__main__":
    main()
