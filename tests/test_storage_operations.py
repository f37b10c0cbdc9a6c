"""Storage of durable commands: batches of operations and their lifecycle
(queued → running → retrying → done/failed), open operations, postponing and crash recovery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from storage import operations
from storage.db import open_memory_database
from storage.operations import BatchRow, NewBatch, NewOperation, OperationRow

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
COURIER = 1003
CAMPAIGN, OTHER_CAMPAIGN = 21000001, 21000002
GROUP_CHAT = -1001234567890


@pytest.fixture
def db() -> Iterator[Database]:
    database = open_memory_database()
    yield database
    database.close()


def new_batch(
    db: Database,
    message_id: int,
    lines: int = 1,
    now: datetime = NOW,
    campaign_id: int = CAMPAIGN,
    kind: str = "track",
) -> tuple[BatchRow, bool]:
    """Store a batch; (the batch, whether it was new)."""
    batch = NewBatch(
        chat_id=GROUP_CHAT,
        message_id=message_id,
        thread_id=7,
        user_id=COURIER,
        language="ru",
        command="track",
        operations=[
            NewOperation(
                line_no=n,
                campaign_id=campaign_id,
                kind=kind,
                payload={"order_id": 100 + n, "track_code": f"RR{n}", "delivery_service_id": 51},
            )
            for n in range(1, lines + 1)
        ],
    )
    row, _, created = operations.create_batch(
        db, batch, now=now, deadline_at=now + timedelta(hours=6)
    )
    return row, created


def ops_of(db: Database, batch: BatchRow) -> list[OperationRow]:
    return operations.batch_operations(db, batch.id)


def test_create_batch_stores_queued_operations(db: Database) -> None:
    batch, created = new_batch(db, 10, lines=2)
    assert created is True
    assert batch == operations.get_batch(db, f"{GROUP_CHAT}:10")
    assert batch == BatchRow(
        f"{GROUP_CHAT}:10", GROUP_CHAT, 10, 7, COURIER, "ru", "track", None, False, NOW
    )
    ops = ops_of(db, batch)
    assert [(op.line_no, op.status, op.attempts, op.error) for op in ops] == [
        (1, "queued", 0, None),
        (2, "queued", 0, None),
    ]
    assert ops[0].payload == {"order_id": 101, "track_code": "RR1", "delivery_service_id": 51}
    assert (ops[0].kind, ops[0].campaign_id, ops[0].batch_id) == ("track", CAMPAIGN, batch.id)
    assert (ops[0].next_attempt_at, ops[0].created_at, ops[0].updated_at) == (NOW, NOW, NOW)
    assert ops[0].deadline_at == NOW + timedelta(hours=6)


def test_create_batch_returns_the_stored_operations(db: Database) -> None:
    operation = NewOperation(1, CAMPAIGN, "move", {"order_id": 1})
    batch, ops, created = operations.create_batch(
        db, NewBatch(1, 2, None, COURIER, "en", "move", [operation]), now=NOW, deadline_at=NOW
    )
    assert created and ops == ops_of(db, batch)
    assert (batch.progress_message_id, batch.thread_id, batch.language) == (None, None, "en")
    again = operations.create_batch(
        db, NewBatch(1, 2, None, COURIER, "en", "move", [operation]), now=NOW, deadline_at=NOW
    )
    assert again == (batch, ops, False)


def test_redelivered_message_creates_nothing(db: Database) -> None:
    first, _ = new_batch(db, 10, lines=2)
    again, created = new_batch(db, 10, lines=3, now=NOW + timedelta(minutes=1))
    assert created is False
    assert again == first
    assert len(ops_of(db, first)) == 2


def test_create_batch_rejects_bad_input_and_stores_nothing(db: Database) -> None:
    with pytest.raises(ValueError):
        new_batch(db, 10, lines=0)
    op = NewOperation(line_no=1, campaign_id=CAMPAIGN, kind="track", payload={})
    with pytest.raises(ValueError):
        operations.create_batch(
            db, NewBatch(1, 1, None, 1, "en", "track", [op, op]), now=NOW, deadline_at=NOW
        )
    bad_payload = NewOperation(1, CAMPAIGN, "track", {"when": NOW})
    with pytest.raises(TypeError):
        operations.create_batch(
            db, NewBatch(1, 2, None, 1, "en", "track", [bad_payload]), now=NOW, deadline_at=NOW
        )
    assert operations.get_batch(db, "1:1") is None
    assert operations.get_batch(db, "1:2") is None
    assert db.execute("SELECT count(*) FROM operations").fetchone()[0] == 0


def test_open_operations_lists_what_waits_with_its_sender(db: Database) -> None:
    late, _ = new_batch(db, 20, lines=2, now=NOW)
    early, _ = new_batch(db, 10, lines=1, now=NOW - timedelta(minutes=1))
    other, _ = new_batch(db, 30, lines=1, campaign_id=OTHER_CAMPAIGN)
    [early_op], late_ops, [other_op] = ops_of(db, early), ops_of(db, late), ops_of(db, other)
    operations.mark_done(db, late_ops[1].id, NOW)
    found = operations.open_operations(db)
    assert [o.id for o in found] == [early_op.id, late_ops[0].id, other_op.id]
    first = found[0]
    assert (first.batch_id, first.campaign_id, first.kind, first.user_id) == (
        early.id,
        CAMPAIGN,
        "track",
        COURIER,
    )
    assert first.next_attempt_at == NOW - timedelta(minutes=1)
    assert found[2].campaign_id == OTHER_CAMPAIGN


def test_operation_lifecycle(db: Database) -> None:
    batch, _ = new_batch(db, 10)
    op_id = ops_of(db, batch)[0].id
    t1, t2, t3 = (NOW + timedelta(seconds=s) for s in (1, 2, 3))

    claimed = operations.claim(db, op_id, t1)
    assert claimed is not None and (claimed.status, claimed.attempts) == ("running", 1)
    assert operations.claim(db, op_id, t1) is None  # already running: nobody runs it twice
    assert operations.open_operations(db) == []

    retry_at = NOW + timedelta(minutes=5)
    error = {"kind": "rate_limited", "retry_at": retry_at.isoformat()}
    assert operations.mark_retrying(db, op_id, t2, next_attempt_at=retry_at, error=error)
    assert ops_of(db, batch)[0].error == error
    assert [o.next_attempt_at for o in operations.open_operations(db)] == [retry_at]

    assert operations.claim(db, op_id, retry_at) is not None
    assert operations.mark_done(db, op_id, t3) is True
    assert operations.mark_done(db, op_id, t3) is False
    assert operations.mark_failed(db, op_id, t3, error={"kind": "late"}) is False
    assert operations.mark_retrying(db, op_id, t3, next_attempt_at=t3, error={}) is False
    assert operations.claim(db, op_id, t3) is None

    [op] = ops_of(db, batch)
    assert (op.status, op.attempts, op.error) == ("done", 2, None)
    assert (op.created_at, op.updated_at) == (NOW, t3)


def test_mark_failed_keeps_the_error(db: Database) -> None:
    batch, _ = new_batch(db, 10)
    op_id = ops_of(db, batch)[0].id
    operations.claim(db, op_id, NOW)
    error = {"kind": "api", "status": 400, "message": "Action is not allowed"}
    assert operations.mark_failed(db, op_id, NOW, error) is True
    [op] = ops_of(db, batch)
    assert (op.status, op.error) == ("failed", error)


def test_postpone_holds_the_campaigns_waiting_operations(db: Database) -> None:
    batch, _ = new_batch(db, 10, lines=2)
    moves, _ = new_batch(db, 11, kind="move")
    other, _ = new_batch(db, 12, campaign_id=OTHER_CAMPAIGN)
    first, second = ops_of(db, batch)
    operations.claim(db, first.id, NOW)
    until = NOW + timedelta(minutes=30)
    error = {"type": "MarketRateLimited"}

    held = operations.postpone(
        db, NOW, campaign_id=CAMPAIGN, until=until, error=error, kind="track"
    )
    assert held == 1  # the running one and the move are left alone
    [waiting] = [op for op in ops_of(db, batch) if op.id == second.id]
    assert (waiting.status, waiting.next_attempt_at, waiting.attempts) == ("retrying", until, 0)
    assert waiting.error == error
    assert ops_of(db, batch)[0].status == "running"
    assert ops_of(db, moves)[0].status == "queued"
    assert ops_of(db, other)[0].status == "queued"
    # Without a kind every waiting operation of the campaign is held; a hold never brings an
    # operation forward.
    assert operations.postpone(db, NOW, campaign_id=CAMPAIGN, until=until, error=error) == 1
    assert operations.postpone(db, NOW, campaign_id=CAMPAIGN, until=NOW, error=error) == 0
    assert ops_of(db, moves)[0].next_attempt_at == until


def test_postpone_keeps_an_earlier_attempts_uncertainty(db: Database) -> None:
    batch, _ = new_batch(db, 10)
    [op] = ops_of(db, batch)
    operations.claim(db, op.id, NOW)
    operations.mark_retrying(
        db, op.id, NOW, next_attempt_at=NOW, error={"type": "MarketTimeoutError", "uncertain": True}
    )
    later = NOW + timedelta(minutes=1)
    operations.postpone(db, NOW, campaign_id=CAMPAIGN, until=later, error={"type": "hold"})
    assert ops_of(db, batch)[0].error == {"type": "hold", "uncertain": True}


def test_resume_interrupted_requeues_running_operations_as_uncertain(db: Database) -> None:
    batch, _ = new_batch(db, 10, lines=3)
    first, second, third = ops_of(db, batch)
    operations.claim(db, first.id, NOW)
    operations.claim(db, second.id, NOW)
    operations.mark_done(db, second.id, NOW)
    restart = NOW + timedelta(minutes=10)

    assert operations.resume_interrupted(db, restart) == 1
    resumed = ops_of(db, batch)[0]
    assert (resumed.status, resumed.next_attempt_at, resumed.attempts) == ("retrying", restart, 1)
    # It may have reached Market before the crash: the worker checks the order first.
    assert resumed.error == {"type": "interrupted", "uncertain": True}
    assert [o.id for o in operations.open_operations(db)] == [third.id, first.id]
    assert operations.resume_interrupted(db, restart) == 0


def test_finished_unreported(db: Database) -> None:
    batch, _ = new_batch(db, 10, lines=2)
    new_batch(db, 11)
    first, second = ops_of(db, batch)
    operations.mark_done(db, first.id, NOW)
    assert operations.finished_unreported(db) == []

    operations.mark_failed(db, second.id, NOW, {"kind": "not_found"})
    assert [b.id for b in operations.finished_unreported(db)] == [batch.id]

    assert operations.mark_reported(db, batch.id) is True
    assert operations.mark_reported(db, "nope") is False
    assert operations.finished_unreported(db) == []
    reported = operations.get_batch(db, batch.id)
    assert reported is not None
    assert reported.reported is True


def test_progress_message_is_remembered_and_forgotten(db: Database) -> None:
    batch, _ = new_batch(db, 10)
    assert operations.set_progress_message(db, batch.id, 999) is True
    stored = operations.get_batch(db, batch.id)
    assert stored is not None
    assert stored.progress_message_id == 999
    assert operations.set_progress_message(db, batch.id, None) is True
    cleared = operations.get_batch(db, batch.id)
    assert cleared is not None
    assert cleared.progress_message_id is None
    assert operations.set_progress_message(db, "nope", 1) is False


def test_an_unknown_stored_status_is_refused(db: Database) -> None:
    batch, _ = new_batch(db, 10)
    db.execute("PRAGMA ignore_check_constraints = ON")
    with db.conn:
        db.execute("UPDATE operations SET status = 'paused'")
    with pytest.raises(ValueError, match="paused"):
        ops_of(db, batch)
