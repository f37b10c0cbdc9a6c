"""The worker on a bad day: answers lost on the way back, 2xx that are not answers, a revoked
sender, a locked or full database, answers Telegram will not take, and a shop that floods.

Each test drives ``bot.worker.Worker`` with a real ``MarketClient`` against ``FakeMarket``
(see ``tests/test_worker.py`` for the harness) and reproduces one way a command used to be lost
or wrongly answered.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.answers import Delivery
from storage import members, operations
from storage.db import open_database
from storage.operations import BatchRow, OperationRow
from tests.conftest import API_KEY, CAMPAIGN, COURIER, OTHER_CAMPAIGN
from tests.fakes.market import FakeMarket, Fault
from tests.test_worker import TRACK, Recorder, harness, many_shops, until

DATE = "setOrderDeliveryDate"
READ = "getBusinessOrders"


def move(order_id: int, day: date) -> dict[str, object]:
    return {"order_id": order_id, "to_date": day.isoformat(), "reason": "USER_MOVED_DELIVERY_DATES"}


def operations_of(fake: FakeMarket) -> list[tuple[str, int]]:
    return [(r.operation, r.status) for r in fake.records]


# --- an answer lost on the way back is not a failure -----------------------------------------


async def test_a_move_applied_but_answered_with_a_broken_page_is_done_once(
    fake_market: FakeMarket,
) -> None:
    day = fake_market.today + timedelta(days=3)
    fake_market.fail_next(104, Fault.answer_lost("<html>502 Bad Gateway</html>", status=200))
    async with harness(fake_market) as h:
        await h.submit(1, "move", move(104, day))
        op = await h.finished(1)
    assert op.status == "done"
    # Sent once, checked at Market once, never sent again into "the same date".
    assert operations_of(fake_market) == [(DATE, 200), (READ, 200)]
    assert fake_market.order(CAMPAIGN, 104).delivery_date == day


async def test_a_timeout_after_market_applied_the_write_is_checked_not_repeated(
    fake_market: FakeMarket,
) -> None:
    day = fake_market.today + timedelta(days=2)
    fake_market.fail_next(103, Fault.slow(0.4))
    # The client gives up after 0.2 s; Market applies at 0.4 s; the retry comes after that.
    async with harness(fake_market, client_options={"timeout": 0.2}, retry_base=0.8) as h:
        await h.submit(1, "move", move(103, day))
        op = await h.finished(1, timeout=8)
    assert op.status == "done"
    assert [(r.operation, r.status) for r in fake_market.records] == [(DATE, 200), (READ, 200)]


async def test_a_500_after_the_write_then_the_same_date_refusal_is_not_a_failure(
    fake_market: FakeMarket,
) -> None:
    day = fake_market.today + timedelta(days=4)
    fake_market.fail_next(105, Fault.answer_lost({"errors": []}, status=500))
    async with harness(fake_market) as h:
        await h.submit(1, "move", move(105, day))
        op = await h.finished(1)
    assert op.status == "done"
    assert [s for name, s in operations_of(fake_market) if name == DATE] == [500]


async def test_an_uncertain_write_that_did_not_happen_is_sent_again(
    fake_market: FakeMarket,
) -> None:
    fake_market.fail_next(101, Fault.ok_body("not json at all"))
    async with harness(fake_market) as h:
        await h.track(1, 101, code="RR77")
        op = await h.finished(1)
    assert op.status == "done"
    assert operations_of(fake_market) == [(TRACK, 200), (READ, 200), (TRACK, 200)]
    assert fake_market.order(CAMPAIGN, 101).track_codes == [("RR77", 51)]


async def test_a_200_that_says_error_is_a_failure_with_markets_words(
    fake_market: FakeMarket,
) -> None:
    envelope = {"status": "ERROR", "errors": [{"code": "OTHER", "message": "Track refused"}]}
    fake_market.fail_next(101, Fault.ok_body(envelope))
    async with harness(fake_market) as h:
        await h.track(1, 101)
        op = await h.finished(1)
    assert op.status == "failed"
    assert op.error is not None and op.error["errors"][0]["message"] == "Track refused"
    assert [name for name, _ in operations_of(fake_market)] == [TRACK]


async def test_giving_up_after_an_uncertain_attempt_keeps_the_doubt(
    fake_market: FakeMarket,
) -> None:
    fake_market.fail_next(
        104, Fault.server_error(500), *(Fault.server_error(503) for _ in range(50))
    )
    async with harness(fake_market, deadline=timedelta(seconds=0.5)) as h:
        await h.track(1, 104)
        op = await h.finished(1, timeout=4)
    assert op.status == "failed"
    assert op.error is not None
    assert op.error.get("gave_up") and op.error.get("uncertain")


# --- a sender whose access is gone ------------------------------------------------------------


async def test_a_queued_command_of_a_revoked_courier_never_reaches_market(
    fake_market: FakeMarket,
) -> None:
    fake_market.fail_next(101, Fault.server_error(503))
    async with harness(fake_market, retry_base=0.5) as h:
        await h.track(1, 101)
        await until(lambda: h.op(1).status == "retrying")
        members.remove_member(h.db, CAMPAIGN, COURIER)
        op = await h.finished(1, timeout=5)
    assert op.status == "failed"
    assert op.error == {"type": "access_revoked"}
    assert [s for name, s in operations_of(fake_market) if name == TRACK] == [503]


# --- a database that refuses for a while ------------------------------------------------------


async def test_a_locked_database_delays_answers_and_loses_nothing(
    fake_market: FakeMarket, tmp_path: Path
) -> None:
    path = tmp_path / "bot.sqlite3"
    db = open_database(path)
    fake_market.fail_next(101, Fault.server_error(503))
    async with harness(fake_market, db=db, retry_base=0.3) as h:
        await h.track(1, 101)
        await until(lambda: h.op(1).status == "retrying")
        # Another process holds the write lock longer than SQLite waits (5 s).
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        await asyncio.sleep(6.0)
        other.execute("ROLLBACK")
        other.close()
        first = await h.finished(1, timeout=10)
        assert h.worker.health()["alive"] is True
        await h.track(2, 102)
        second = await h.finished(2, timeout=5)
    assert (first.status, second.status) == ("done", "done")
    assert [s for name, s in operations_of(fake_market) if name == TRACK] == [503, 200, 200]


async def test_a_full_disk_refuses_new_commands_but_the_worker_goes_on(
    fake_market: FakeMarket, tmp_path: Path
) -> None:
    db = open_database(tmp_path / "bot.sqlite3")
    async with harness(fake_market, db=db) as h:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(sqlite3.OperationalError, match="full"):
            for message_id in range(1, 200):  # fills the last free pages, then refuses
                await h.track(message_id, 101)
        db.execute("PRAGMA max_page_count = 1073741823")
        await h.track(1000, 102)
        op = await h.finished(1000)
    assert op.status == "done"


# --- answers Telegram will not take -----------------------------------------------------------


class Blocked(Recorder):
    """Telegram says the person blocked the bot, after a short while."""

    async def final(self, batch: BatchRow, ops: list[OperationRow]) -> Delivery:
        await asyncio.sleep(0.05)
        self.events.append(f"gone:{batch.id}")
        return Delivery.GONE


class Hanging(Recorder):
    """Telegram never answers (the bot is stopped before it does)."""

    async def final(self, batch: BatchRow, ops: list[OperationRow]) -> Delivery:
        await asyncio.sleep(3600)
        return Delivery.SENT


async def test_an_answer_that_can_never_arrive_is_dropped_not_retried(
    fake_market: FakeMarket,
) -> None:
    async with harness(fake_market) as h:
        h.worker.answers.reporter = Blocked()
        await h.track(1, 101)
        await until(lambda: operations.finished_unreported(h.db) == [] and h.op(1).status == "done")
        await asyncio.sleep(0.3)
        events = list(h.worker.answers.reporter.events)  # type: ignore[attr-defined]
    assert events == ["gone:2002:1"]


async def test_undeliverable_answers_at_start_do_not_delay_new_commands(
    fake_market: FakeMarket,
) -> None:
    db = None
    async with harness(fake_market) as first:
        db = first.db
        first.worker.answers.reporter = Hanging()
        for message_id in range(1, 301):
            await first.track(message_id, 101)
        await until(lambda: len(first.fake.requests_for(TRACK)) == 300, timeout=20)
        await first.worker.stop(grace=0.0)  # their answers were never sent
    assert len(operations.finished_unreported(db)) >= 250
    async with harness(fake_market, db=db) as second:
        second.worker.answers.reporter = Blocked()
        started = time.monotonic()
        await second.track(1000, 102)
        await until(
            lambda: "gone:2002:1000" in second.worker.answers.reporter.events,  # type: ignore[attr-defined]
            timeout=10,
        )
        took = time.monotonic() - started
    # 300 slow refusals take 15 s one by one; the new answer does not wait for them.
    assert took < 3.0, took


# --- one shop with a long queue ---------------------------------------------------------------


async def test_a_shop_with_a_thousand_queued_does_not_hold_up_the_others() -> None:
    with FakeMarket(parallel_limit=4, latency=0.01) as fake:
        shops = many_shops(fake, 6, 1000)
        big, *small = shops
        async with harness(fake, shops, progress_after=60) as h:
            for order_id in range(1, 1001):
                await h.track(order_id, order_id, campaign_id=big)
            started = time.monotonic()
            for i, campaign_id in enumerate(small):
                await h.track(5000 + i, 1, campaign_id=campaign_id)
            await until(lambda: all(h.recorder.finals_for(5000 + i) for i in range(5)), 10)
            took = time.monotonic() - started
            big_done = sum(1 for b, _ in h.recorder.finals if int(b.id.split(":")[1]) <= 1000)
    # Each small shop waits for at most one of the big shop's round trips.
    assert took < 1.0, took
    assert big_done < 1000
    assert fake.parallel_rejections == 0


async def test_an_unknown_kind_in_storage_fails_with_a_log_line_and_nothing_else(
    fake_market: FakeMarket, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.worker")
    async with harness(fake_market) as h:
        await h.submit(1, "teleport", {"order_id": 1})
        op = await h.finished(1)
        await h.track(2, 101)
        assert (await h.finished(2)).status == "done"
    assert op.status == "failed" and op.error == {"type": "invalid"}
    assert "unknown kind 'teleport'" in caplog.text
    assert OTHER_CAMPAIGN not in {r.campaign_id for r in fake_market.records}


async def test_a_health_line_is_logged_while_work_waits(
    fake_market: FakeMarket, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.worker")
    fake_market.fail_next(101, *(Fault.server_error(503) for _ in range(3)))
    async with harness(fake_market, health_every=0.1, retry_base=0.2) as h:
        await h.track(1, 101)
        await h.finished(1, timeout=5)
        figures = h.worker.health()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("queue:")]
    assert lines, "no health line"
    assert "waiting" in lines[0] and "oldest" in lines[0]
    assert figures["alive"] is True and figures["running"] == 0


async def test_a_refused_key_tells_the_reporter_once_per_refusal(fake_market: FakeMarket) -> None:
    fake_market.revoke_key(API_KEY)
    async with harness(fake_market) as h:
        await h.track(1, 101)
        op = await h.finished(1)
        await until(lambda: any(e.startswith("key_refused") for e in h.recorder.events))
    assert op.status == "failed"
    assert f"key_refused:{CAMPAIGN}:401" in h.recorder.events
