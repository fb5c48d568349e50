"""Celery tasks of the portfolio app: recompute indexes (after each market-data refresh)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.contrib.auth import get_user_model

from core.request_context import request_id_var
from market.models import RefreshRun

from .models import Index, IndexRun
from .services import compute_index_run

FINISHED_STATUSES = (
    IndexRun.Status.SUCCEEDED,
    IndexRun.Status.PUBLISHED,
    IndexRun.Status.SUPERSEDED,
)


@shared_task(name="portfolio.tasks.compute_index")
def compute_index(
    *,
    index_id: int,
    trigger: str = IndexRun.Trigger.BEAT,
    refresh_run_id: int | None = None,
    user_id: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Compute and publish one index; idempotent per refresh run.

    A redelivered task for a refresh whose run of this index already finished does nothing. A
    failed computation is recorded on its run (the previous run keeps serving) and raised, so
    Celery records the failure; it is not retried (the data would be the same).
    """
    token = request_id_var.set(request_id) if request_id else None
    try:
        index = Index.objects.select_related("strategy", "benchmark").get(pk=index_id)
        if (
            refresh_run_id is not None
            and IndexRun.objects.filter(
                index=index, refresh_run_id=refresh_run_id, status__in=FINISHED_STATUSES
            ).exists()
        ):
            return {"index": index.slug, "skipped": "already computed for this refresh"}
        user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        refresh_run = (
            RefreshRun.objects.filter(pk=refresh_run_id).first() if refresh_run_id else None
        )
        run = compute_index_run(index=index, trigger=trigger, user=user, refresh_run=refresh_run)
    finally:
        if token is not None:
            request_id_var.reset(token)
    return {"index": index.slug, "run_id": run.pk, "status": run.status}


def recompute_after_refresh(sender: type[RefreshRun], run: RefreshRun, **_: Any) -> None:
    """``market.signals.refresh_finished`` receiver: one compute task per live index."""
    for index_id in Index.objects.values_list("pk", flat=True):
        compute_index.delay(
            index_id=index_id,
            trigger=IndexRun.Trigger.REFRESH,
            refresh_run_id=run.pk,
            request_id=run.request_id or None,
        )
