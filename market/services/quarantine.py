"""The analyst's review of quarantined bars (``market.services.sanity``): accept or reject.

- :func:`quarantined_bar_accept` stores the bar through ``prices_upsert`` (the one write path
  of prices: a changed close gets its ``PriceRevision``, linked to the refresh run that fetched
  the bar) and records a review ``RefreshRun`` — trigger of the review, finished now, the bar's
  symbol in ``changed_symbols`` when the upsert inserted or changed its row. That run is what
  makes the index recompute see the bar: ``portfolio.selectors.indexes_with_changed_inputs``
  lists an index when a refresh that *finished after its published run started* changed one of
  its symbols, and the refresh that quarantined the bar usually finished before the nightly
  recompute published the current run (editing that old run's ``changed_symbols`` would be
  missed). The next nightly chain, or an analyst's compute, then recomputes the index.
- :func:`quarantined_bar_reject` closes the bar without storing anything; a later refresh that
  fetches the same close again drops it with a note instead of asking again.

Both refuse a bar that is no longer pending (:class:`~core.errors.ConflictError`), decide with
the row locked (two analysts cannot both decide it) and record an ``AuditEvent`` in the same
transaction. Accepting holds the refresh lease for its write, so it never races a refresh's
batch; while a refresh runs it is refused (``ConflictError``: try again when it has finished).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.services import audit_record
from core.errors import ConflictError
from core.request_context import current_request_id
from market.locks import refresh_lease
from market.models import Price, QuarantinedBar, RefreshRun

from .prices import PRICE_COLUMNS, prices_upsert

__all__ = ["quarantined_bar_accept", "quarantined_bar_reject"]

logger = logging.getLogger(__name__)


def quarantined_bar_accept(
    bar: QuarantinedBar, *, actor: Any, trigger: str = RefreshRun.Trigger.ADMIN
) -> QuarantinedBar:
    """Store the pending ``bar`` as a price, mark it accepted by ``actor`` and audit it.

    Returns the bar as saved. Raises ``ConflictError`` when the bar is not pending (also when
    another reviewer decided it first) or a refresh holds the lease; nothing is written then.
    """
    lease = refresh_lease()
    if not lease.acquire():
        raise ConflictError(
            "A price refresh is running; accept the bar when it has finished.",
        )
    try:
        return _accept(bar, actor=actor, trigger=trigger)
    finally:
        lease.release()


@transaction.atomic
def _accept(bar: QuarantinedBar, *, actor: Any, trigger: str) -> QuarantinedBar:
    bar = _pending_locked(bar)
    previous_close = (
        Price.objects.filter(asset_id=bar.asset_id, date=bar.date)
        .values_list("close", flat=True)
        .first()
    )
    row = pd.DataFrame.from_records(
        [(bar.asset_id, bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume)],
        columns=list(PRICE_COLUMNS),
    ).astype(object)
    written = prices_upsert(row, source=bar.source, refresh_run_id=bar.refresh_run_id)
    symbol = bar.asset.symbol
    stored = "inserted" if written.inserted else "updated" if written.updated else "unchanged"
    now = timezone.now()
    review = RefreshRun.objects.create(
        status=RefreshRun.Status.SUCCEEDED,
        trigger=trigger,
        triggered_by=_user(actor),
        symbols=[symbol],
        start_date=bar.date,
        end_date=bar.date,
        rows_inserted=written.inserted,
        rows_updated=written.updated,
        rows_unchanged=written.unchanged,
        changed_symbols=[symbol] if written.changed_asset_ids else [],
        notes={
            symbol: (
                f"quarantined bar #{bar.pk} of {bar.date.isoformat()} accepted "
                f"(held by refresh #{bar.refresh_run_id}): {stored}"
            )
        },
        request_id=current_request_id() or "",
        symbols_total=1,
        symbols_done=1,
        finished_at=now,
    )
    bar.status = QuarantinedBar.Status.ACCEPTED
    bar.decided_by = _user(actor)
    bar.decided_at = now
    bar.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_record(
        action=AuditEvent.Action.QUARANTINE_ACCEPTED,
        actor=actor,
        target=bar,
        details={
            **_bar_details(bar),
            "stored": stored,
            "previous_close": previous_close,
            "review_run": review.pk,
        },
    )
    logger.info(
        "quarantined bar accepted",
        extra={"bar": bar.pk, "symbol": symbol, "stored": stored, "review_run": review.pk},
    )
    return bar


@transaction.atomic
def quarantined_bar_reject(bar: QuarantinedBar, *, actor: Any, reason: str = "") -> QuarantinedBar:
    """Mark the pending ``bar`` rejected by ``actor`` (nothing is stored) and audit it with
    ``reason``. Returns the bar as saved; ``ConflictError`` when it is not pending."""
    bar = _pending_locked(bar)
    bar.status = QuarantinedBar.Status.REJECTED
    bar.decided_by = _user(actor)
    bar.decided_at = timezone.now()
    bar.save(update_fields=["status", "decided_by", "decided_at", "updated_at"])
    audit_record(
        action=AuditEvent.Action.QUARANTINE_REJECTED,
        actor=actor,
        target=bar,
        details={**_bar_details(bar), "why": reason},
    )
    logger.info("quarantined bar rejected", extra={"bar": bar.pk, "symbol": bar.asset.symbol})
    return bar


def _pending_locked(bar: QuarantinedBar) -> QuarantinedBar:
    """The bar's row, locked for the transaction; ``ConflictError`` unless it is pending."""
    locked = QuarantinedBar.objects.select_for_update(of=("self",)).select_related("asset")
    current = locked.get(pk=bar.pk)
    if current.status != QuarantinedBar.Status.PENDING:
        raise ConflictError(
            f"This quarantined bar was already decided ({current.get_status_display().lower()})."
        )
    return current


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _bar_details(bar: QuarantinedBar) -> dict[str, Any]:
    return {
        "symbol": bar.asset.symbol,
        "date": bar.date,
        "close": bar.close,
        "reason": bar.reason,
        "reference_close": bar.reference_close,
        "refresh_run": bar.refresh_run_id,
    }
