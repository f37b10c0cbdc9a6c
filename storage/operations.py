"""Durable command execution: batches of operations that survive restarts.

A batch is one Telegram message (id ``"<chat_id>:<message_id>"``, and
``"<chat_id>:<message_id>:<revision>"`` for a later revision of it, an edit); each line of it
is one operation. An operation moves through::

    queued ─────► running ─────► done
       │           ▲   │   └───► failed
       │           │   ▼
       └─────────► retrying

``running`` becomes ``retrying`` after a transient failure, and after a crash
(``resume_interrupted``, which also marks the attempt as uncertain: it may have reached
Market); ``queued`` becomes ``retrying`` without an attempt when Market asked the whole
campaign to wait (``postpone``).

``done`` and ``failed`` are terminal: once there, an operation never changes again. A batch is
reported (its final answer sent) once all its operations are terminal. Every change is one
conditional statement, so a second process or a stale task can never run or finish an
operation twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from storage._common import (
    change,
    json_to_text,
    row_of,
    stamp,
    table,
    transaction,
    ts_from_text,
    ts_to_text,
    values_of,
)

OpStatus = Literal["queued", "running", "retrying", "done", "failed"]
STATUSES: tuple[OpStatus, ...] = ("queued", "running", "retrying", "done", "failed")
TERMINAL: frozenset[OpStatus] = frozenset({"done", "failed"})


@dataclass(frozen=True)
class NewOperation:
    """One line of a command to run: ``kind`` names an operation kind of ``bot.market.writes``
    (or "invalid" for a line that is only explained); ``payload`` is JSON-able."""

    line_no: int
    campaign_id: int
    kind: str
    payload: dict[str, Any]
    # A digest of the line as typed: an edit of the message sends only lines not stored before.
    line_hash: str | None = None


@dataclass(frozen=True)
class NewBatch:
    """One accepted message of command lines, to be stored and then executed durably."""

    chat_id: int
    message_id: int
    thread_id: int | None
    user_id: int
    language: str
    command: str
    operations: Sequence[NewOperation]
    # None for the message as first sent; set for a later revision of it (an edit).
    revision: str | None = None
    # Set for a button pressed under the message (an order card): each press is a command of
    # its own, "<chat_id>:<message_id>:<press>"; the message itself is not edited.
    press: str | None = None

    @property
    def id(self) -> str:
        found = batch_id_of(self.chat_id, self.message_id, self.revision)
        return f"{found}:{self.press}" if self.press else found


@dataclass(frozen=True)
class BatchRow:
    id: str
    chat_id: int
    message_id: int
    thread_id: int | None
    user_id: int
    language: str
    command: str
    progress_message_id: int | None
    reported: bool
    created_at: datetime
    revision: str | None = None


@dataclass(frozen=True)
class OperationRow:
    id: int
    batch_id: str
    line_no: int
    campaign_id: int
    kind: str
    payload: dict[str, Any]
    status: OpStatus
    attempts: int
    next_attempt_at: datetime
    deadline_at: datetime
    error: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class OpenOperation:
    """What the worker needs to queue an operation that is not finished yet."""

    id: int
    batch_id: str
    campaign_id: int
    kind: str
    user_id: int
    next_attempt_at: datetime


def batch_id_of(chat_id: int, message_id: int, revision: str | None = None) -> str:
    return f"{chat_id}:{message_id}" + (f":{revision}" if revision else "")


def create_batch(
    db: Database, batch: NewBatch, *, now: datetime, deadline_at: datetime
) -> tuple[BatchRow, list[OperationRow], bool]:
    """Store a batch and its operations, all queued and due at ``now``, in one transaction.

    Returns (batch, its operations, True) when stored, or the existing batch and operations
    with False when this message was stored before (Telegram redelivered the update); nothing
    is changed then. Raises ValueError when there are no operations or two share a line
    number, and TypeError when a payload is not a JSON-serialisable dict.
    """
    operations = batch.operations
    if not operations:
        raise ValueError("a batch needs at least one operation")
    if len({op.line_no for op in operations}) != len(operations):
        raise ValueError("line numbers within a batch must be unique")
    row = BatchRow(
        batch.id, batch.chat_id, batch.message_id, batch.thread_id, batch.user_id,
        batch.language, batch.command, None, False, stamp(now), batch.revision,
    )  # fmt: skip
    created_at, deadline = ts_to_text(now), ts_to_text(deadline_at)
    payloads = [json_to_text(op.payload) for op in operations]
    values = values_of(row)
    times = (created_at, deadline, created_at, created_at)
    # The batch and its operations are stored together or not at all: one transaction.
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            f"INSERT OR IGNORE INTO batches ({', '.join(values)}) "  # noqa: S608
            f"VALUES ({', '.join('?' * len(values))})",
            tuple(values.values()),
        )
        inserted = cursor.rowcount > 0
        if inserted:
            db.conn.executemany(
                "INSERT INTO operations (batch_id, line_no, campaign_id, kind, payload, status, "
                "attempts, next_attempt_at, deadline_at, error, created_at, updated_at, "
                "line_hash) VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, NULL, ?, ?, ?)",
                [
                    (row.id, op.line_no, op.campaign_id, op.kind, payload, *times, op.line_hash)
                    for op, payload in zip(operations, payloads, strict=True)
                ],
            )
    stored = row if inserted else get_batch(db, row.id)
    if stored is None:
        raise RuntimeError(f"batch {row.id} vanished right after it was stored")
    return stored, batch_operations(db, row.id), inserted


def get_batch(db: Database, batch_id: str) -> BatchRow | None:
    rows = table(db, "batches").rows_where("id = ?", [batch_id])
    return next((row_of(BatchRow, values) for values in rows), None)


def line_hashes_of(db: Database, chat_id: int, message_id: int) -> set[str]:
    """The line digests stored for every revision of a message (lines without one left out)."""
    cursor = db.execute(
        "SELECT o.line_hash FROM operations AS o JOIN batches AS b ON b.id = o.batch_id "
        "WHERE b.chat_id = ? AND b.message_id = ? AND o.line_hash IS NOT NULL",
        (chat_id, message_id),
    )
    return {str(text) for (text,) in cursor.fetchall()}


def batch_operations(db: Database, batch_id: str) -> list[OperationRow]:
    """The batch's operations in line order."""
    rows = table(db, "operations").rows_where("batch_id = ?", [batch_id], order_by="line_no")
    return [row_of(OperationRow, values) for values in rows]


def open_operations(db: Database) -> list[OpenOperation]:
    """Every operation still queued or retrying, with who submitted it, oldest due first."""
    cursor = db.execute(
        "SELECT o.id, o.batch_id, o.campaign_id, o.kind, b.user_id, o.next_attempt_at "
        "FROM operations AS o JOIN batches AS b ON b.id = o.batch_id "
        "WHERE o.status IN ('queued', 'retrying') ORDER BY o.next_attempt_at, o.id"
    )
    return [
        OpenOperation(int(i), str(b), int(c), str(k), int(u), ts_from_text(at))
        for i, b, c, k, u, at in cursor.fetchall()
    ]


def claim(db: Database, op_id: int, now: datetime) -> OperationRow | None:
    """Take a queued or retrying operation to run it, counting the attempt.

    Returns the operation as it now stands, or None when it is not waiting (already running
    or finished, perhaps by another process): the caller must not run it then.
    """
    with db.conn:
        cursor: sqlite3.Cursor = db.execute(
            "UPDATE operations SET status = 'running', attempts = attempts + 1, updated_at = ? "
            "WHERE id = ? AND status IN ('queued', 'retrying') RETURNING *",
            (ts_to_text(now), op_id),
        )
        found = cursor.fetchone()
        columns = [d[0] for d in cursor.description]
    return None if found is None else row_of(OperationRow, dict(zip(columns, found, strict=True)))


def postpone(
    db: Database,
    now: datetime,
    *,
    campaign_id: int,
    until: datetime,
    error: dict[str, Any],
    kind: str | None = None,
) -> int:
    """Hold every waiting operation of the campaign (of ``kind`` only, when given) until ``until``.

    Queued and retrying operations due earlier become retrying at ``until`` with ``error`` as
    the reason (an earlier attempt's uncertainty is kept); their attempts are not counted.
    Returns how many were postponed.
    """
    at = ts_to_text(until)
    return change(
        db,
        "UPDATE operations SET status = 'retrying', next_attempt_at = ?, "
        "error = CASE WHEN json_extract(error, '$.uncertain') THEN json_set(?, '$.uncertain', "
        "json('true')) ELSE ? END, updated_at = ? WHERE campaign_id = ? "
        "AND status IN ('queued', 'retrying') AND next_attempt_at < ? AND (? IS NULL OR kind = ?)",
        (
            at,
            json_to_text(error),
            json_to_text(error),
            ts_to_text(now),
            campaign_id,
            at,
            kind,
            kind,
        ),
    )


def mark_done(db: Database, op_id: int, now: datetime) -> bool:
    """Finish the operation successfully; False when it had already finished."""
    return (
        change(
            db,
            "UPDATE operations SET status = 'done', error = NULL, updated_at = ? "
            "WHERE id = ? AND status IN ('queued', 'running', 'retrying')",
            (ts_to_text(now), op_id),
        )
        > 0
    )


def mark_retrying(
    db: Database,
    op_id: int,
    now: datetime,
    *,
    next_attempt_at: datetime,
    error: dict[str, Any],
) -> bool:
    """Schedule another attempt at ``next_attempt_at``, keeping the last error.

    False when the operation had already finished.
    """
    return (
        change(
            db,
            "UPDATE operations SET status = 'retrying', next_attempt_at = ?, error = ?, "
            "updated_at = ? WHERE id = ? AND status IN ('queued', 'running', 'retrying')",
            (ts_to_text(next_attempt_at), json_to_text(error), ts_to_text(now), op_id),
        )
        > 0
    )


def mark_failed(db: Database, op_id: int, now: datetime, error: dict[str, Any]) -> bool:
    """Finish the operation as failed; False when it had already finished."""
    return (
        change(
            db,
            "UPDATE operations SET status = 'failed', error = ?, updated_at = ? "
            "WHERE id = ? AND status IN ('queued', 'running', 'retrying')",
            (json_to_text(error), ts_to_text(now), op_id),
        )
        > 0
    )


def set_progress_message(db: Database, batch_id: str, message_id: int | None) -> bool:
    """Remember (or forget, None) the message showing the batch's progress.

    False when there is no such batch.
    """
    sql = "UPDATE batches SET progress_message_id = ? WHERE id = ?"
    return change(db, sql, (message_id, batch_id)) > 0


def mark_reported(db: Database, batch_id: str) -> bool:
    """Record that the batch's final answer was sent (or can never be); False when there is
    no such batch."""
    return change(db, "UPDATE batches SET reported = 1 WHERE id = ?", (batch_id,)) > 0


def finished_unreported(db: Database) -> list[BatchRow]:
    """Batches whose operations have all finished but whose final answer was not sent yet."""
    rows = table(db, "batches").rows_where(
        "reported = 0 AND NOT EXISTS (SELECT 1 FROM operations AS o "
        "WHERE o.batch_id = batches.id AND o.status IN ('queued', 'running', 'retrying'))",
        order_by="created_at, id",
    )
    return [row_of(BatchRow, values) for values in rows]


def resume_interrupted(db: Database, now: datetime) -> int:
    """After a crash: every operation left running is retried at ``now``; returns how many.

    Its last attempt may have reached Market, so it is marked uncertain: the worker checks the
    order before sending it again. Call at start-up before the worker runs anything, and when
    the worker stops.
    """
    at = ts_to_text(now)
    return change(
        db,
        "UPDATE operations SET status = 'retrying', next_attempt_at = ?, updated_at = ?, "
        "error = json_set(coalesce(error, '{\"type\": \"interrupted\"}'), '$.uncertain', "
        "json('true')) WHERE status = 'running'",
        (at, at),
    )


def supersede(
    db: Database,
    batch: BatchRow,
    replaced: Sequence[tuple[str, int]],
    now: datetime,
) -> int:
    """An edit of a message replaced some of its lines: the earlier revisions' operations of the
    same (kind, order id) that are still waiting fail as superseded, so that the old value never
    reaches Market after the new one. Running or finished ones are left alone. Returns how many.
    """
    if not replaced:
        return 0
    pairs = json.dumps([[kind, order_id] for kind, order_id in replaced])
    error = json_to_text({"type": "superseded"})
    return change(
        db,
        "UPDATE operations SET status = 'failed', error = ?, updated_at = ? "
        "WHERE status IN ('queued', 'retrying') AND batch_id IN ("
        " SELECT id FROM batches WHERE chat_id = ? AND message_id = ? AND id != ?) "
        "AND EXISTS (SELECT 1 FROM json_each(?) AS p WHERE json_extract(p.value, '$[0]') = kind "
        " AND json_extract(p.value, '$[1]') = json_extract(payload, '$.order_id'))",
        (error, ts_to_text(now), batch.chat_id, batch.message_id, batch.id, pairs),
    )
