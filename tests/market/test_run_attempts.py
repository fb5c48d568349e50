"""A job's attempts and waits on its runs: a Celery retry marks the failed attempt ``retrying``
and the next attempt links back to the first; a refresh waiting for vendor credits records
until when, and clears it once it goes on."""

from __future__ import annotations

import datetime as dt

import pytest
from celery.exceptions import Retry
from celery.signals import task_retry
from django.utils import timezone

import portfolio.tasks  # noqa: F401  (connects its task_retry receiver, as a worker does)
from market.models import RefreshRun
from market.services import prices_refresh
from market.services.run_attempts import attempt_begin, refresh_attempt_begin
from market.tasks import refresh_market_data
from portfolio.models import IndexRun
from tests.factories import RefreshRunFactory
from tests.market.conftest import REFRESH_END
from tests.portfolio.published import published_index_build, run_build

pytestmark = pytest.mark.django_db


class _Request:
    """The part of Celery's task request the ``task_retry`` receivers read."""

    def __init__(self, task_id: str, *, is_eager: bool = False) -> None:
        self.id = task_id
        self.is_eager = is_eager


def _celery_retries(task_id: str, *, is_eager: bool = False) -> None:
    task_retry.send(
        sender=refresh_market_data,
        request=_Request(task_id, is_eager=is_eager),
        reason=Retry(when=60),
        einfo=None,
    )


def test_a_retried_refresh_attempt_is_retrying_until_the_next_attempt_links_back_to_it():
    first = RefreshRunFactory(status=RefreshRun.Status.FAILED, task_id="task-1")
    other = RefreshRunFactory(status=RefreshRun.Status.FAILED, task_id="task-2")

    _celery_retries("task-1")

    first.refresh_from_db()
    other.refresh_from_db()
    assert (first.status, other.status) == ("retrying", "failed")

    assert refresh_attempt_begin(task_id="task-1", kind=RefreshRun.Kind.PRICES) == first
    first.refresh_from_db()
    assert first.status == "failed"


def test_an_eager_retry_marks_nothing_its_next_attempt_already_ran():
    run = RefreshRunFactory(status=RefreshRun.Status.FAILED, task_id="task-eager")

    _celery_retries("task-eager", is_eager=True)

    run.refresh_from_db()
    assert run.status == "failed"


def test_the_retry_of_a_batch_marks_the_latest_failed_run_of_each_index_retrying():
    index = published_index_build(slug="alpha", publish=False)
    earlier = run_build(index=index, status=IndexRun.Status.FAILED, publish=False)
    latest = run_build(index=index, status=IndexRun.Status.FAILED, publish=False)
    IndexRun.objects.filter(pk__in=[earlier.pk, latest.pk]).update(task_id="batch-1")

    _celery_retries("batch-1")

    assert dict(IndexRun.objects.filter(index=index).values_list("pk", "status")) == {
        earlier.pk: "failed",
        latest.pk: "retrying",
    }
    assert attempt_begin(IndexRun, task_id="batch-1", index=index) == earlier
    assert IndexRun.objects.get(pk=latest.pk).status == "failed"


def test_a_refresh_retry_links_to_the_first_attempt(twelvedata_client):
    first = RefreshRunFactory(status=RefreshRun.Status.RETRYING, task_id="task-9")

    run = prices_refresh(
        end=REFRESH_END, symbols=["AAPL"], client=twelvedata_client, task_id="task-9"
    )

    assert run.first_attempt == first
    first.refresh_from_db()
    assert first.status == "failed"


def test_a_refresh_waiting_for_vendor_credits_records_until_when(twelvedata_client, fake_clock):
    seen: list[tuple[float, dt.datetime | None]] = []
    limiter = twelvedata_client.limiter
    sleep = limiter._sleep

    def sleep_and_look(seconds: float) -> None:
        run = RefreshRun.objects.order_by("-pk").first()
        seen.append((seconds, run.waiting_until))
        sleep(seconds)

    limiter._sleep = sleep_and_look

    run = prices_refresh(end=REFRESH_END, client=twelvedata_client)

    # The clock starts at 12:00:30.5 UTC: the first wait ends at 12:01:00, the next at 12:02:00.
    assert seen == [
        (29.5, dt.datetime(2024, 1, 15, 12, 1, tzinfo=dt.UTC)),
        (60.0, dt.datetime(2024, 1, 15, 12, 2, tzinfo=dt.UTC)),
    ]
    run.refresh_from_db()
    assert (run.status, run.waiting_until) == ("succeeded", None)
    assert timezone.is_aware(seen[0][1])
