"""Binary ``COPY … FROM STDIN`` payloads built by numpy, for bulk writes of fixed-width rows.

A PostgreSQL binary COPY tuple is ``int16 field count`` followed, per field, by ``int32 length``
and the big-endian value. For NOT NULL fixed-width columns (bigint, date, double precision) every
tuple has the same layout, so a whole frame is one numpy structured array — no Python object per
row and no text formatting of floats (which also keeps every bit of a float64).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from django.db import connection

PgType = Literal["int8", "date", "float8"]

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)
_WIRE = {"int8": (">i8", 8), "date": (">i4", 4), "float8": (">f8", 8)}
_PG_EPOCH = np.datetime64("2000-01-01", "D")


def _wire_values(values: npt.ArrayLike, pg_type: PgType) -> npt.NDArray[np.generic]:
    if pg_type == "date":
        days = np.asarray(values, dtype="datetime64[D]") - _PG_EPOCH
        return days.astype(np.int64)
    return np.asarray(values)


def binary_copy_payload(columns: Sequence[tuple[npt.ArrayLike, PgType]]) -> bytes:
    """Encode equally long columns (no NULLs) as a complete binary COPY stream."""
    wire_columns = [(_wire_values(values, pg_type), pg_type) for values, pg_type in columns]
    row_count = len(wire_columns[0][0]) if wire_columns else 0
    fields: list[tuple[str, str]] = [("field_count", ">i2")]
    for position, (_, pg_type) in enumerate(wire_columns):
        fields += [(f"length{position}", ">i4"), (f"value{position}", _WIRE[pg_type][0])]
    tuples = np.empty(row_count, dtype=np.dtype(fields))
    tuples["field_count"] = len(wire_columns)
    for position, (values, pg_type) in enumerate(wire_columns):
        if len(values) != row_count:
            raise ValueError("all columns of a COPY payload must have the same length")
        tuples[f"length{position}"] = _WIRE[pg_type][1]
        tuples[f"value{position}"] = values
    return _SIGNATURE + tuples.tobytes() + _TRAILER


def copy_binary(table: str, column_names: Sequence[str], payload: bytes) -> None:
    """Stream a payload from :func:`binary_copy_payload` into ``table`` on the default database."""
    names = ", ".join(column_names)
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT binary)") as copy,
    ):
        copy.write(payload)
