"""Group chats bound to a campaign: commands there act on that campaign."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from storage._common import change, row_of, stamp, table, upsert, values_of


@dataclass(frozen=True)
class BindingRow:
    chat_id: int
    campaign_id: int
    bound_by: int
    bound_at: datetime


def bind_chat(
    db: Database, chat_id: int, campaign_id: int, bound_by: int, now: datetime
) -> BindingRow:
    """Bind the chat to the campaign, replacing any earlier binding of that chat.

    Raises sqlite3.IntegrityError when the campaign is not connected.
    """
    row = BindingRow(chat_id, campaign_id, bound_by, stamp(now))
    upsert(db, "chat_bindings", values_of(row), ("chat_id",))
    return row


def unbind_chat(db: Database, chat_id: int) -> bool:
    """True when the chat was bound and is no longer."""
    return change(db, "DELETE FROM chat_bindings WHERE chat_id = ?", (chat_id,)) > 0


def binding_of(db: Database, chat_id: int) -> BindingRow | None:
    rows = table(db, "chat_bindings").rows_where("chat_id = ?", [chat_id])
    return next((row_of(BindingRow, values) for values in rows), None)
