"""Roles are Django groups: ``viewer`` ⊂ ``analyst`` ⊂ ``admin`` (each includes the one before).

- viewer: read the catalogue, prices and published index data; run simulations.
- analyst: + edit assets and strategies, trigger market refreshes and index computes.
- admin: + manage users and their roles, read the audit log.

A superuser counts as admin. The groups and their model permissions are created by a data
migration (``accounts/migrations/0003_roles``) through :func:`sync_role_permissions`; a later
migration that adds models calls it again to grant their permissions.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from django.apps import apps as global_apps
from django.db.models import Q

logger = logging.getLogger(__name__)


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"


ROLE_RANK: dict[Role, int] = {Role.VIEWER: 1, Role.ANALYST: 2, Role.ADMIN: 3}

# Model permissions granted to each role, as "app_label.codename". A role also gets every
# permission of the roles below it. Codenames of models that do not exist (yet) are skipped.
_VIEWER_PERMISSIONS = (
    "market.view_asset",
    "market.view_price",
    "strategy.view_strategyconfig",
    "portfolio.view_index",
    "portfolio.view_indexrun",
    "portfolio.view_indexvalue",
    "portfolio.view_allocation",
)
_ANALYST_PERMISSIONS = (
    "market.add_asset",
    "market.change_asset",
    "market.delete_asset",
    "market.view_historicalasset",
    "market.view_refreshrun",
    "market.add_refreshrun",
    "market.view_pricerevision",
    "market.view_quarantinedbar",
    "market.change_quarantinedbar",  # accept or reject a quarantined bar
    # The engine's dated inputs (corporate actions, market caps): corrected by analysts, with
    # history; never deleted by them (a wrong row is corrected, the history keeps both).
    "market.view_split",
    "market.add_split",
    "market.change_split",
    "market.view_historicalsplit",
    "market.view_dividend",
    "market.add_dividend",
    "market.change_dividend",
    "market.view_historicaldividend",
    "market.view_marketcap",
    "market.add_marketcap",
    "market.change_marketcap",
    "market.view_historicalmarketcap",
    "strategy.add_strategyconfig",
    "strategy.change_strategyconfig",
    "strategy.delete_strategyconfig",
    "strategy.view_historicalstrategyconfig",
    "portfolio.add_index",
    "portfolio.change_index",
    # Dated universe membership, edited on the index page (history keeps every window).
    "portfolio.view_indexmembership",
    "portfolio.add_indexmembership",
    "portfolio.change_indexmembership",
    "portfolio.delete_indexmembership",
    "portfolio.view_historicalindexmembership",
    "portfolio.add_indexrun",
    "portfolio.change_indexrun",
)
_ADMIN_PERMISSIONS = (
    "accounts.view_user",
    "accounts.add_user",
    "accounts.change_user",
    "accounts.view_auditevent",
    "auth.view_group",
    "token_blacklist.view_outstandingtoken",
    "token_blacklist.view_blacklistedtoken",
    "token_blacklist.add_blacklistedtoken",
    "django_celery_beat.view_periodictask",
    "django_celery_beat.change_periodictask",
)
ROLE_PERMISSIONS: dict[Role, tuple[str, ...]] = {
    Role.VIEWER: _VIEWER_PERMISSIONS,
    Role.ANALYST: _VIEWER_PERMISSIONS + _ANALYST_PERMISSIONS,
    Role.ADMIN: _VIEWER_PERMISSIONS + _ANALYST_PERMISSIONS + _ADMIN_PERMISSIONS,
}

_ROLE_CACHE_ATTR = "_autoindex_role"


def sync_role_permissions(apps: Any = None, using: str = "default") -> dict[str, list[str]]:
    """Create the role groups if missing and grant each its permissions that exist.

    Idempotent and additive: permissions a staff member granted by hand are kept. Returns,
    per role, the permissions that could not be granted because their model does not exist
    yet (call again from a later migration once it does). ``apps`` is the migration's
    historical registry (the global one when called from code).
    """
    registry = apps or global_apps
    group_model = registry.get_model("auth", "Group")
    permission_model = registry.get_model("auth", "Permission")
    missing: dict[str, list[str]] = {}
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.using(using).get_or_create(name=role.value)
        condition = Q(pk__in=[])
        for label in wanted:
            app_label, codename = label.split(".", 1)
            condition |= Q(content_type__app_label=app_label, codename=codename)
        found = list(
            permission_model.objects.using(using)
            .filter(condition)
            .values_list("pk", "content_type__app_label", "codename")
        )
        group.permissions.add(*(pk for pk, _, _ in found))
        granted = {f"{app_label}.{codename}" for _, app_label, codename in found}
        missing[role.value] = sorted(set(wanted) - granted)
        if missing[role.value]:
            logger.info(
                "role permissions not granted yet (model missing)",
                extra={"role": role.value, "permissions": missing[role.value]},
            )
    return missing


def user_role(user: Any) -> Role | None:
    """The highest role a user holds (superusers are admins); ``None`` without a role.

    Cached on the user object for the request, so permission checks and throttles share one
    query (none when authentication restored it from ``accounts.user_cache``).
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    if hasattr(user, _ROLE_CACHE_ATTR):
        return getattr(user, _ROLE_CACHE_ATTR)
    role = Role.ADMIN if user.is_superuser else role_of_groups(user)
    remember_role(user, role)
    return role


def role_of_groups(user: Any, *, using: str | None = None) -> Role | None:
    """The highest role among the user's groups (one query, on the ``using`` database when
    given); ``None`` without a role group."""
    groups = user.groups.all() if using is None else user.groups.all().using(using)
    names = set(groups.values_list("name", flat=True))
    held = [r for r in Role if r.value in names]
    return max(held, key=ROLE_RANK.__getitem__) if held else None


def remember_role(user: Any, role: Role | None) -> None:
    """Cache ``role`` on the user object for the request (``accounts.user_cache`` sets it from
    its snapshot, so a cached request asks nothing)."""
    setattr(user, _ROLE_CACHE_ATTR, role)


def user_has_role(user: Any, role: Role) -> bool:
    """True when the user's role is ``role`` or above it (admin ⊇ analyst ⊇ viewer)."""
    held = user_role(user)
    return held is not None and ROLE_RANK[held] >= ROLE_RANK[role]


def roles_of(user: Any) -> list[str]:
    """Every role the user effectively has, lowest first (an analyst is also a viewer)."""
    held = user_role(user)
    if held is None:
        return []
    return [role.value for role in Role if ROLE_RANK[role] <= ROLE_RANK[held]]


def forget_cached_role(user: Any) -> None:
    """Drop the per-request cache after changing a user's groups, active or staff flags, and
    the user's cached authentication snapshot (``accounts.user_cache``): the user's next
    request reads the new role and state."""
    if hasattr(user, _ROLE_CACHE_ATTR):
        delattr(user, _ROLE_CACHE_ATTR)
    if getattr(user, "pk", None) is not None:
        from .user_cache import user_snapshot_forget  # the cache module imports this one

        user_snapshot_forget(user_id=user.pk)
