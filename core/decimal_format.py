"""Fixed-point strings of numbers, as DRF's ``DecimalField`` renders them, without a per-value
``Decimal`` quantize.

DRF renders a number ``x`` with ``decimal_places = p`` as ``f"{Decimal(str(x)).quantize(10**-p,
ROUND_HALF_EVEN, prec=max_digits):f}"`` — for a float, the rounding of its shortest repr, not of
its exact binary value. :func:`fixed_places` gives exactly the same strings:

- a float whose repr has at most ``p`` decimals is that repr padded with zeros (nothing to
  round);
- a float whose repr has more decimals, other than exactly one ``5`` past the ``p``-th, is
  ``format(x, ".pf")`` (the correctly rounded exact value). The two roundings cannot differ: a
  rounding boundary between the exact value and its repr would itself be a shorter (or closer)
  repr that round-trips, and the repr is the shortest and closest one;
- a ``Decimal`` that already has ``p`` places (a ``numeric(…, p)`` column) is formatted as
  it is (``format(d, "f")``);
- anything else — a tie in the repr (``…5`` right after the ``p``-th decimal), exponent
  notation (``1e-07``), infinities and NaN, magnitudes from :data:`FALLBACK_ABOVE` (or too many
  digits for ``max_digits``) up, other Decimals — goes through DRF's own quantize, errors included.

Tests compare it with DRF over many values (``tests/api/test_number_format.py``).
"""

from __future__ import annotations

import decimal
from typing import Any

from rest_framework import serializers
from rest_framework.settings import api_settings

# From here on a float may have fewer than ``p`` correct decimals in its repr; DRF decides.
FALLBACK_ABOVE = 1e15


def fixed_places(value: Any, places: int, field: serializers.DecimalField) -> str:
    """``value`` (a float or a ``Decimal``) with exactly ``places`` decimals: the string
    ``field.to_representation(value)`` returns (``field`` has ``decimal_places=places`` and
    renders plain strings)."""
    digits = field.max_digits
    if type(value) is float:
        # Below 10^(max_digits - places - 1) even a rounding up fits in max_digits.
        limit = FALLBACK_ABOVE
        if digits is not None:
            limit = min(limit, 10.0 ** (digits - places - 1))
        if -limit < value < limit:
            shortest = repr(value)
            _, dot, decimals = shortest.partition(".")
            if dot and "e" not in decimals:
                missing = places - len(decimals)
                if missing >= 0:
                    return f"{shortest}{'0' * missing}"
                if decimals[places:] != "5":
                    return format(value, f".{places}f")
    elif type(value) is decimal.Decimal:
        text = format(value, "f")
        # Exactly ``places`` decimals means the exponent is -places: DRF's quantize is a no-op.
        # Counting every character but the point and the sign as a digit (a leading zero too)
        # leaves DRF's "too many digits" error to DRF.
        if (
            len(text) > places
            and text[-places - 1] == "."
            and (digits is None or len(text) - 1 - text.startswith("-") <= digits)
        ):
            return text
    return str(serializers.DecimalField.to_representation(field, value))


class FixedDecimalField(serializers.DecimalField):
    """A ``DecimalField`` that renders through :func:`fixed_places`: the same strings, the same
    schema, a fraction of the cost. For output fields that render strings (the default)."""

    def to_representation(self, value: Any) -> Any:
        plain = (
            getattr(self, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
            and not self.localize
            and not self.normalize_output
        )
        if value is None or self.decimal_places is None or not plain:
            return super().to_representation(value)
        return fixed_places(value, self.decimal_places, self)
