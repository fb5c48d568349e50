"""The API fixtures (clients, role users) for the accounts tests."""

from tests.api.conftest import api_client, client_as, make_user

__all__ = ["api_client", "client_as", "make_user"]
