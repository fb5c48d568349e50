"""A finished refresh recomputes every index, once per refresh."""

import pytest
from django.core.management import call_command

from config.celery import app as celery_app
from market.models import RefreshRun
from market.signals import refresh_finished
from portfolio.models import Index, IndexRun
from portfolio.tasks import compute_index

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def refresh_run():
    call_command("load_demo_data", verbosity=0)
    return RefreshRun.objects.create(
        trigger=RefreshRun.Trigger.BEAT,
        status=RefreshRun.Status.SUCCEEDED,
        request_id="req-chain-1",
    )


def test_refresh_finished_signal_recomputes_and_publishes_the_index(eager_celery, refresh_run):
    refresh_finished.send(sender=RefreshRun, run=refresh_run)

    run = IndexRun.objects.get()
    assert run.index.slug == "autoindex"
    assert (run.status, run.trigger) == (IndexRun.Status.PUBLISHED, IndexRun.Trigger.REFRESH)
    assert run.refresh_run == refresh_run
    assert run.request_id == "req-chain-1"


def test_compute_task_is_idempotent_per_refresh(refresh_run):
    index = Index.objects.get(slug="autoindex")

    first = compute_index(index_id=index.pk, refresh_run_id=refresh_run.pk)
    second = compute_index(index_id=index.pk, refresh_run_id=refresh_run.pk)

    assert first == {
        "index": "autoindex",
        "run_id": IndexRun.objects.get().pk,
        "status": "published",
    }
    assert second == {"index": "autoindex", "skipped": "already computed for this refresh"}
    assert IndexRun.objects.count() == 1
