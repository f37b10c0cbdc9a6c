"""Internal helpers shared by the storage modules: transactions and the one row mapper.

Timestamps are stored as fixed-width ISO 8601 UTC text (``2025-01-01T12:00:00.000000+00:00``)
so that SQL can compare them as strings; they come back as timezone-aware UTC ``datetime``.
JSON columns hold objects only. ``row_of`` builds a record's frozen dataclass from a SQLite row
and ``values_of`` does the reverse, both driven by the dataclass's field types, so that no
module spells out column conversions by hand.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

from sqlite_utils import Database
from sqlite_utils.db import Table

RowT = TypeVar("RowT")


@contextmanager
def transaction(db: Database) -> Iterator[None]:
    """Run the block as one write transaction, committed on success and rolled back on error.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so a read followed by a write inside the
    block cannot fail half-way on a lock upgrade. When the caller already holds a transaction
    the block joins it and the caller decides when to commit. (sqlite-utils' table methods
    commit on their own, so they are used only outside such blocks.)
    """
    conn = db.conn
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def table(db: Database, name: str) -> Table:
    """sqlite-utils' table API for one of the schema's tables."""
    found = db.table(name)
    assert isinstance(found, Table), name
    return found


def upsert(db: Database, name: str, values: Mapping[str, Any], key: tuple[str, ...]) -> None:
    """Insert the row, or update every other column of the row with the same ``key``.

    sqlite-utils' ``upsert`` inserts the key alone first (``INSERT OR IGNORE``), which our NOT
    NULL and CHECK constraints turn into a silently skipped row; this is one real UPSERT.
    """
    # Table and column names come from this package's code, never from input.
    columns = list(values)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in key)
    marks = ", ".join("?" * len(columns))
    sql = (
        f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks}) "  # noqa: S608
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    )
    change(db, sql, tuple(values.values()))


def change(db: Database, sql: str, params: tuple[Any, ...] = ()) -> int:
    """Run one data-changing statement and return how many rows it hit.

    Committed at once, unless the caller holds a ``transaction``: then it joins it.
    """
    if db.conn.in_transaction:
        cursor: sqlite3.Cursor = db.execute(sql, params)
        return cursor.rowcount
    with db.conn:
        cursor = db.execute(sql, params)
    return cursor.rowcount


def ts_to_text(value: datetime) -> str:
    """Raises ValueError for a naive datetime: storage never guesses a timezone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def ts_from_text(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def json_to_text(value: dict[str, Any]) -> str:
    """Raises TypeError when the value is not a JSON-serialisable object."""
    if not isinstance(value, dict):
        raise TypeError("a JSON object (dict) is required")
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def json_from_text(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("stored JSON is not an object")
    return value


def id_list(values: typing.Collection[int]) -> str:
    """A JSON array for ``IN (SELECT value FROM json_each(?))``: one parameter, any length."""
    return json.dumps(sorted(int(v) for v in values))


# --- the row mapper ---------------------------------------------------------------------------

_Convert = Callable[[Any], Any]


def _literal_check(allowed: tuple[Any, ...]) -> _Convert:
    def convert(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"unexpected stored value {value!r}; expected one of {allowed}")
        return value

    return convert


def _reader(annotation: Any) -> _Convert:
    """How a column value becomes the field's type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        [inner] = [a for a in typing.get_args(annotation) if a is not type(None)]
        read = _reader(inner)
        return lambda value: None if value is None else read(value)
    if origin is typing.Literal:
        return _literal_check(typing.get_args(annotation))
    if annotation is datetime:
        return ts_from_text
    if annotation is bool:
        return bool
    if annotation is bytes:
        return bytes
    if origin is dict:
        return json_from_text
    if annotation in (int, str):
        return annotation  # type: ignore[no-any-return]
    raise TypeError(f"no column conversion for {annotation!r}")


def _writer(value: Any) -> Any:
    if isinstance(value, datetime):
        return ts_to_text(value)
    if isinstance(value, dict):
        return json_to_text(value)
    if isinstance(value, bool):
        return int(value)
    return value


@cache
def _readers(cls: Any) -> tuple[tuple[str, _Convert], ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, _reader(hints[f.name])) for f in dataclasses.fields(cls))


def row_of(cls: type[RowT], values: Mapping[str, Any]) -> RowT:
    """The ``cls`` dataclass built from a SQLite row (columns named like its fields).

    Raises ValueError when a stored value does not fit the field (e.g. an unknown role).
    """
    readers = _readers(cls)  # type: ignore[arg-type]  # classes are hashable
    return cls(**{name: read(values[name]) for name, read in readers})


def values_of(row: Any) -> dict[str, Any]:
    """The column values of a dataclass row, ready for SQLite (the reverse of ``row_of``)."""
    return {f.name: _writer(getattr(row, f.name)) for f in dataclasses.fields(row)}


def stamp(moment: datetime) -> datetime:
    """``moment`` as storage will give it back (UTC, microseconds), for rows built in memory."""
    return ts_from_text(ts_to_text(moment))
