"""The runs' API shows where a job is: a refresh's progress, its wait for vendor credits and, for
a retry, the first attempt; an index run's first attempt."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from market.models import RefreshRun
from portfolio.models import IndexRun
from tests.factories import RefreshRunFactory
from tests.portfolio.published import published_index_build, run_build

pytestmark = pytest.mark.django_db


def test_a_refresh_retry_shows_its_wait_progress_and_first_attempt(client_as):
    first = RefreshRunFactory(status=RefreshRun.Status.FAILED, task_id="t-1")
    retry = RefreshRunFactory(
        status=RefreshRun.Status.RUNNING,
        task_id="t-1",
        first_attempt=first,
        symbols_total=8,
        symbols_done=3,
        waiting_until=dt.datetime(2026, 12, 2, 12, 1, tzinfo=dt.UTC),
    )

    body = (
        client_as("analyst")
        .get(reverse("api:refresh-job-detail", kwargs={"version": "v2", "pk": retry.pk}))
        .json()
    )

    assert {key: body[key] for key in ("status", "symbols_total", "symbols_done")} == {
        "status": "running",
        "symbols_total": 8,
        "symbols_done": 3,
    }
    assert (body["waiting_until"], body["first_attempt"]) == ("2026-12-02T12:01:00Z", first.pk)


def test_an_index_run_retry_names_its_first_attempt(client_as):
    index = published_index_build(slug="alpha", publish=False)
    first = run_build(index=index, status=IndexRun.Status.RETRYING, publish=False)
    retry = run_build(index=index, status=IndexRun.Status.FAILED, publish=False)
    IndexRun.objects.filter(pk=retry.pk).update(first_attempt=first)

    runs = (
        client_as("analyst")
        .get(reverse("api:index-run-list", kwargs={"version": "v2", "slug": "alpha"}))
        .json()["results"]
    )

    assert {run["id"]: (run["status"], run["first_attempt"]) for run in runs} == {
        first.pk: ("retrying", None),
        retry.pk: ("failed", first.pk),
    }
