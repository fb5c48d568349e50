"""The v2 REST API (``/api/v2/…``, URL namespace ``api``): every app's ``api/urls.py``.

Names are reversed as ``reverse("api:<name>", kwargs={"version": "v2"})``. Every route here
needs a row in ``tests/api/test_permission_matrix.py`` (the test fails otherwise).
"""

from django.urls import include, path

from accounts.event_stream import events_view

app_name = "api"

urlpatterns = [
    path("", include("accounts.api.urls")),
    path("", include("market.api.urls")),
    path("", include("portfolio.api.urls")),
    path("", include("strategy.api.urls")),
    # Server-Sent Events (docs/events.md); open-ended on the ``stream`` process (ASGI).
    path("events/", events_view, name="events"),
]
