"""Staff members logged in to the real admin, each with the role that may do the write."""

from __future__ import annotations

import pytest

from tests.admin.helpers import Staff
from tests.factories import AdminRoleFactory, AnalystFactory, UserFactory


@pytest.fixture
def analyst(client) -> Staff:
    """An analyst with admin access: edits assets, strategies and indexes, triggers jobs."""
    user = AnalystFactory(is_staff=True, email="analyst@example.com")
    client.force_login(user)
    return Staff(client, user)


@pytest.fixture
def user_admin(client) -> Staff:
    """A member of the admin role: manages users and their roles."""
    user = AdminRoleFactory(is_staff=True, email="useradmin@example.com")
    client.force_login(user)
    return Staff(client, user)


@pytest.fixture
def superuser(client) -> Staff:
    """A superuser: the only one who may delete indexes and users."""
    user = UserFactory(is_staff=True, is_superuser=True, email="root@example.com")
    client.force_login(user)
    return Staff(client, user)
