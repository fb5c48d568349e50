"""``manage.py grant_role EMAIL ROLE [--create]``: give a user one role (viewer, analyst, admin).

Through :func:`accounts.services.user_role_set`, so the change is in the audit log like one made
in the admin. ``--create`` creates a missing user first (audited) with a random password,
printed once.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import CommandError, CommandParser

from accounts.models import User
from accounts.roles import Role, role_of_groups
from accounts.services import user_create, user_role_set
from core.management.base import OperationalCommand


class Command(OperationalCommand):
    help = (
        "Give a user exactly one role: viewer (read the API), analyst (+ edit assets and "
        "strategies, refresh, compute; the admin) or admin (+ users, roles, audit log). Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the user's e-mail (their login)")
        parser.add_argument("role", choices=[role.value for role in Role])
        parser.add_argument(
            "--create",
            action="store_true",
            help="create the user when missing, with a random password (printed once)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email, role = options["email"], Role(options["role"])
        user = User.objects.filter(email__iexact=email).first()
        password = None
        if user is None:
            if not options["create"]:
                raise CommandError(f"no user {email} (add --create to create one)")
            password = secrets.token_urlsafe(12)
            user = user_create(email=email, password=password, actor=None)
        before = "superuser" if user.is_superuser else (role_of_groups(user) or "no role")
        try:
            event = user_role_set(user=user, role=role, actor=None)
        except ValueError as error:
            raise CommandError(str(error)) from None
        user.refresh_from_db()
        change = f"{before} -> {role.value}" if event is not None else f"already {role.value}"
        staff = "can sign in to the admin" if user.is_staff else "API only (not staff)"
        self.stdout.write(self.style.SUCCESS(f"{user.email}: {change}; {staff}"))
        if password is not None:
            self.stdout.write(f"created {user.email} with password: {password}")
