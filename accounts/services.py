"""Account writes: demo admin, registration, role changes and the audit log."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, update_last_login
from django.core.exceptions import ValidationError
from django.db import models, transaction

from core.errors import ApplicationError, ConflictError, ErrorCode
from core.history import field_changes, history_user_set
from core.request_context import current_client_ip, current_request_id
from core.throttling import BruteForceLimited, brute_force_check, client_ip

from .models import AuditEvent, User
from .roles import Role, forget_cached_role
from .tokens import (
    RefreshTokenReusedError,
    TokenPair,
    token_pair_issue,
    token_refresh,
    token_revoke,
)

DEMO_ADMIN_EMAIL = "admin@autoindex.local"


@transaction.atomic
def demo_admin_ensure(*, email: str = DEMO_ADMIN_EMAIL) -> tuple[User, str | None]:
    """Create the local demo superuser once; return it and its new random password.

    The password is ``None`` when the user already existed (it is never reset or stored in
    clear anywhere).
    """
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing, None
    password = secrets.token_urlsafe(12)
    return User.objects.create_superuser(email=email, password=password), password


# AUDIT LOG

# What a write changed: ``{field: (old, new)}``, as the services return it.
FieldChanges: TypeAlias = Mapping[str, tuple[Any, Any]]


def changes_details(changes: FieldChanges) -> dict[str, Any]:
    """An audit event's ``details`` for a change: ``{"changes": {field: {"old", "new"}}}``."""
    return {"changes": {field: {"old": old, "new": new} for field, (old, new) in changes.items()}}


def audit_record(
    *,
    action: str,
    actor: Any = None,
    target: models.Model | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
    actor_email: str | None = None,
) -> AuditEvent:
    """Append one audit event; returns it. Never updates or deletes anything.

    ``actor`` may be a user, ``None`` or an anonymous user (recorded as no actor);
    ``actor_email`` overrides the recorded e-mail (a failed login records the attempted one).
    ``request_id`` and ``ip`` default to those of the request being served (set by the
    request-id middleware; empty for tasks and commands). Runs in the caller's
    transaction, so an audited change and its event commit (or roll back) together.
    ``details`` must be JSON-serialisable (dates and decimals are fine); never put secrets
    or tokens in it.
    """
    user = actor if (actor is not None and getattr(actor, "is_authenticated", False)) else None
    target_type = target_id = target_repr = ""
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
        target_repr = str(target)[:200]
    return AuditEvent.objects.create(
        action=action,
        actor=user,
        actor_email=(actor_email if actor_email is not None else (user.email if user else ""))[
            :254
        ],
        target_type=target_type,
        target_id=target_id,
        target_repr=target_repr,
        ip=ip or current_client_ip() or None,
        request_id=request_id or current_request_id() or "",
        details=details or {},
    )


@transaction.atomic
def soft_delete_audited(*, obj: Any, actor: Any, action: str) -> bool:
    """Soft-delete ``obj`` (a ``SoftDeleteModel``) and record ``action``; ``False`` (and nothing
    recorded) when it was already deleted. The history record names ``actor``."""
    if obj.deleted_at is not None:
        return False
    history_user_set(obj, actor)
    obj.delete()
    audit_record(action=action, actor=actor, target=obj)
    return True


@transaction.atomic
def restore_audited(*, obj: Any, actor: Any, action: str) -> None:
    """Bring a soft-deleted ``obj`` back and record ``action``.

    Raises :class:`~core.errors.ConflictError` when a live row already holds its unique key
    (e.g. a re-created symbol), with nothing changed.
    """
    history_user_set(obj, actor)
    try:
        with transaction.atomic():
            obj.restore()
    except ValidationError as error:
        obj.deleted_at = obj._meta.model._base_manager.get(pk=obj.pk).deleted_at
        raise ConflictError("; ".join(error.messages)) from None
    audit_record(action=action, actor=actor, target=obj)


def audit_from_request(
    request: Any,
    *,
    action: str,
    target: models.Model | None = None,
    details: dict[str, Any] | None = None,
    actor: Any = None,
    actor_email: str | None = None,
) -> AuditEvent:
    """:func:`audit_record` with the actor (unless given), IP and request id of ``request``."""
    return audit_record(
        action=action,
        actor=actor if actor is not None else getattr(request, "user", None),
        target=target,
        ip=client_ip(request),
        details=details,
        request_id=getattr(request, "request_id", None),
        actor_email=actor_email,
    )


# USERS AND ROLES


@transaction.atomic
def user_register(*, email: str, password: str, first_name: str = "", last_name: str = "") -> User:
    """Create an active, non-staff user with the viewer role; audited (``auth.registered``).

    Preconditions: the password passed Django's validators and the e-mail is not taken
    (the input serializer checks both; the database constraint still rejects a race).
    """
    user = User.objects.create_user(
        email=email, password=password, first_name=first_name, last_name=last_name
    )
    user.groups.add(Group.objects.get_or_create(name=Role.VIEWER.value)[0])
    forget_cached_role(user)
    audit_record(action=AuditEvent.Action.REGISTERED, actor=user, target=user)
    return user


# Fields of a user that staff edit in the admin and that are audited when they change (the
# password is never recorded; roles are audited by :func:`role_changes_audit`).
USER_AUDITED_FIELDS = ("email", "first_name", "last_name", "is_active", "is_staff", "is_superuser")


@transaction.atomic
def user_create(*, email: str, password: str | None, actor: Any) -> User:
    """Create a user (staff in the admin; ``password`` ``None`` = unusable) and audit it."""
    user = User.objects.create_user(email=email, password=password)
    audit_record(
        action=AuditEvent.Action.USER_CREATED,
        actor=actor,
        target=user,
        details={"email": user.email, "usable_password": password is not None},
    )
    return user


@transaction.atomic
def user_update(*, user: User, changes: Mapping[str, Any], actor: Any) -> FieldChanges:
    """Apply ``changes`` (fields of :data:`USER_AUDITED_FIELDS`), audit them, return the diff.

    ``user`` holds the stored values. Validates the row (``ValidationError``); saves and
    records nothing when nothing changed. A deactivation or a change of the staff flags takes
    effect on the user's next request (the cached role is dropped).
    """
    unknown = set(changes) - set(USER_AUDITED_FIELDS)
    if unknown:
        raise ValueError(f"not editable here: {', '.join(sorted(unknown))}")
    diff = field_changes(user, changes)
    if not diff:
        return {}
    for field, (_, new) in diff.items():
        setattr(user, field, new)
    user.full_clean(exclude=["password"])
    user.save(update_fields=list(diff))
    forget_cached_role(user)
    audit_record(
        action=AuditEvent.Action.USER_UPDATED,
        actor=actor,
        target=user,
        details=changes_details(diff),
    )
    return diff


def role_changes_audit(
    *,
    user: User,
    before: Iterable[str],
    after: Iterable[str],
    actor: Any,
    ip: str | None = None,
) -> AuditEvent | None:
    """Record a change of ``user``'s groups (role assignment); nothing when unchanged."""
    event = _set_change_audit(
        AuditEvent.Action.ROLE_CHANGED, "groups", user, before, after, actor=actor, ip=ip
    )
    if event is not None:
        forget_cached_role(user)
    return event


@transaction.atomic
def user_role_set(*, user: User, role: Role, actor: Any) -> AuditEvent | None:
    """Make ``role`` the user's one role (its group; groups that are not roles are kept) and
    audit the change (``accounts.role_changed``); nothing when it already is.

    Analysts and admins work in the Django admin, so they get ``is_staff`` (audited as a user
    update); a viewer loses it. A superuser is an admin whatever its groups: asking a lesser
    role of one is a ``ValueError`` (clear ``is_superuser`` first). Takes effect on the user's
    next request (the cached role is dropped).
    """
    if user.is_superuser and role != Role.ADMIN:
        raise ValueError(f"{user.email} is a superuser (always admin): clear is_superuser first")
    role_names = {member.value for member in Role}
    before = set(user.groups.values_list("name", flat=True))
    after = (before - role_names) | {role.value}
    if before != after:
        user.groups.remove(*Group.objects.filter(name__in=(before & role_names) - {role.value}))
        user.groups.add(Group.objects.get_or_create(name=role.value)[0])
    staff = user.is_superuser or role in (Role.ANALYST, Role.ADMIN)
    user_update(user=user, changes={"is_staff": staff}, actor=actor)
    return role_changes_audit(user=user, before=before, after=after, actor=actor)


def permission_changes_audit(
    *, user: User, before: Iterable[str], after: Iterable[str], actor: Any
) -> AuditEvent | None:
    """Record a change of the permissions granted to ``user`` directly (``app.codename``, not
    through a role); nothing when unchanged."""
    return _set_change_audit(
        AuditEvent.Action.PERMISSIONS_CHANGED, "permissions", user, before, after, actor=actor
    )


def role_permissions_audit(
    *, group: Group, before: Iterable[str], after: Iterable[str], actor: Any
) -> AuditEvent | None:
    """Record a change of what a role (group) may do in the admin; nothing when unchanged."""
    return _set_change_audit(
        AuditEvent.Action.ROLE_PERMISSIONS_CHANGED, "permissions", group, before, after, actor=actor
    )


def _set_change_audit(
    action: str,
    name: str,
    target: models.Model,
    before: Iterable[str],
    after: Iterable[str],
    *,
    actor: Any,
    ip: str | None = None,
) -> AuditEvent | None:
    """One event for a changed set (``added``, ``removed`` and the new set under ``name``)."""
    before_set, after_set = set(before), set(after)
    if before_set == after_set:
        return None
    return audit_record(
        action=action,
        actor=actor,
        target=target,
        ip=ip,
        details={
            "added": sorted(after_set - before_set),
            "removed": sorted(before_set - after_set),
            name: sorted(after_set),
        },
    )


@transaction.atomic
def user_delete(*, user: User, actor: Any) -> None:
    """Delete ``user`` (staff in the admin; their audit events keep the e-mail) and audit it."""
    audit_record(
        action=AuditEvent.Action.USER_DELETED,
        actor=actor,
        target=user,
        details={"email": user.email},
    )
    user.delete()


# SIGN-IN


def login_with_password(*, request: Any, email: str, password: str) -> tuple[User, TokenPair]:
    """Check e-mail + password and issue a token pair; every outcome is audited.

    Preconditions: the caller already counted the attempt against the brute-force limits.
    Raises :class:`InvalidCredentialsError` (401, the same answer for an unknown e-mail, a wrong
    password and an inactive user, so accounts cannot be enumerated).
    """
    user = authenticate(getattr(request, "_request", request), email=email, password=password)
    if not isinstance(user, User):
        audit_from_request(
            request,
            action=AuditEvent.Action.LOGIN_FAILED,
            actor_email=email.lower(),
            details={"reason": "invalid-credentials"},
        )
        raise InvalidCredentialsError("E-mail or password is incorrect.")
    with transaction.atomic():
        pair = token_pair_issue(user=user)
        update_last_login(type(user), user)
        audit_from_request(request, action=AuditEvent.Action.LOGIN_SUCCEEDED, actor=user)
    return user, pair


def session_refresh(*, raw: str) -> tuple[User, TokenPair]:
    """Rotate a refresh token (:func:`~accounts.tokens.token_refresh`).

    A rotated token presented again is a stolen or replayed one: ``token_refresh`` revokes the
    user's sessions and raises :class:`~accounts.tokens.RefreshTokenReusedError`, which is
    audited here (``auth.token_reuse``, committed even though the request fails) and re-raised.
    """
    try:
        return token_refresh(raw=raw)
    except RefreshTokenReusedError as reuse:
        audit_record(
            action=AuditEvent.Action.TOKEN_REUSE,
            actor=reuse.user,
            details={"jti": reuse.jti, "sessions_revoked": reuse.revoked},
        )
        raise


def session_logout(*, raw: str) -> User | None:
    """Revoke a refresh token (:func:`~accounts.tokens.token_revoke`) and audit the logout."""
    user = token_revoke(raw=raw)
    audit_record(action=AuditEvent.Action.LOGOUT, actor=user)
    return user


def attempt_limits_apply(*, request: Any, group: str, email: str, limits: Any) -> None:
    """Count a sign-in or registration attempt against the brute-force ``limits``.

    Raises :class:`~core.throttling.BruteForceLimited` (429) when a limit is exceeded; the
    first refusal of a window is audited (``auth.rate_limited``, with the attempted e-mail).
    """
    try:
        brute_force_check(request, group=group, limits=limits)
    except BruteForceLimited as limited:
        if limited.first_block:
            audit_from_request(
                request,
                action=AuditEvent.Action.RATE_LIMITED,
                actor_email=email.strip().lower()[:254],
                details={"endpoint": group, "limit": limited.limit},
            )
        raise


class InvalidCredentialsError(ApplicationError):
    code = ErrorCode.INVALID_CREDENTIALS
    status_code = 401
    title = "Invalid credentials"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})
