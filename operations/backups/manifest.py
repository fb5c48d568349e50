"""What a backup holds, read in the dump's own snapshot, and the check of a restored copy.

:func:`contents_read` runs on a raw psycopg cursor: at backup time inside the REPEATABLE READ
transaction whose snapshot pg_dump uses (``--snapshot``), so every count is exactly what the
dump holds even while the application writes; at verification time on the scratch database
the dump was restored into. Both sides are read by the same code, so
:func:`contents_compare` compares like with like:

- ``tables``: exact ``count(*)`` of every ordinary table (relkind ``r``: each price partition
  ``market_price_y<year>`` and ``market_price_default`` included, partitioned parents skipped,
  tables of extensions skipped), keyed ``schema.table``; the backup catalogue is left out
  (:data:`EXCLUDED_TABLE_DATA`: its rows are not dumped, see ``operations.models``);
- ``price_partitions``: the partitions of ``market_price``;
- ``published_runs``: per index its published run, with the number of levels and allocation
  rows and an MD5 over their exact text (floats print shortest-exact since PostgreSQL 12), so a
  restored run is checked value for value, not just counted;
- ``migrations``: the applied Django migrations per app (``django_migrations``, in order).
"""

from __future__ import annotations

from typing import Any

from psycopg import Cursor, sql

from market.partitions import PARENT_TABLE
from operations.models import Backup
from portfolio.models import Allocation, Index, IndexRun, IndexValue

# Tables whose rows pg_dump leaves out (``--exclude-table-data``) and the counts skip.
EXCLUDED_TABLE_DATA = (Backup._meta.db_table,)
MANIFEST_FORMAT = "autoindex-backup/1"

_TABLES_SQL = """
SELECT n.nspname, c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
  )
ORDER BY n.nspname, c.relname
"""

_PARTITIONS_SQL = """
SELECT child.relname
FROM pg_inherits
JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
JOIN pg_class child ON child.oid = pg_inherits.inhrelid
WHERE parent.relname = %s
ORDER BY child.relname
"""


def _table_counts(cursor: Cursor[Any]) -> dict[str, int]:
    tables = [
        (schema, table)
        for schema, table in cursor.execute(_TABLES_SQL).fetchall()
        if table not in EXCLUDED_TABLE_DATA
    ]
    if not tables:
        return {}
    # One statement for every table: one round trip, one snapshot.
    query = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {}, count(*) FROM {}.{}").format(
            sql.Literal(f"{schema}.{table}"), sql.Identifier(schema), sql.Identifier(table)
        )
        for schema, table in tables
    )
    return {name: int(rows) for name, rows in cursor.execute(query).fetchall()}


def _published_runs(cursor: Cursor[Any]) -> list[dict[str, Any]]:
    query = sql.SQL(
        """
        SELECT i.id, i.slug, r.id,
          (SELECT count(*) FROM {values} v WHERE v.run_id = r.id),
          (SELECT md5(coalesce(string_agg(v.date::text || '=' || v.level::text, ','
                                          ORDER BY v.date), ''))
             FROM {values} v WHERE v.run_id = r.id),
          (SELECT count(*) FROM {allocations} a WHERE a.run_id = r.id),
          (SELECT md5(coalesce(string_agg(
                    a.rebalance_date::text || ':' || a.asset_id::text || '=' || a.weight::text,
                    ',' ORDER BY a.rebalance_date, a.asset_id), ''))
             FROM {allocations} a WHERE a.run_id = r.id)
        FROM {runs} r JOIN {indexes} i ON i.id = r.index_id
        WHERE r.status = {published}
        ORDER BY i.id
        """
    ).format(
        values=sql.Identifier(IndexValue._meta.db_table),
        allocations=sql.Identifier(Allocation._meta.db_table),
        runs=sql.Identifier(IndexRun._meta.db_table),
        indexes=sql.Identifier(Index._meta.db_table),
        published=sql.Literal(IndexRun.Status.PUBLISHED.value),
    )
    keys = ("index_id", "index", "run_id", "values", "values_md5", "allocations")
    return [
        {**dict(zip(keys, row[:6], strict=True)), "allocations_md5": row[6]}
        for row in cursor.execute(query).fetchall()
    ]


def _migrations(cursor: Cursor[Any]) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in cursor.execute("SELECT app, name FROM django_migrations ORDER BY id"):
        applied.setdefault(app, []).append(name)
    return applied


def contents_read(cursor: Cursor[Any]) -> dict[str, Any]:
    """Tables and their exact row counts, price partitions, published runs, migrations.

    Precondition: ``cursor`` is in the transaction whose snapshot is to be described
    (REPEATABLE READ, so every statement here sees the same data).
    """
    cursor.execute("SET extra_float_digits = 1")  # shortest exact text of a float, whatever set
    tables = _table_counts(cursor)
    return {
        "tables": tables,
        "totals": {"tables": len(tables), "rows": sum(tables.values())},
        "price_partitions": [name for (name,) in cursor.execute(_PARTITIONS_SQL, [PARENT_TABLE])],
        "published_runs": _published_runs(cursor),
        "migrations": _migrations(cursor),
    }


def contents_compare(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Every way ``actual`` (a restored copy) differs from ``expected`` (the manifest); empty
    when they are the same. Each problem is one sentence naming the table, partition or run."""
    problems = []
    expected_tables, actual_tables = expected["tables"], actual["tables"]
    for table, rows in expected_tables.items():
        if table not in actual_tables:
            problems.append(f"table {table} is missing (expected {rows} rows)")
        elif actual_tables[table] != rows:
            problems.append(f"table {table}: expected {rows} rows, found {actual_tables[table]}")
    for table in sorted(set(actual_tables) - set(expected_tables)):
        problems.append(f"table {table} is not in the manifest ({actual_tables[table]} rows)")
    for partition in expected["price_partitions"]:
        if partition not in actual["price_partitions"]:
            problems.append(f"price partition {partition} is missing")
    restored_runs = {run["run_id"]: run for run in actual["published_runs"]}
    for run in expected["published_runs"]:
        restored = restored_runs.get(run["run_id"])
        label = f"published run #{run['run_id']} of index {run['index']}"
        if restored is None:
            problems.append(f"{label} is missing")
            continue
        for part in ("values", "allocations"):
            if (restored[part], restored[f"{part}_md5"]) != (run[part], run[f"{part}_md5"]):
                problems.append(f"{label}: its {part} differ from the backed-up ones")
    if actual["migrations"] != expected["migrations"]:
        problems.append("the applied migrations differ from the manifest's")
    return problems
