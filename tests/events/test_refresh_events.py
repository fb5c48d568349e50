"""A market refresh (fake TwelveData over HTTP) publishes its progress for analysts."""

from __future__ import annotations

import json

import pytest

from core.events import events_read_blocking, sync_client
from market.models import RefreshRun
from market.services import prices_refresh
from tests.market.conftest import (  # noqa: F401 - fixtures
    REFRESH_END,
    SERVED_DATES,
    SERVED_SYMBOLS,
    fake_clock,
    fake_twelvedata,
    twelvedata_client,
    twelvedata_server,
)

pytestmark = pytest.mark.django_db


def test_a_refresh_publishes_its_progress_batch_by_batch(
    twelvedata_client,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        run = prices_refresh(
            end=REFRESH_END, trigger=RefreshRun.Trigger.CLI, client=twelvedata_client
        )
    run.refresh_from_db()

    events = events_read_blocking(sync_client(), "0-0", block_seconds=0.01)
    assert {event.type for event in events} == {"refresh.progress"}
    assert {event.audience for event in events} == {"analyst"}
    payloads = [json.loads(event.data) for event in events]
    assert {payload["run_id"] for payload in payloads} == {run.pk}
    assert payloads[0]["status"] == "running"
    assert payloads[0]["symbols_done"] == 0
    done = [payload["symbols_done"] for payload in payloads]
    assert done == sorted(done)
    assert len(set(done)) > 2  # several batches, each reported
    # 8 credits a minute: it waits for credits between batches, and says until when.
    waits = [payload["waiting_until"] for payload in payloads if payload["waiting_until"]]
    assert waits
    assert waits == sorted(waits)
    assert payloads[-1] == {
        "run_id": run.pk,
        "kind": "prices",
        "status": "succeeded",
        "symbols_done": run.symbols_total,
        "symbols_total": run.symbols_total,
        "rows_inserted": len(SERVED_SYMBOLS) * len(SERVED_DATES),
        "rows_updated": 0,
        "waiting_until": None,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
    }
