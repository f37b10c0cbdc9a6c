"""The audit log: who ran which command on which campaign, and how it ended.

Anything that looks like a secret is redacted before it is written, whatever the caller passed.
An entry names the message it answered (``message_id``) and, for a write the runner accepted,
its batch (``batch_id``), whose operations tell how it finally ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from storage._common import row_of, table, ts_to_text
from storage.secrets import redact


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    user_id: int | None
    chat_id: int
    campaign_id: int | None
    command: str
    arguments: str
    outcome: str
    market_error: str | None
    message_id: int | None = None
    batch_id: str | None = None


def record(
    db: Database,
    *,
    now: datetime,
    user_id: int | None,
    chat_id: int,
    campaign_id: int | None,
    command: str,
    arguments: str,
    outcome: str,
    market_error: str | None = None,
    message_id: int | None = None,
    batch_id: str | None = None,
) -> int:
    """Append an entry and return its id; ``arguments`` and ``market_error`` are redacted."""
    # One row for every command handled: a plain INSERT keeps this cheap.
    with db.conn:
        cursor = db.execute(
            "INSERT INTO audit (at, user_id, chat_id, campaign_id, command, arguments, outcome, "
            "market_error, message_id, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ts_to_text(now),
                user_id,
                chat_id,
                campaign_id,
                command,
                redact(arguments),
                outcome,
                None if market_error is None else redact(market_error),
                message_id,
                batch_id,
            ),
        )
    return int(cursor.lastrowid or 0)


def recent(db: Database, campaign_id: int, limit: int) -> list[AuditRow]:
    """The campaign's latest ``limit`` entries, newest first."""
    rows = table(db, "audit").rows_where(
        "campaign_id = ?", [campaign_id], order_by="at DESC, id DESC", limit=max(limit, 0)
    )
    return [row_of(AuditRow, values) for values in rows]


def was_handled(db: Database, chat_id: int, message_id: int) -> bool:
    """True when a command of this message was handled (and recorded) before."""
    row = db.execute(
        "SELECT 1 FROM audit WHERE chat_id = ? AND message_id = ? LIMIT 1", (chat_id, message_id)
    ).fetchone()
    return row is not None
