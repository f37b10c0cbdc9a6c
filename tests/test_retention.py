"""Retention: old audit entries, finished batches and expired questions are pruned, by
``storage.retention.prune`` and by the janitor while the bot runs; nothing open is touched."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.config import Settings, SettingsError, load_settings
from bot.janitor import Janitor
from storage import audit, operations, pending
from storage.db import open_database, open_memory_database
from storage.operations import NewBatch, NewOperation
from storage.retention import Pruned, prune
from tests.conftest import CAMPAIGN, COURIER, GROUP, OWNER, running_bot, seed_shop
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import FakeTelegram

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CUT = NOW - 90 * DAY


@pytest.fixture
def db() -> Iterator[Database]:
    database = open_memory_database()
    yield database
    database.close()


def add_audit(db: Database, at: datetime, command: str = "track") -> int:
    return audit.record(
        db,
        now=at,
        user_id=COURIER,
        chat_id=GROUP,
        campaign_id=CAMPAIGN,
        command=command,
        arguments="101 RR456 51",
        outcome="accepted",
    )


_messages = iter(range(1, 1_000_000))


def add_batch(
    db: Database, at: datetime, ends: tuple[str, ...] = ("done",), *, reported: bool = True
) -> str:
    """A batch created at ``at`` whose operations end as ``ends`` say, one day later."""
    lines = [NewOperation(n, CAMPAIGN, "track", {"order_id": n}) for n in range(1, len(ends) + 1)]
    batch = NewBatch(GROUP, next(_messages), None, COURIER, "en", "track", lines)
    stored = operations.create_batch(db, batch, now=at, deadline_at=at + DAY)[0]
    later = at + DAY
    for op, end in zip(operations.batch_operations(db, stored.id), ends, strict=True):
        if end == "done":
            operations.mark_done(db, op.id, later)
        elif end == "failed":
            operations.mark_failed(db, op.id, later, {"code": "X"})
        elif end == "retrying":
            operations.mark_retrying(db, op.id, later, next_attempt_at=later, error={})
    if reported:
        operations.mark_reported(db, stored.id)
    return stored.id


def add_question(db: Database, at: datetime) -> int:
    return pending.save_pending(
        db,
        chat_id=GROUP,
        message_id=next(_messages),
        thread_id=None,
        user_id=COURIER,
        language="en",
        command="move",
        text="/move 101 25.12",
        choices=[],
        now=at,
    ).id


def ids(db: Database, sql: str) -> set[object]:
    return {row[0] for row in db.execute(sql).fetchall()}


# --------------------------------------------------------------------------------------------
# storage.retention.prune


def test_prune_takes_only_what_is_old_and_finished(db: Database) -> None:
    old_audit = add_audit(db, CUT - DAY)
    new_audit = add_audit(db, CUT + DAY)
    gone = [
        add_batch(db, CUT - 5 * DAY),
        add_batch(db, CUT - 5 * DAY, ("done", "failed")),
        add_batch(db, CUT - 5 * DAY, ("failed",)),
    ]
    kept = [
        add_batch(db, CUT - 5 * DAY, reported=False),  # its answer is still to be sent
        add_batch(db, CUT - 5 * DAY, ("done", "retrying")),  # still being retried
        add_batch(db, CUT - 5 * DAY, ("queued",)),
        add_batch(db, CUT - DAY // 2, ("done",)),  # finished after the cut-off
        add_batch(db, CUT + DAY),
    ]
    old_question = add_question(db, NOW - 3 * DAY)
    new_question = add_question(db, NOW - DAY)

    pruned = prune(db, before=CUT, questions_before=NOW - 2 * DAY)

    assert pruned == Pruned(audit=1, batches=3, operations=4, questions=1)
    assert pruned.total == 9
    assert ids(db, "SELECT id FROM audit") == {new_audit} != {old_audit}
    assert ids(db, "SELECT id FROM batches") == set(kept)
    assert ids(db, "SELECT DISTINCT batch_id FROM operations") == set(kept)
    assert ids(db, "SELECT id FROM pending") == {new_question} != {old_question}
    assert not set(gone) & ids(db, "SELECT id FROM batches")
    # Nothing more to do: a second call finds nothing.
    assert prune(db, before=CUT, questions_before=NOW - 2 * DAY) == Pruned()


def test_prune_works_in_chunks(db: Database) -> None:
    for n in range(7):
        add_audit(db, CUT - (n + 1) * DAY)
        add_batch(db, CUT - (n + 10) * DAY)
        add_question(db, CUT - (n + 1) * DAY)
    counts = []
    while (pruned := prune(db, before=CUT, questions_before=CUT, limit=3)).total:
        counts.append(pruned)
    assert counts == [Pruned(3, 3, 3, 3), Pruned(3, 3, 3, 3), Pruned(1, 1, 1, 1)]
    for name in ("audit", "batches", "operations", "pending"):
        assert db.execute(f"SELECT COUNT(*) FROM {name}").fetchone() == (0,)


def test_prune_refuses_naive_times_and_empty_chunks(db: Database) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        prune(db, before=datetime(2025, 1, 1), questions_before=NOW)
    with pytest.raises(ValueError, match="limit"):
        prune(db, before=CUT, questions_before=NOW, limit=0)


# --------------------------------------------------------------------------------------------
# the janitor


def test_janitor_sweep_uses_the_retention_and_the_question_expiry(db: Database) -> None:
    add_audit(db, NOW - 10 * DAY)
    add_audit(db, NOW - 12 * DAY)
    kept_audit = add_audit(db, NOW - 9 * DAY)
    add_question(db, NOW - 3 * DAY)  # expired: buttons answer "expired" after two days
    kept_question = add_question(db, NOW - DAY)
    janitor = Janitor(db, retention=10 * DAY - timedelta(minutes=1), clock=lambda: NOW)
    assert asyncio.run(janitor.sweep()) == Pruned(audit=2, questions=1)
    assert ids(db, "SELECT id FROM audit") == {kept_audit}
    assert ids(db, "SELECT id FROM pending") == {kept_question}
    # A retention shorter than the question expiry cuts questions too.
    short = Janitor(db, retention=DAY // 2, clock=lambda: NOW)
    assert asyncio.run(short.sweep()) == Pruned(audit=1, questions=1)


async def test_janitor_survives_a_locked_database_and_prunes_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "bot.sqlite3"
    database = open_database(path)
    database.execute("PRAGMA busy_timeout = 50")
    add_audit(database, NOW - 100 * DAY)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    janitor = Janitor(database, retention=90 * DAY, clock=lambda: NOW, interval=0.1, first_after=0)
    with caplog.at_level(logging.WARNING, logger="bot.janitor"):
        await janitor.start()
        try:
            for _ in range(100):
                if "could not prune old history" in caplog.text:
                    break
                await asyncio.sleep(0.02)
            assert "could not prune old history: database is locked" in caplog.text
            assert database.execute("SELECT COUNT(*) FROM audit").fetchone() == (1,)
            blocker.execute("ROLLBACK")
            for _ in range(100):
                if database.execute("SELECT COUNT(*) FROM audit").fetchone() == (0,):
                    break
                await asyncio.sleep(0.02)
            assert database.execute("SELECT COUNT(*) FROM audit").fetchone() == (0,)
        finally:
            await janitor.stop()
            blocker.close()
            database.close()
    await janitor.stop()  # stopping twice is harmless


async def test_the_running_bot_prunes_old_history_soon_after_start(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    seed_shop(settings, (OWNER, "owner"), (COURIER, "courier"))
    now = datetime.now(UTC)
    short = settings.model_copy(update={"retention_days": 30})
    database = open_database(settings.bot_db_path)
    old = [add_audit(database, now - 31 * DAY), add_audit(database, now - 400 * DAY)]
    fresh = add_audit(database, now - 29 * DAY)
    old_batch = add_batch(database, now - 40 * DAY)
    fresh_batch = add_batch(database, now - 10 * DAY)
    add_question(database, now - 3 * DAY)
    database.close()

    async with running_bot(short, fake_telegram, fake_market) as bot:
        for _ in range(250):
            database = open_database(settings.bot_db_path)
            try:
                remaining = ids(database, "SELECT id FROM audit")
                batches = ids(database, "SELECT id FROM batches")
                questions = ids(database, "SELECT id FROM pending")
            finally:
                database.close()
            if not set(old) & remaining:
                break
            await asyncio.sleep(0.02)
        # The bot works on meanwhile, and its new audit entries stay.
        mark = bot.mark()
        bot.telegram.send_private(COURIER, "/track 101 RR456 51")
        assert (await bot.final(COURIER, mark)).text is not None
    assert remaining == {fresh}
    assert batches == {fresh_batch} != {old_batch}
    assert questions == set()


def test_retention_setting_defaults_to_90_days_and_refuses_nonsense() -> None:
    token = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
    assert load_settings(telegram_bot_token=token, _env_file=None).retention_days == 90
    assert load_settings(telegram_bot_token=token, retention_days="7").retention_days == 7
    with pytest.raises(SettingsError, match=r"^RETENTION_DAYS "):
        load_settings(telegram_bot_token=token, retention_days=0, _env_file=None)


def test_closed_orders_old_invites_and_names_of_people_without_a_role_go() -> None:
    from storage import feed, invites, members, people
    from storage.feed import SweptOrder
    from storage.retention import prune_records
    from tests.conftest import CAMPAIGN, COURIER, MANAGER, OWNER
    from tests.test_storage_people import connect

    db = open_memory_database()
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    connect(db, CAMPAIGN)
    for user_id, name in ((COURIER, "Kolya"), (MANAGER, "Masha")):
        members.set_member(db, CAMPAIGN, user_id, "courier", OWNER, long_ago)
        people.note(db, {}, user_id, name, None, long_ago)
    members.remove_member(db, CAMPAIGN, MANAGER)
    feed.save_sweep(
        db,
        CAMPAIGN,
        [
            SweptOrder(1, "DELIVERED", None, None, {"orderId": 1}),
            SweptOrder(2, "PROCESSING", None, None, {"orderId": 2}),
        ],
        cursor=None,
        now=long_ago,
    )
    for order_id in (1, 2):
        feed.save_card(
            db,
            chat_id=-5,
            campaign_id=CAMPAIGN,
            order_id=order_id,
            message_id=order_id,
            thread_id=None,
            shown="x",
            now=long_ago,
        )
    invites.create_invite(db, CAMPAIGN, "courier", OWNER, long_ago)
    gone = prune_records(db, before=now - timedelta(days=90), now=now)
    assert gone == 4  # an order, its card, an invite, a name (and nothing else)
    assert set(feed.seen_orders(db, CAMPAIGN, [1, 2])) == {2}  # an open order stays
    assert feed.card(db, -5, CAMPAIGN, 1) is None and feed.card(db, -5, CAMPAIGN, 2) is not None
    assert db.execute("SELECT count(*) FROM invites").fetchone()[0] == 0
    assert [r[0] for r in db.execute("SELECT user_id FROM people")] == [COURIER]
