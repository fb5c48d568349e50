"""The compute task: computes and publishes, once per refresh (the chain is in
test_nightly_chain.py)."""

import pytest
from django.core.management import call_command

from market.models import RefreshRun
from portfolio.models import Index, IndexRun
from portfolio.tasks import compute_index

pytestmark = pytest.mark.django_db


@pytest.fixture
def refresh_run():
    call_command("load_demo_data", verbosity=0)
    return RefreshRun.objects.create(
        trigger=RefreshRun.Trigger.BEAT,
        status=RefreshRun.Status.SUCCEEDED,
        request_id="req-chain-1",
    )


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
