"""Binary ``COPY … FROM STDIN`` payloads built by numpy, for bulk writes of fixed-width rows.

A PostgreSQL binary COPY tuple is ``int16 field count`` followed, per field, by ``int32 length``
and the big-endian value (length ``-1`` and no value for a NULL). When every tuple of a set has
the same layout — fixed-width types (bigint, date, double precision), numerics sent with a fixed
number of base-10000 digits, strings of one byte length — the whole set is one numpy structured
array: no Python object per row and no text formatting of floats (which also keeps every bit of
a float64). Nullable columns give a few layouts (one per pattern of NULLs among the rows); the
stream is then one structured array per pattern, one after the other (COPY does not care about
the order of tuples).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from django.db import connection

PgType = Literal["int8", "date", "float8", "numeric", "text"]

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
_WIRE = {"int8": (">i8", 8), "date": (">i4", 4), "float8": (">f8", 8)}
_PG_EPOCH = np.datetime64("2000-01-01", "D")
_NBASE = 10_000  # a numeric's digits are base 10,000 (four decimal digits each)
_NUMERIC_POS, _NUMERIC_NEG = 0x0000, 0x4000
_FLOAT8_SIGNIFICANT_DIGITS = 15  # PostgreSQL's float8 → numeric goes through "%.15g"


@dataclass(frozen=True)
class Column:
    """One column of a payload.

    ``numeric``: ``values`` are integers counting units of ``10**-scale`` (``123456`` at scale
    4 is 12.3456), sent with that display scale. ``text``: fixed-length byte strings (a numpy
    ``S`` array whose every value fills its item size). ``nulls`` marks the rows sent as NULL
    (their ``values`` are ignored).
    """

    values: npt.ArrayLike
    pg_type: PgType
    nulls: npt.NDArray[np.bool_] | None = None
    scale: int = 0


def float8_numeric_units(
    values: npt.NDArray[np.float64], scale: int
) -> npt.NDArray[np.int64] | None:
    """What PostgreSQL stores for ``value::float8::numeric(p, scale)``, as units of
    ``10**-scale`` — or ``None`` when that cannot be told exactly here for some value.

    PostgreSQL converts a float8 to numeric through its 15-significant-digit decimal
    (``"%.15g"``), then rounds to the column's scale. When ``|v| < 10**(15 - scale)`` and
    ``rint(v·10**scale) / 10**scale == v`` in float64, the decimal ``N·10**-scale`` (N that
    integer) lies within half an ulp of ``v`` and has at most 15 significant digits, so it *is*
    the 15-digit decimal nearest ``v`` (the next one is a hundred ulps away) and no rounding to
    the scale follows: PostgreSQL stores exactly ``N·10**-scale``. Any value outside that (more
    decimals than the scale, too large, NaN, infinite) returns ``None``; callers then let the
    server convert.
    """
    values = np.asarray(values, dtype=np.float64)
    if not 0 <= scale <= _FLOAT8_SIGNIFICANT_DIGITS:
        raise ValueError("scale must be between 0 and 15")
    with np.errstate(invalid="ignore"):
        units = np.rint(values * 10.0**scale)
        exact = (np.abs(values) < 10.0 ** (_FLOAT8_SIGNIFICANT_DIGITS - scale)) & (
            units / 10.0**scale == values
        )
    if not exact.all():
        return None
    return units.astype(np.int64)


def _numeric_layout(units: npt.NDArray[np.int64], scale: int) -> tuple[int, int]:
    """(integer digits, fraction digits) in base 10,000 that hold every value of ``units``."""
    fraction_digits = -(-scale // 4)
    largest_integer = int(np.abs(units).max(initial=0)) // 10**scale
    integer_digits = 1
    while largest_integer >= _NBASE**integer_digits:
        integer_digits += 1
    return integer_digits, fraction_digits


def _field_layout(column: Column, values: npt.NDArray[np.generic]) -> tuple[list[tuple], int]:
    """The structured-array fields of one non-NULL field (after its length) and its byte size."""
    if column.pg_type == "numeric":
        integer_digits, fraction_digits = _numeric_layout(values.astype(np.int64), column.scale)
        digits = integer_digits + fraction_digits
        header = [("ndigits", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2")]
        return [*header, ("digits", ">i2", (digits,))], 8 + 2 * digits
    if column.pg_type == "text":
        size = values.dtype.itemsize
        return [("bytes", f"S{size}")], size
    wire_type, size = _WIRE[column.pg_type]
    return [("value", wire_type)], size


def _fill_numeric(target: np.ndarray, units: npt.NDArray[np.int64], scale: int) -> None:
    integer_digits, fraction_digits = _numeric_layout(units, scale)
    digits = integer_digits + fraction_digits
    target["ndigits"] = digits
    target["weight"] = integer_digits - 1
    target["sign"] = np.where(units < 0, _NUMERIC_NEG, _NUMERIC_POS)
    target["dscale"] = scale
    # Align the units on base-10,000 digits (a scale of 6 becomes 8 decimal places).
    remaining = np.abs(units) * 10 ** (4 * fraction_digits - scale)
    out = np.empty((len(units), digits), dtype=np.int64)
    for position in range(digits - 1, -1, -1):
        remaining, out[:, position] = np.divmod(remaining, _NBASE)
    target["digits"] = out


def _wire_values(column: Column) -> npt.NDArray[np.generic]:
    if column.pg_type == "date":
        days = np.asarray(column.values, dtype="datetime64[D]") - _PG_EPOCH
        return days.astype(np.int64)
    values = np.asarray(column.values)
    if column.pg_type == "numeric":
        if values.dtype.kind not in "iu":
            raise ValueError("numeric values are integer units of 10**-scale")
        alignment = 10 ** (4 * -(-column.scale // 4) - column.scale)
        if np.abs(values).max(initial=0) >= np.iinfo(np.int64).max // alignment:
            raise ValueError("numeric units too large for int64 digit arithmetic")
    if column.pg_type == "text" and (
        values.dtype.kind != "S" or (np.char.str_len(values) != values.dtype.itemsize).any()
    ):
        raise ValueError("text values are byte strings of one length")
    return values


def _tuples(
    columns: Sequence[Column], values: Sequence[npt.NDArray[np.generic]], null_columns: set[int]
) -> bytes:
    """Tuples of the rows given (``values`` already selected), NULL in ``null_columns``."""
    row_count = len(values[0]) if values else 0
    fields: list[tuple] = [("field_count", ">i2")]
    for position, column in enumerate(columns):
        fields.append((f"length{position}", ">i4"))
        if position not in null_columns:
            layout, _ = _field_layout(column, values[position])
            fields.append((f"value{position}", np.dtype(layout)))
    tuples = np.empty(row_count, dtype=np.dtype(fields))
    tuples["field_count"] = len(columns)
    for position, column in enumerate(columns):
        if position in null_columns:
            tuples[f"length{position}"] = -1
            continue
        _, size = _field_layout(column, values[position])
        tuples[f"length{position}"] = size
        target = tuples[f"value{position}"]
        if column.pg_type == "numeric":
            _fill_numeric(target, values[position].astype(np.int64), column.scale)
        elif column.pg_type == "text":
            target["bytes"] = values[position]
        else:
            target["value"] = values[position]
    return tuples.tobytes()


def binary_copy_payload(columns: Sequence[tuple[npt.ArrayLike, PgType] | Column]) -> bytes:
    """Encode equally long columns as a complete binary COPY stream.

    A plain ``(values, pg_type)`` pair is a column without NULLs.
    """
    specs = [spec if isinstance(spec, Column) else Column(*spec) for spec in columns]
    values = [_wire_values(spec) for spec in specs]
    row_count = len(values[0]) if values else 0
    if any(len(column) != row_count for column in values):
        raise ValueError("all columns of a COPY payload must have the same length")
    nullable = [
        (position, np.asarray(spec.nulls, dtype=bool))
        for position, spec in enumerate(specs)
        if spec.nulls is not None and np.asarray(spec.nulls).any()
    ]
    if any(len(nulls) != row_count for _, nulls in nullable):
        raise ValueError("a column's NULL mask must be as long as the column")
    if not nullable:
        return _SIGNATURE + _tuples(specs, values, set()) + _TRAILER
    # One layout per pattern of NULLs: pattern bit k set = k-th nullable column NULL.
    patterns = np.zeros(row_count, dtype=np.int64)
    for bit, (_, nulls) in enumerate(nullable):
        patterns |= nulls.astype(np.int64) << bit
    parts = [_SIGNATURE]
    for pattern in np.unique(patterns):
        rows = patterns == pattern
        null_columns = {
            position for bit, (position, _) in enumerate(nullable) if pattern >> bit & 1
        }
        parts.append(_tuples(specs, [column[rows] for column in values], null_columns))
    parts.append(_TRAILER)
    return b"".join(parts)


def copy_binary(table: str, column_names: Sequence[str], payload: bytes) -> None:
    """Stream a payload from :func:`binary_copy_payload` into ``table`` on the default database."""
    names = ", ".join(column_names)
    # wrap_database_errors: a failed COPY raises Django's exceptions (IntegrityError for a
    # violated constraint, DataError for a value out of range), like any other statement.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT binary)") as copy,
    ):
        copy.write(payload)
