"""Commands waiting for a button press (for example, which campaign to act on).

The row keeps what is needed to run the command once the user answers; purge old ones
periodically, as unanswered questions are never resolved otherwise.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage._common import opt_int, transaction, ts_from_text, ts_to_text


@dataclass(frozen=True)
class PendingRow:
    id: int
    chat_id: int
    message_id: int
    thread_id: int | None
    user_id: int
    language: str
    command: str
    text: str
    created_at: datetime


def _row(values: dict[str, Any]) -> PendingRow:
    return PendingRow(
        id=int(values["id"]),
        chat_id=int(values["chat_id"]),
        message_id=int(values["message_id"]),
        thread_id=opt_int(values["thread_id"]),
        user_id=int(values["user_id"]),
        language=str(values["language"]),
        command=str(values["command"]),
        text=str(values["text"]),
        created_at=ts_from_text(values["created_at"]),
    )


def save_pending(
    db: Database,
    *,
    chat_id: int,
    message_id: int,
    thread_id: int | None,
    user_id: int,
    language: str,
    command: str,
    text: str,
    now: datetime,
) -> PendingRow:
    """Store a command awaiting an answer; the row's id goes into the button's callback data."""
    created_at = ts_to_text(now)
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "INSERT INTO pending (chat_id, message_id, thread_id, user_id, language, command, "
            "text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (chat_id, message_id, thread_id, user_id, language, command, text, created_at),
        )
    pending_id = cursor.lastrowid
    if pending_id is None:
        raise RuntimeError("SQLite did not report the id of the new pending command")
    return PendingRow(
        id=pending_id,
        chat_id=chat_id,
        message_id=message_id,
        thread_id=thread_id,
        user_id=user_id,
        language=language,
        command=command,
        text=text,
        created_at=ts_from_text(created_at),
    )


def get_pending(db: Database, pending_id: int) -> PendingRow | None:
    for values in db["pending"].rows_where("id = ?", [pending_id]):
        return _row(values)
    return None


def delete_pending(db: Database, pending_id: int) -> bool:
    """True when this call removed it; a second press of the same button gets False."""
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute("DELETE FROM pending WHERE id = ?", (pending_id,))
    return cursor.rowcount > 0


def purge_pending(db: Database, older_than: datetime) -> int:
    """Remove commands created before ``older_than``; returns how many."""
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "DELETE FROM pending WHERE created_at < ?", (ts_to_text(older_than),)
        )
    return cursor.rowcount
