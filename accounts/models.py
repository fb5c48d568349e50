"""Users log in with their e-mail address; roles are Django groups (viewer, analyst, admin)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Lower


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: Any) -> User:
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(
        self, email: str, password: str | None = None, **extra_fields: Any
    ) -> User:
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not (extra_fields["is_staff"] and extra_fields["is_superuser"]):
            raise ValueError("A superuser needs is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractUser):
    """A person using the API or the admin. ``email`` is the login and is unique ignoring case."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("e-mail address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_uniq",
                violation_error_message="A user with this e-mail address already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.email


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise TypeError("Audit events are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only.")


class AuditEvent(models.Model):
    """One security-relevant event: who did what to which object, from where, when.

    Append-only: rows are written by ``accounts.services.audit_record`` and never changed or
    deleted by the application (the admin is read-only; ``save()`` refuses updates and the
    queryset refuses bulk ``update()``/``delete()``). ``actor_email`` keeps the actor readable
    after the user row is gone.
    """

    class Action(models.TextChoices):
        LOGIN_SUCCEEDED = "auth.login_succeeded", "Login succeeded"
        LOGIN_FAILED = "auth.login_failed", "Login failed"
        LOGOUT = "auth.logout", "Logout"
        TOKEN_REFRESHED = "auth.token_refreshed", "Token refreshed"
        TOKEN_REUSE = "auth.token_reuse", "Rotated refresh token reused"
        RATE_LIMITED = "auth.rate_limited", "Brute-force limit hit"
        REGISTERED = "auth.registered", "User registered"
        ROLE_CHANGED = "accounts.role_changed", "Roles changed"
        ASSET_CREATED = "market.asset_created", "Asset created"
        ASSET_UPDATED = "market.asset_updated", "Asset updated"
        ASSET_DELETED = "market.asset_deleted", "Asset deleted"
        ASSET_RESTORED = "market.asset_restored", "Asset restored"
        REFRESH_TRIGGERED = "market.refresh_triggered", "Market refresh triggered"
        QUARANTINE_ACCEPTED = "market.quarantine_accepted", "Quarantined bar accepted (stored)"
        QUARANTINE_REJECTED = "market.quarantine_rejected", "Quarantined bar rejected"
        STRATEGY_CREATED = "strategy.created", "Strategy created"
        STRATEGY_CHANGED = "strategy.changed", "Strategy changed"
        STRATEGY_DELETED = "strategy.deleted", "Strategy deleted"
        STRATEGY_RESTORED = "strategy.restored", "Strategy restored"
        INDEX_CREATED = "portfolio.index_created", "Index created"
        INDEX_UPDATED = "portfolio.index_updated", "Index updated"
        INDEX_DELETED = "portfolio.index_deleted", "Index deleted"
        INDEX_RESTORED = "portfolio.index_restored", "Index restored"
        COMPUTE_TRIGGERED = "portfolio.compute_triggered", "Index compute triggered"
        RUN_PUBLISHED = "portfolio.run_published", "Index run published"
        RUN_ARCHIVED = "portfolio.run_archived", "Index run archived"
        RUN_RESTORED = "portfolio.run_restored", "Index run restored from its archive"
        BACKUP_RESTORED = "operations.backup_restored", "Database restored from a backup"
        USER_CREATED = "accounts.user_created", "User created"
        USER_UPDATED = "accounts.user_updated", "User updated"
        USER_DELETED = "accounts.user_deleted", "User deleted"
        PERMISSIONS_CHANGED = "accounts.permissions_changed", "Permissions changed"
        ROLE_PERMISSIONS_CHANGED = "accounts.role_permissions_changed", "Role permissions changed"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Not a choices-restricted field: other apps may record actions added after this model.
    action = models.CharField(max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    actor_email = models.CharField(max_length=254, blank=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=100, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects: ClassVar[models.Manager[AuditEvent]] = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["actor", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_email or '-'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise TypeError("Audit events are append-only.")
