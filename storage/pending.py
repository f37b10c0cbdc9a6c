"""Commands waiting for a button press: a question the bot asked, with its choices.

A row keeps the command as it was typed and the choices offered under the question; each
choice is the command's new text (and, for "which shop?", the campaign) that the press runs.
The row's id goes into the buttons' callback data, so a press finds everything it needs here
and nothing the user could forge. Old questions are purged periodically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage._common import change, row_of, stamp, table, ts_to_text, values_of


@dataclass(frozen=True)
class Choice:
    """One button's effect: run ``text`` (on ``campaign_id`` when set)."""

    text: str
    campaign_id: int | None = None
    make_default: bool = False


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
    choices: dict[str, Any]
    created_at: datetime

    def choice(self, index: int) -> Choice | None:
        """The ``index``-th choice, or None when there is no such button."""
        items = self.choices.get("items") or []
        if not 0 <= index < len(items):
            return None
        item = items[index]
        return Choice(str(item["text"]), item.get("campaign_id"), bool(item.get("default")))


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
    choices: list[Choice],
    now: datetime,
) -> PendingRow:
    """Store a question and its choices; the row's id goes into the buttons' callback data."""
    items = [
        {"text": c.text, "campaign_id": c.campaign_id, "default": c.make_default} for c in choices
    ]
    values = values_of(
        PendingRow(
            0,
            chat_id,
            message_id,
            thread_id,
            user_id,
            language,
            command,
            text,
            {"items": items},
            stamp(now),
        )
    )
    del values["id"]
    pending_id = table(db, "pending").insert(values).last_pk
    row = get_pending(db, int(str(pending_id)))
    if row is None:
        raise RuntimeError("a question vanished right after it was stored")
    return row


def get_pending(db: Database, pending_id: int) -> PendingRow | None:
    rows = table(db, "pending").rows_where("id = ?", [pending_id])
    return next((row_of(PendingRow, values) for values in rows), None)


def delete_pending(db: Database, pending_id: int) -> bool:
    """True when this call removed it; a second press of the same button gets False."""
    return change(db, "DELETE FROM pending WHERE id = ?", (pending_id,)) > 0


def purge_pending(db: Database, older_than: datetime) -> int:
    """Remove questions asked before ``older_than``; returns how many."""
    return change(db, "DELETE FROM pending WHERE created_at < ?", (ts_to_text(older_than),))
