"""``manage.py ensure_demo_admin``: create the local demo superuser once and print its password."""

from __future__ import annotations

from typing import Any

from accounts.services import demo_admin_ensure
from core.management.base import OperationalCommand


class Command(OperationalCommand):
    help = "Create the demo admin user (first run only) and print its e-mail and password."

    def handle(self, *args: Any, **options: Any) -> None:
        user, password = demo_admin_ensure()
        if password is None:
            self.stdout.write(f"demo admin exists: {user.email} (password shown on first run)")
        else:
            self.stdout.write(
                self.style.SUCCESS(f"demo admin created: {user.email} password: {password}")
            )
