"""Routes of the market API, included under ``/api/v2/`` by ``config/api_urls.py``."""

from django.urls import path, register_converter

from . import views


class SymbolConverter:
    """Asset symbols as stored: upper case, may contain ``/`` (``EUR/USD``), ``.``, ``^``, ``-``.

    Lower-case letters are excluded, so ``assets/EUR/USD/prices/`` cannot be read as the
    symbol ``EUR/USD/prices``.
    """

    regex = r"[A-Z0-9.^-]{1,20}(?:/[A-Z0-9.^-]{1,20})?"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(SymbolConverter, "symbol")

urlpatterns = [
    path("assets/", views.AssetListCreateView.as_view(), name="asset-list"),
    path("assets/<symbol:symbol>/", views.AssetDetailView.as_view(), name="asset-detail"),
    path("assets/<symbol:symbol>/restore/", views.AssetRestoreView.as_view(), name="asset-restore"),
    path("assets/<symbol:symbol>/prices/", views.AssetPriceListView.as_view(), name="asset-prices"),
    path("currencies/", views.CurrencyListView.as_view(), name="currency-list"),
    path("jobs/refresh/", views.RefreshJobListCreateView.as_view(), name="refresh-job-list"),
    path("jobs/refresh/<int:pk>/", views.RefreshJobDetailView.as_view(), name="refresh-job-detail"),
]
