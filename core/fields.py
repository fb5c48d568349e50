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

Query parameters arrive as strings, so only the string and date fields suit query serializers.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from rest_framework import serializers

from .validators import validate_api_date

NOT_A_STRING = "A string is required."
NOT_A_NUMBER = "A number is required."
NOT_AN_INTEGER = "An integer is required."
NOT_A_BOOLEAN = "true or false is required."
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
        return super().to_internal_value(value)  # type: ignore[no-any-return]
