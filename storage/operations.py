"""Durable command execution: batches of operations that survive restarts.

A batch is one Telegram message (id ``"<chat_id>:<message_id>"``); each line of it is one
operation. An operation moves through::

    queued ─────► running ─────► done
       │           ▲   │   └───► failed
       │           │   ▼
       └─────────► retrying

``running`` becomes ``retrying`` after a transient failure, and after a crash
(``resume_interrupted``); ``queued`` becomes ``retrying`` without an attempt when Market asked the
whole campaign to wait (``postpone``).

``done`` and ``failed`` are terminal: once there, an operation never changes again. A batch is
reported (its final answer sent) once all its operations are terminal.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from storage._common import (
    id_list,
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
    progress_message_id: int | None = None


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


def batch_id_of(chat_id: int, message_id: int) -> str:
    return f"{chat_id}:{message_id}"


def create_batch(
    db: Database, batch: NewBatch, *, now: datetime, deadline_at: datetime
) -> tuple[BatchRow, bool]:
    """Store a batch and its operations, all queued and due at ``now``, in one transaction.

    Returns (batch, True) when stored, or (the existing batch, False) when this message was
    stored before (Telegram redelivered the update); nothing is changed then. Raises ValueError
    when there are no operations or two share a line number, and TypeError when a payload is
    not a JSON-serialisable dict.
    """
    operations = batch.operations
    if not operations:
        raise ValueError("a batch needs at least one operation")
    if len({op.line_no for op in operations}) != len(operations):
        raise ValueError("line numbers within a batch must be unique")
    row = BatchRow(
        batch_id_of(batch.chat_id, batch.message_id), batch.chat_id, batch.message_id,
        batch.thread_id, batch.user_id, batch.language, batch.command,
        batch.progress_message_id, False, stamp(now),
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
                "attempts, next_attempt_at, deadline_at, error, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?, NULL, ?, ?)",
                [
                    (row.id, op.line_no, op.campaign_id, op.kind, payload, *times)
                    for op, payload in zip(operations, payloads, strict=True)
                ],
            )
    stored = row if inserted else get_batch(db, row.id)
    if stored is None:
        raise RuntimeError(f"batch {row.id} vanished right after it was stored")
    return stored, inserted


def get_batch(db: Database, batch_id: str) -> BatchRow | None:
    for values in table(db, "batches").rows_where("id = ?", [batch_id]):
        return row_of(BatchRow, values)
    return None


def batch_operations(db: Database, batch_id: str) -> list[OperationRow]:
    """The batch's operations in line order."""
    return [
        row_of(OperationRow, values)
        for values in table(db, "operations").rows_where(
            "batch_id = ?", [batch_id], order_by="line_no"
        )
    ]


def due_operations(
    db: Database,
    now: datetime,
    *,
    limit: int,
    exclude: Collection[int] = (),
    exclude_campaigns: Collection[int] = (),
    per_campaign: int | None = None,
) -> list[OperationRow]:
    """Queued or retrying operations due by ``now``, longest-waiting first, at most ``limit``.

    ``exclude`` names operations the caller is already running, ``exclude_campaigns`` campaigns
    it cannot start anything for now. With ``per_campaign`` at most that many operations of any
    one campaign are returned (the longest-waiting of each), so that a campaign with a long
    queue does not crowd the others out of the answer.
    """
    rank_limit = per_campaign if per_campaign is not None else -1
    cursor = db.execute(
        "SELECT * FROM ("
        " SELECT *, row_number() OVER ("
        "  PARTITION BY campaign_id ORDER BY next_attempt_at, id) AS campaign_rank"
        " FROM operations"
        " WHERE status IN ('queued', 'retrying') AND next_attempt_at <= ?"
        " AND id NOT IN (SELECT value FROM json_each(?))"
        " AND campaign_id NOT IN (SELECT value FROM json_each(?))"
        ") WHERE ? < 0 OR campaign_rank <= ? "
        "ORDER BY next_attempt_at, id LIMIT ?",
        (
            ts_to_text(now),
            id_list(exclude),
            id_list(exclude_campaigns),
            rank_limit,
            rank_limit,
            max(limit, 0),
        ),
    )
    columns = [d[0] for d in cursor.description]
    return [row_of(OperationRow, dict(zip(columns, row, strict=True))) for row in cursor.fetchall()]


def next_due_at(db: Database, *, exclude_campaigns: Collection[int] = ()) -> datetime | None:
    """When the earliest queued or retrying operation is due; None when there is none.

    Operations of ``exclude_campaigns`` are not considered.
    """
    row = db.execute(
        "SELECT min(next_attempt_at) FROM operations WHERE status IN ('queued', 'retrying') "
        "AND campaign_id NOT IN (SELECT value FROM json_each(?))",
        (id_list(exclude_campaigns),),
    ).fetchone()
    return None if row[0] is None else ts_from_text(row[0])


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
    the reason; their attempts are not counted. Returns how many were postponed.
    """
    at = ts_to_text(until)
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "UPDATE operations SET status = 'retrying', next_attempt_at = ?, error = ?, "
            "updated_at = ? WHERE campaign_id = ? AND status IN ('queued', 'retrying') "
            "AND next_attempt_at < ? AND (? IS NULL OR kind = ?)",
            (at, json_to_text(error), ts_to_text(now), campaign_id, at, kind, kind),
        )
    return cursor.rowcount


def _update_op(db: Database, sql: str, params: tuple[Any, ...]) -> bool:
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(sql, params)
    return cursor.rowcount > 0


def mark_running(db: Database, op_id: int, now: datetime) -> bool:
    """Claim a queued or retrying operation and count the attempt.

    False when it is not waiting (already running or finished): the caller must not run it.
    """
    return _update_op(
        db,
        "UPDATE operations SET status = 'running', attempts = attempts + 1, updated_at = ? "
        "WHERE id = ? AND status IN ('queued', 'retrying')",
        (ts_to_text(now), op_id),
    )


def mark_done(db: Database, op_id: int, now: datetime) -> bool:
    """Finish the operation successfully; False when it had already finished."""
    return _update_op(
        db,
        "UPDATE operations SET status = 'done', error = NULL, updated_at = ? "
        "WHERE id = ? AND status IN ('queued', 'running', 'retrying')",
        (ts_to_text(now), op_id),
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
    return _update_op(
        db,
        "UPDATE operations SET status = 'retrying', next_attempt_at = ?, error = ?, "
        "updated_at = ? WHERE id = ? AND status IN ('queued', 'running', 'retrying')",
        (ts_to_text(next_attempt_at), json_to_text(error), ts_to_text(now), op_id),
    )


def mark_failed(db: Database, op_id: int, now: datetime, error: dict[str, Any]) -> bool:
    """Finish the operation as failed; False when it had already finished."""
    return _update_op(
        db,
        "UPDATE operations SET status = 'failed', error = ?, updated_at = ? "
        "WHERE id = ? AND status IN ('queued', 'running', 'retrying')",
        (json_to_text(error), ts_to_text(now), op_id),
    )


def set_progress_message(db: Database, batch_id: str, message_id: int | None) -> bool:
    """Remember (or forget, None) the message showing the batch's progress.

    False when there is no such batch.
    """
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "UPDATE batches SET progress_message_id = ? WHERE id = ?", (message_id, batch_id)
        )
    return cursor.rowcount > 0


def mark_reported(db: Database, batch_id: str) -> bool:
    """Record that the batch's final answer was sent; False when there is no such batch."""
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "UPDATE batches SET reported = 1 WHERE id = ?", (batch_id,)
        )
    return cursor.rowcount > 0


def finished_unreported(db: Database) -> list[BatchRow]:
    """Batches whose operations have all finished but whose final answer was not sent yet."""
    return [
        row_of(BatchRow, values)
        for values in table(db, "batches").rows_where(
            "reported = 0 AND NOT EXISTS (SELECT 1 FROM operations AS o "
            "WHERE o.batch_id = batches.id AND o.status IN ('queued', 'running', 'retrying'))",
            order_by="created_at, id",
        )
    ]


def open_batches(db: Database) -> list[BatchRow]:
    """Batches with at least one operation still queued, running or retrying."""
    return [
        row_of(BatchRow, values)
        for values in table(db, "batches").rows_where(
            "EXISTS (SELECT 1 FROM operations AS o "
            "WHERE o.batch_id = batches.id AND o.status IN ('queued', 'running', 'retrying'))",
            order_by="created_at, id",
        )
    ]


def resume_interrupted(db: Database, now: datetime) -> int:
    """After a crash: every operation left running is retried at ``now``; returns how many.

    Call once at start-up, before the worker runs anything.
    """
    at = ts_to_text(now)
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "UPDATE operations SET status = 'retrying', next_attempt_at = ?, updated_at = ? "
            "WHERE status = 'running'",
            (at, at),
        )
    return cursor.rowcount
