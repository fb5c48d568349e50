"""Account writes."""

from __future__ import annotations

import secrets

from django.db import transaction

from .models import User

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
