"""Group chats bound to a campaign: commands there act on that campaign."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage._common import transaction, ts_from_text, ts_to_text


@dataclass(frozen=True)
class BindingRow:
    chat_id: int
    campaign_id: int
    bound_by: int
    bound_at: datetime


def _row(values: dict[str, Any]) -> BindingRow:
    return BindingRow(
        chat_id=int(values["chat_id"]),
        campaign_id=int(values["campaign_id"]),
        bound_by=int(values["bound_by"]),
        bound_at=ts_from_text(values["bound_at"]),
    )


def bind_chat(
    db: Database, chat_id: int, campaign_id: int, bound_by: int, now: datetime
) -> BindingRow:
    """Bind the chat to the campaign, replacing any earlier binding of that chat.

    Raises sqlite3.IntegrityError when the campaign is not connected.
    """
    row = BindingRow(
        chat_id=chat_id,
        campaign_id=campaign_id,
        bound_by=bound_by,
        bound_at=ts_from_text(ts_to_text(now)),
    )
    with transaction(db):
        db.execute(
            """
            INSERT INTO chat_bindings (chat_id, campaign_id, bound_by, bound_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (chat_id) DO UPDATE SET
                campaign_id = excluded.campaign_id,
                bound_by = excluded.bound_by,
                bound_at = excluded.bound_at
            """,
            (row.chat_id, row.campaign_id, row.bound_by, ts_to_text(row.bound_at)),
        )
    return row


def unbind_chat(db: Database, chat_id: int) -> bool:
    """True when the chat was bound and is no longer."""
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "DELETE FROM chat_bindings WHERE chat_id = ?", (chat_id,)
        )
    return cursor.rowcount > 0


def binding_of(db: Database, chat_id: int) -> BindingRow | None:
    for values in db["chat_bindings"].rows_where("chat_id = ?", [chat_id]):
        return _row(values)
    return None


def chats_of(db: Database, campaign_id: int) -> list[BindingRow]:
    """The chats bound to the campaign, oldest binding first."""
    return [
        _row(values)
        for values in db["chat_bindings"].rows_where(
            "campaign_id = ?", [campaign_id], order_by="bound_at, chat_id"
        )
    ]
