"""Index run admin: read-only records, a publish action, bounded queries."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from portfolio.models import Index, IndexRun
from portfolio.services import index_run_compute
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def two_runs():
    call_command("load_demo_data", verbosity=0)
    index = Index.objects.get(slug="autoindex")
    first = index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)
    second = index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)
    first.refresh_from_db()
    return first, second


def test_publish_action_republishes_an_older_run(admin_client_logged_in, two_runs):
    first, second = two_runs
    assert (first.status, second.status) == ("superseded", "published")

    response = admin_client_logged_in.post(
        reverse("admin:portfolio_indexrun_changelist"),
        {"action": "publish_run", "_selected_action": [first.pk]},
        follow=True,
    )

    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("published", "superseded")
    assert [str(message) for message in response.context["messages"]] == [
        f"Run #{first.pk} of AutoIndex is now published."
    ]


def test_publish_action_refuses_a_failed_run(admin_client_logged_in):
    index = Index.objects.get(slug="autoindex")
    failed = IndexRun.objects.create(index=index, trigger="cli", status=IndexRun.Status.FAILED)

    response = admin_client_logged_in.post(
        reverse("admin:portfolio_indexrun_changelist"),
        {"action": "publish_run", "_selected_action": [failed.pk]},
        follow=True,
    )

    failed.refresh_from_db()
    assert failed.status == IndexRun.Status.FAILED
    assert [str(message) for message in response.context["messages"]] == [
        "only a succeeded or superseded run can be published, not failed"
    ]


def test_run_pages_render_with_bounded_queries(
    admin_client_logged_in, two_runs, django_assert_max_num_queries
):
    first, _ = two_runs
    with django_assert_max_num_queries(12):
        listing = admin_client_logged_in.get(reverse("admin:portfolio_indexrun_changelist"))
    # The run page also reads its charts' series: levels, the benchmark's closes, splits and
    # dividends, allocations — a fixed number of queries, whatever the run's length
    # (tests/admin/test_charts_admin.py), and its live state box.
    with django_assert_max_num_queries(20):
        detail = admin_client_logged_in.get(
            reverse("admin:portfolio_indexrun_change", args=[first.pk])
        )
    assert (listing.status_code, detail.status_code) == (200, 200)
    assert len(listing.context["cl"].result_list) == 2


def test_strategy_and_index_admin_pages_render(admin_client_logged_in):
    index = Index.objects.get(slug="autoindex")
    for url in (
        reverse("admin:strategy_strategyconfig_change", args=[index.strategy_id]),
        reverse("admin:portfolio_index_change", args=[index.pk]),
        reverse("admin:portfolio_index_changelist"),
    ):
        assert admin_client_logged_in.get(url).status_code == 200


def test_compute_index_unless_published_skips_a_published_index(capsys):
    call_command("load_demo_data", verbosity=0)
    call_command("compute_index", "autoindex", "--unless-published", verbosity=0)
    call_command("compute_index", "autoindex", "--unless-published", verbosity=0)

    assert IndexRun.objects.count() == 1
    assert capsys.readouterr().out.strip().endswith("autoindex: already published, nothing to do")
