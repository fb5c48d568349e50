"""The offline demo end to end, as ``make run`` shows it: the bundled data loaded and the index
published, then the nightly chain through the demo fake inserts the synthetic days and the
index is republished through them."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
import time_machine
from django.core.management import call_command

from market.management.commands.fake_twelvedata import handler_for
from market.models import Price, RefreshRun
from market.providers.fake import demo_fake
from market.services.demo import demo_data_load
from portfolio.models import Index, IndexRun, IndexValue
from portfolio.tasks import compute_index_batch, refresh_and_recompute

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TODAY = dt.datetime(2026, 11, 6, 21, 0, tzinfo=dt.UTC)  # a Friday after the FX history ends


@pytest.fixture
def demo_server(settings) -> Iterator[None]:
    with time_machine.travel(TODAY, tick=True):
        fake = demo_fake(api_key=settings.TWELVEDATA_API_KEY)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(fake))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        settings.TWELVEDATA_BASE_URL = f"http://127.0.0.1:{server.server_port}"
        settings.TWELVEDATA_CREDITS_PER_MINUTE = 6000  # the local plan against the fake
        try:
            yield
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


def last_level_date(run: IndexRun) -> dt.date:
    return IndexValue.objects.filter(run=run).order_by("-date").values_list("date", flat=True)[0]


def test_the_nightly_chain_through_the_fake_inserts_the_synthetic_days_and_republishes(
    demo_server, task_queue
):
    with time_machine.travel(TODAY, tick=True):
        # Given make run's start-up: the bundled data and the published index
        demo_data_load()
        call_command("compute_index", "autoindex", "--unless-published", verbosity=0)
        index = Index.objects.get(slug="autoindex")
        first = IndexRun.objects.get(index=index, status=IndexRun.Status.PUBLISHED)
        assert last_level_date(first) == dt.date(2024, 9, 12)

        # When the nightly chain runs (what beat, "Refresh now" and the API queue)
        summary = refresh_and_recompute(trigger=RefreshRun.Trigger.BEAT)
        queued = task_queue.tasks()
        assert [name for name, _ in queued] == ["portfolio.tasks.compute_index_batch"]
        compute_index_batch(**queued[0][1])

    # Then every business day after the bundled history is stored, up to today
    run = RefreshRun.objects.get(pk=summary["run_id"])
    assert run.status == RefreshRun.Status.SUCCEEDED
    stock_days = 561  # business days 2024-09-13 .. 2026-11-06
    fx_days = 5  # 2026-11-02 .. 2026-11-06
    assert run.rows_inserted == 13 * stock_days + 6 * fx_days
    assert Price.objects.filter(asset__symbol="SPY", date__gt="2024-09-12").count() == stock_days
    # and the index is republished through today; the earlier run is superseded
    first.refresh_from_db()
    assert first.status == IndexRun.Status.SUPERSEDED
    republished = IndexRun.objects.get(index=index, status=IndexRun.Status.PUBLISHED)
    assert republished.pk != first.pk
    assert last_level_date(republished) == TODAY.date()
