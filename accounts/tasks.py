"""Celery tasks of the accounts app (thin wrappers around services)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .tokens import tokens_flush_expired


@shared_task(name="accounts.tasks.flush_expired_tokens")
def flush_expired_tokens() -> dict[str, Any]:
    """Daily (beat, see migration 0004): delete expired outstanding/blacklisted refresh tokens.

    Idempotent: a re-run deletes only what expired since.
    """
    return {"deleted": tokens_flush_expired()}
