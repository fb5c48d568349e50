"""Signals the market app sends. Receivers live in higher apps (portfolio recomputes the index).

``refresh_finished`` is sent once per refresh that ends ``succeeded`` or ``partial``, after the
run's transaction commits (``transaction.on_commit``), with ``sender=RefreshRun`` and
``run=<the RefreshRun>``. A failed run sends nothing. Receivers should enqueue work (a Celery
task) rather than do it inline: the refresh's caller is waiting.
"""

from __future__ import annotations

from django.dispatch import Signal

refresh_finished = Signal()
