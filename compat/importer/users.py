"""MVP users → our users: bcrypt hashes kept (Django's bcrypt hasher), all as viewers.

An MVP hash ``$2b$12$…`` is stored as ``bcrypt$$2b$12$…``, the form Django's
``BCryptPasswordHasher`` writes, so the user signs in with their MVP password and the hash is
upgraded to our preferred hasher on that first sign-in. Google users (the MVP issued them
tokens without a password) get an unusable password. Users are never changed once here: an
e-mail already registered (imported before, or signed up on its own) is left as it is.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable

from django.contrib.auth.hashers import get_hasher
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Lower

from accounts.models import AuditEvent, User
from accounts.roles import Role
from accounts.services import audit_record

from .reader import MvpUser
from .summary import ImportSummary

# Recorded with each imported user's audit event; finds the users an earlier run imported.
IMPORT_SOURCE = "mvp-import"
BCRYPT_HASH = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")
BCRYPT_ALGORITHM = "bcrypt"


class BcryptHasherMissingError(Exception):
    """``PASSWORD_HASHERS`` lacks Django's bcrypt hasher: imported hashes would never match."""


def bcrypt_hasher_check() -> None:
    """Raise :class:`BcryptHasherMissingError` unless the bcrypt hasher is configured."""
    try:
        get_hasher(BCRYPT_ALGORITHM)
    except ValueError:
        raise BcryptHasherMissingError(
            "PASSWORD_HASHERS must include django.contrib.auth.hashers.BCryptPasswordHasher "
            "to import the MVP's bcrypt password hashes"
        ) from None


def users_import(users: Iterable[MvpUser], *, summary: ImportSummary) -> None:
    """Create the MVP users that are not here yet, as viewers; count every user in ``summary``.

    Runs in the import's transaction. Two queries for what exists, then per new user one
    insert, its role and its audit event (``accounts.user_created`` with
    ``source: mvp-import``; never the hash).
    """
    counts = summary.entity("users")
    existing = dict(
        User.objects.annotate(email_lower=Lower("email")).values_list("email_lower", "pk")
    )
    imported_before = set(
        AuditEvent.objects.filter(
            action=AuditEvent.Action.USER_CREATED,
            target_type=User._meta.label_lower,
            details__source=IMPORT_SOURCE,
        ).values_list("target_id", flat=True)
    )
    viewer = Group.objects.get_or_create(name=Role.VIEWER.value)[0]
    google = unusable = 0
    for mvp_user in users:
        counts.read += 1
        key = mvp_user.email.strip().lower()
        if key in existing:
            if str(existing[key]) in imported_before:
                counts.unchanged += 1
            else:
                counts.skip("e-mail already registered here (that account is kept as it is)")
            continue
        password = _stored_password(mvp_user)
        try:
            user = _user_create(mvp_user, password=password, viewer=viewer)
        except ValidationError as error:
            counts.skip(f"not a valid account ({'; '.join(error.messages)})")
            continue
        existing[key] = user.pk
        counts.created += 1
        if mvp_user.is_google_user:
            google += 1
        elif password is None:
            unusable += 1
    if google:
        summary.note(f"users: {google} Google users created without a usable password")
    if unusable:
        summary.note(
            f"users: {unusable} created without a usable password (their MVP hash is not bcrypt)"
        )


def _stored_password(mvp_user: MvpUser) -> str | None:
    """The password field for ``mvp_user``: the bcrypt hash in Django's form, or ``None``
    (unusable) for a Google user or a hash that is not bcrypt."""
    if mvp_user.is_google_user or not BCRYPT_HASH.match(mvp_user.password_hash):
        return None
    return f"{BCRYPT_ALGORITHM}${mvp_user.password_hash}"


@transaction.atomic
def _user_create(mvp_user: MvpUser, *, password: str | None, viewer: Group) -> User:
    """One imported user with the viewer role, audited; ``ValidationError`` (nothing saved)
    for an e-mail our model refuses."""
    user = User(
        email=User.objects.normalize_email(mvp_user.email.strip()),
        date_joined=_aware_utc(mvp_user.created_at),
    )
    if password is None:
        user.set_unusable_password()
    else:
        user.password = password
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.add(viewer)
    audit_record(
        action=AuditEvent.Action.USER_CREATED,
        actor=None,
        target=user,
        details={
            "email": user.email,
            "usable_password": password is not None,
            "google_user": mvp_user.is_google_user,
            "source": IMPORT_SOURCE,
            "mvp_user_id": mvp_user.id,
        },
    )
    return user


def _aware_utc(moment: datetime.datetime | None) -> datetime.datetime:
    """The MVP's naive-UTC timestamp as an aware one (now when it had none)."""
    if moment is None:
        return datetime.datetime.now(tz=datetime.UTC)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)
