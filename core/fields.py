"""Strict serializer fields: a JSON value of the wrong type is a 400, never coerced.

DRF converts on the way in: ``IntegerField``/``FloatField`` take ``true`` (as 1) and ``"0.5"``,
``CharField`` takes ``0`` (as ``"0"``), ``BooleanField`` takes ``"yes"`` and ``1``. A client
sending those has a bug the API should report, not guess around (``symbol: 0`` created an
asset ``"0"``). These fields accept exactly the JSON type the schema documents:

- strings (:class:`StrictCharField`, :class:`StrictRegexField`, :class:`StrictEmailField`,
  :class:`StrictChoiceField`): a JSON string only;
- numbers (:class:`StrictIntegerField`, :class:`StrictFloatField`): a JSON number, never a
  boolean or a string (an integer field also takes an integral float such as ``2.0``, which
  JSON Schema counts as an integer);
- booleans (:class:`StrictBooleanField`): ``true`` or ``false`` only;
- dates (:class:`BoundedDateField`): an ISO 8601 string within
  :func:`core.validators.api_date_range`.

The schema of a string field says what the field refuses beyond its type: no NUL character
(PostgreSQL cannot store one; Django refuses it) and, for a required text, at least one
character that is not whitespace (surrounding whitespace is trimmed).

Query parameters arrive as strings, so only the string and date fields suit query serializers.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.core.validators import RegexValidator
from django_filters import CharFilter
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .validators import validate_api_date

NOT_A_STRING = "A string is required."
NOT_A_NUMBER = "A number is required."
NOT_AN_INTEGER = "An integer is required."
NOT_A_BOOLEAN = "true or false is required."
# Any text without NUL; the same with at least one character that trimming keeps.
TEXT_PATTERN = r"^[^\u0000]*$"
NON_EMPTY_TEXT_PATTERN = r"^[^\u0000]+$"
NON_BLANK_TEXT_PATTERN = r"^\s*[^\s\u0000][^\u0000]*$"
DATE_RANGE_HELP = "Accepted from `API_DATE_MIN` (1990-01-01 by default) to one year after today."


def _require_string(data: Any) -> None:
    if not isinstance(data, str):
        raise serializers.ValidationError(NOT_A_STRING, code="invalid")


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        _require_string(data)
        return str(super().to_internal_value(data))


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data: Any) -> str:
        _require_string(data)
        return str(super().to_internal_value(data))


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        _require_string(data)
        return str(super().to_internal_value(data))


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data: Any) -> Any:
        _require_string(data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            raise serializers.ValidationError(NOT_A_BOOLEAN, code="invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise serializers.ValidationError(NOT_AN_INTEGER, code="invalid")
        if isinstance(data, float) and not (math.isfinite(data) and data.is_integer()):
            raise serializers.ValidationError(NOT_AN_INTEGER, code="invalid")
        return int(data)


class StrictFloatField(serializers.FloatField):
    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise serializers.ValidationError(NOT_A_NUMBER, code="invalid")
        return float(super().to_internal_value(data))


class BoundedDateField(serializers.DateField):
    """An ISO 8601 date (``2024-01-31``, a string) within the API's accepted range; a 400
    field error otherwise, so no service or engine ever sees year 1 or year 2300."""

    def __init__(self, **kwargs: Any) -> None:
        help_text = kwargs.get("help_text")
        kwargs["help_text"] = f"{help_text} {DATE_RANGE_HELP}" if help_text else DATE_RANGE_HELP
        super().__init__(**kwargs)
        self.validators.append(validate_api_date)

    def to_internal_value(self, value: Any) -> dt.date:
        _require_string(value)
        return super().to_internal_value(value)


class StrictCharFieldSchema(OpenApiSerializerFieldExtension):
    """OpenAPI of :class:`StrictCharField` and its subclasses: the generated schema plus a
    ``pattern`` for what the field refuses beyond its type (see the module docstring), unless
    a validator already documents one; a field's own ``schema_pattern`` wins over both."""

    target_class = StrictCharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        field = self.target
        stated = getattr(field, "schema_pattern", None) or next(
            (
                str(getattr(validator.regex, "pattern", validator.regex))
                for validator in field.validators
                if isinstance(validator, RegexValidator) and not validator.inverse_match
            ),
            None,
        )
        if stated:  # the field's own (stricter) pattern: what it really accepts
            schema["pattern"] = stated
            return schema
        if field.allow_blank:
            pattern = TEXT_PATTERN
        elif field.trim_whitespace:
            pattern = NON_BLANK_TEXT_PATTERN
        else:
            pattern = NON_EMPTY_TEXT_PATTERN
        schema.setdefault("pattern", pattern)
        return schema


def text_filter(*, max_length: int | None = None, **kwargs: Any) -> CharFilter:
    """A django-filter text parameter documented as text without NUL (which Django refuses)
    of at most ``max_length`` characters."""

    @extend_schema_field(StrictCharField(max_length=max_length, allow_blank=True))
    class TextFilter(CharFilter):
        pass

    return TextFilter(max_length=max_length, **kwargs)
