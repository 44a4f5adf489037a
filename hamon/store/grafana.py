"""The dashboards' SQL, written against the schema: `sql()` fills `{table}` and `{table.column}`
from the table definitions, so a panel naming a table or column the schema does not have fails
when the dashboards are built (and every panel's query runs on PostgreSQL in the tests)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from hamon.store.schema import metadata


class TableNames:
    """A table as SQL names: `str()` is its name, attributes are its columns' names."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def __format__(self, spec: str) -> str:
        return self._table.name

    def __str__(self) -> str:
        return self._table.name

    def __getattr__(self, column: str) -> str:
        if column.startswith("_") or column not in self._table.c:
            raise AttributeError(f"table {self._table.name} has no column {column!r}")
        return str(self._table.c[column].name)


TABLES: dict[str, TableNames] = {t.name: TableNames(t) for t in metadata.sorted_tables}


def sql(template: str, **values: Any) -> str:
    """A panel's SQL: `{alerts}` and `{alerts.ended_at}` from the schema, other fields from `values`."""
    return template.format(**TABLES, **values)


def table(name: str) -> TableNames:
    """One table's names, for SQL assembled in pieces."""
    return TABLES[name]
