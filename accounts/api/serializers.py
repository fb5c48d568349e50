"""Input and output shapes of the auth endpoints (v2). Inputs validate; outputs only render."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import AuditEvent, User
from accounts.roles import Role, roles_of, user_role
from core.fields import StrictCharField, StrictEmailField

# Bounds keep hashing and token parsing cheap for hostile inputs.
PASSWORD_MAX_LENGTH = 256
TOKEN_MAX_LENGTH = 4096


class TokenObtainInputSerializer(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    password = StrictCharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, write_only=True
    )


class TokenPairOutputSerializer(serializers.Serializer):
    token_type = serializers.CharField(default="Bearer", help_text="Always `Bearer`.")
    access = serializers.CharField(help_text="Short-lived access token (Authorization: Bearer).")
    refresh = serializers.CharField(help_text="Refresh token; single use (rotated on refresh).")
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField()
    session_expires_at = serializers.DateTimeField(
        source="chain_expires_at",
        help_text="Absolute end of this sign-in: no refresh extends a session past it.",
    )


class RefreshInputSerializer(serializers.Serializer):
    refresh = StrictCharField(max_length=TOKEN_MAX_LENGTH, trim_whitespace=True)


class MeOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.SerializerMethodField(help_text="Highest role; null without a role.")
    roles = serializers.SerializerMethodField(help_text="Every role held (analyst ⊇ viewer).")
    is_staff = serializers.BooleanField(help_text="May sign in to the Django admin.")
    date_joined = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(
        serializers.ChoiceField(choices=[role.value for role in Role], allow_null=True)
    )
    def get_role(self, user: User) -> str | None:
        role = user_role(user)
        return role.value if role else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_roles(self, user: User) -> list[str]:
        return roles_of(user)


class RegisterInputSerializer(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    password = StrictCharField(
        max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False, write_only=True
    )
    first_name = StrictCharField(max_length=150, required=False, default="")
    last_name = StrictCharField(max_length=150, required=False, default="")

    def validate_email(self, value: str) -> str:
        email = User.objects.normalize_email(value)
        if User.objects.filter(email__iexact=email).exists():
            raise serializers.ValidationError("A user with this e-mail address already exists.")
        return email

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        candidate = User(
            email=attrs.get("email", ""),
            first_name=attrs.get("first_name", ""),
            last_name=attrs.get("last_name", ""),
        )
        try:
            password_validation.validate_password(attrs["password"], candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs


class AuditEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "action",
            "actor",
            "actor_email",
            "target_type",
            "target_id",
            "target_repr",
            "ip",
            "request_id",
            "details",
        ]
        read_only_fields = fields
