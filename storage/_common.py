"""Internal helpers shared by the storage modules: transactions and value codecs.

Timestamps are stored as fixed-width ISO 8601 UTC text (``2025-01-01T12:00:00.000000+00:00``)
so that SQL can compare them as strings; they come back as timezone-aware UTC ``datetime``.
JSON columns hold objects only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database


@contextmanager
def transaction(db: Database) -> Iterator[None]:
    """Run the block as one write transaction, committed on success and rolled back on error.

    ``BEGIN IMMEDIATE`` takes the write lock up front, so a read followed by a write inside the
    block cannot fail half-way on a lock upgrade. When the caller already holds a transaction
    the block joins it and the caller decides when to commit.
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


def opt_ts_from_text(text: str | None) -> datetime | None:
    return None if text is None else ts_from_text(text)


def opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def json_to_text(value: dict[str, Any]) -> str:
    """Raises TypeError when the value is not a JSON-serialisable object."""
    if not isinstance(value, dict):
        raise TypeError("a JSON object (dict) is required")
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def opt_json_to_text(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json_to_text(value)


def json_from_text(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("stored JSON is not an object")
    return value


def opt_json_from_text(text: str | None) -> dict[str, Any] | None:
    return None if text is None else json_from_text(text)
