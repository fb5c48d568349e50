"""Asset admin pages render with a bounded number of queries, whatever the number of assets."""

import factory
import pytest
from django.urls import reverse

from market.models import Asset
from tests.factories import AssetFactory, PriceFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_logged_in(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_changelist_shows_latest_price_and_count_without_n_plus_one(
    admin_client_logged_in, django_assert_max_num_queries
):
    created = AssetFactory.create_batch(30, symbol=factory.Sequence(lambda n: f"ZZ{n:03d}"))
    for asset in created:
        PriceFactory.create_batch(3, asset=asset)

    with django_assert_max_num_queries(12):
        response = admin_client_logged_in.get(reverse("admin:market_asset_changelist"), {"q": "ZZ"})

    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert [row.symbol for row in rows] == [asset.symbol for asset in created]
    assert {row._price_count for row in rows} == {3}


def test_changelist_hides_deleted_by_default_and_filters_them(admin_client_logged_in):
    AssetFactory(symbol="ZZLIVE")
    AssetFactory(symbol="ZZGONE").delete()

    alive = admin_client_logged_in.get(reverse("admin:market_asset_changelist"), {"q": "ZZ"})
    deleted = admin_client_logged_in.get(
        reverse("admin:market_asset_changelist"), {"deleted": "deleted"}
    )

    assert [a.symbol for a in alive.context["cl"].result_list] == ["ZZLIVE"]
    assert [a.symbol for a in deleted.context["cl"].result_list] == ["ZZGONE"]


def test_change_page_renders_with_bounded_queries(
    admin_client_logged_in, django_assert_max_num_queries
):
    asset = AssetFactory()
    PriceFactory.create_batch(40, asset=asset)

    with django_assert_max_num_queries(15):
        response = admin_client_logged_in.get(reverse("admin:market_asset_change", args=[asset.pk]))

    assert response.status_code == 200
    assert response.context["adminform"].form.instance._price_count == 40
    assert response.content.count(b"<tr><td>") == 20  # the 20 most recent prices


def test_soft_delete_and_restore_actions(admin_client_logged_in):
    asset = AssetFactory(symbol="ACT")
    url = reverse("admin:market_asset_changelist")

    admin_client_logged_in.post(
        url, {"action": "soft_delete_selected", "_selected_action": [asset.pk]}
    )
    assert Asset.all_objects.get(pk=asset.pk).deleted_at is not None

    admin_client_logged_in.post(
        url + "?deleted=deleted", {"action": "restore_selected", "_selected_action": [asset.pk]}
    )
    assert Asset.objects.get(pk=asset.pk).deleted_at is None


def test_history_page_renders(admin_client_logged_in):
    asset = AssetFactory()
    response = admin_client_logged_in.get(reverse("admin:market_asset_history", args=[asset.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "model", ["market.refreshrun", "market.pricerevision", "accounts.auditevent"]
)
def test_system_records_are_read_only_in_the_admin(admin_client_logged_in, model):
    from django.apps import apps
    from django.contrib import admin as django_admin

    model_admin = django_admin.site._registry[apps.get_model(model)]
    request = admin_client_logged_in.get(reverse("admin:index")).wsgi_request

    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
