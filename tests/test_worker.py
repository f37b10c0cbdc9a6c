"""The worker on its own: retries, limits, deadlines and fairness against the fake Market.

Each test drives ``bot.worker.Worker`` directly with a real ``MarketClient`` talking HTTP to
``FakeMarket`` and a ``Recorder`` standing in for Telegram; one test runs the whole bot to see
the progress answer edited into the result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlite_utils import Database

from bot.answers import Delivery
from bot.market.client import MarketClient
from bot.worker import Worker
from storage import campaigns, members, operations
from storage.db import open_memory_database
from storage.operations import BatchRow, NewBatch, NewOperation, OperationRow
from storage.secrets import KeyBox
from tests.conftest import (
    API_KEY,
    CAMPAIGN,
    COURIER,
    OTHER_CAMPAIGN,
    OTHER_KEY,
    OWNER,
    RunningBot,
)
from tests.fakes.market import FakeMarket, Fault, Recorded

TRACK = "setOrderDeliveryTrackCode"


@dataclass
class Recorder:
    """A ``bot.worker.Reporter`` that keeps every answer instead of sending it."""

    progress_calls: list[tuple[BatchRow, list[OperationRow]]] = field(default_factory=list)
    finals: list[tuple[BatchRow, list[OperationRow]]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    async def progress(self, batch: BatchRow, ops: list[OperationRow]) -> None:
        self.progress_calls.append((batch, ops))
        self.events.append(f"progress:{batch.id}")

    async def final(self, batch: BatchRow, ops: list[OperationRow]) -> Delivery:
        self.finals.append((batch, ops))
        self.events.append(f"final:{batch.id}")
        return Delivery.SENT

    async def key_refused(self, campaign_id: int, error: dict[str, Any]) -> None:
        self.events.append(f"key_refused:{campaign_id}:{error.get('status')}")

    def finals_for(self, message_id: int, chat_id: int = COURIER) -> list[list[OperationRow]]:
        wanted = operations.batch_id_of(chat_id, message_id)
        return [ops for batch, ops in self.finals if batch.id == wanted]


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.01)


@dataclass
class Harness:
    db: Database
    fake: FakeMarket
    client: MarketClient
    worker: Worker
    recorder: Recorder

    async def track(
        self, message_id: int, order_id: int, *, campaign_id: int = CAMPAIGN, code: str = "RR1"
    ) -> bool:
        """Submit a one-line /track as message ``message_id`` of the courier's private chat."""
        payload = {"order_id": order_id, "track_code": code, "delivery_service_id": 51}
        return await self.submit(message_id, "track", payload, campaign_id=campaign_id)

    async def submit(
        self, message_id: int, kind: str, payload: dict[str, Any], *, campaign_id: int = CAMPAIGN
    ) -> bool:
        """Submit one operation of ``kind`` as message ``message_id`` of the courier's chat."""
        operation = NewOperation(1, campaign_id, kind, payload)
        return await self.worker.submit(
            NewBatch(COURIER, message_id, None, COURIER, "en", kind, [operation])
        )

    def op(self, message_id: int) -> OperationRow:
        ops = operations.batch_operations(self.db, operations.batch_id_of(COURIER, message_id))
        assert len(ops) == 1
        return ops[0]

    def writes(self, order_id: int | None = None) -> list[Recorded]:
        return [
            r for r in self.fake.requests_for(TRACK) if order_id is None or r.order_id == order_id
        ]

    async def finished(self, message_id: int, timeout: float = 5.0) -> OperationRow:
        """Wait for the final answer of the message; returns its operation as reported."""
        await until(lambda: bool(self.recorder.finals_for(message_id)), timeout)
        [ops] = self.recorder.finals_for(message_id)
        return ops[0]


def connect(db: Database, keybox: KeyBox, campaign_id: int, api_key: str) -> None:
    campaigns.save_campaign(
        db,
        campaign_id=campaign_id,
        domain=f"{campaign_id}.example",
        business_id=700,
        business_name="Shop",
        placement_type="DBS",
        api_key_cipher=keybox.encrypt(api_key),
        connected_by=OWNER,
        now=datetime.now(UTC),
    )
    members.set_member(db, campaign_id, COURIER, "courier", OWNER, datetime.now(UTC))


@asynccontextmanager
async def harness(
    fake: FakeMarket,
    shops: dict[int, str] | None = None,
    *,
    client_options: dict[str, Any] | None = None,
    db: Database | None = None,
    **worker_options: Any,
) -> AsyncIterator[Harness]:
    """A started worker over ``db`` (in memory by default) with ``shops`` connected."""
    db = db if db is not None else open_memory_database()
    keybox = KeyBox(Fernet.generate_key())
    for campaign_id, api_key in (shops or {CAMPAIGN: API_KEY, OTHER_CAMPAIGN: OTHER_KEY}).items():
        connect(db, keybox, campaign_id, api_key)
    recorder = Recorder()
    options: dict[str, Any] = {"retry_base": 0.05, "progress_after": 0.5, **worker_options}
    async with MarketClient(fake.base_url, **(client_options or {})) as client:
        worker = Worker(db, client, keybox, recorder, **options)
        await worker.start()
        try:
            yield Harness(db, fake, client, worker, recorder)
        finally:
            await worker.stop(grace=1.0)


def statuses(db: Database) -> dict[str, int]:
    """How many operations are in each status (only statuses that occur)."""
    rows = db.execute("SELECT status, count(*) FROM operations GROUP BY status").fetchall()
    return {str(status): int(count) for status, count in rows}


def mono_of(moment: datetime) -> float:
    """The ``time.monotonic()`` reading that corresponds to the wall-clock ``moment``."""
    return time.monotonic() + (moment - datetime.now(UTC)).total_seconds()


# --- answers ----------------------------------------------------------------------------------


async def test_quick_success_is_answered_once_without_progress(fake_market: FakeMarket) -> None:
    async with harness(fake_market) as h:
        assert await h.track(1, 101) is True
        op = await h.finished(1)
        await asyncio.sleep(0.6)  # past progress_after: no late progress note either
    assert op.status == "done"
    assert op.attempts == 1
    assert h.recorder.progress_calls == []
    assert h.recorder.events == ["final:2002:1"]
    assert fake_market.order(CAMPAIGN, 101).track_codes == [("RR1", 51)]


async def test_duplicate_message_is_not_a_second_operation(fake_market: FakeMarket) -> None:
    async with harness(fake_market) as h:
        assert await h.track(7, 101) is True
        assert await h.track(7, 101, code="OTHER") is False
        await h.finished(7)
        assert await h.track(7, 101) is False  # also after it finished
        await asyncio.sleep(0.2)
    assert len(h.writes()) == 1
    assert len(h.recorder.finals) == 1
    assert statuses(h.db) == {"done": 1}
    assert fake_market.order(CAMPAIGN, 101).track_codes == [("RR1", 51)]


# --- retries ----------------------------------------------------------------------------------


async def test_420_waits_for_its_until_and_holds_the_campaign(fake_market: FakeMarket) -> None:
    # HTTP dates have whole seconds: a whole-second Until 1-2 s ahead is exactly what is sent.
    until = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0) + timedelta(seconds=1)
    mono_until = mono_of(until)
    fake_market.fail_next(101, Fault.rate_limited(until=until))
    async with harness(fake_market) as h:
        await h.track(1, 101)
        await until_status(h, 1, "retrying")
        waiting = h.op(1)
        # Another command for the same shop arrives while the shop is limited; another shop's
        # command is not held up.
        await h.track(2, 102)
        await h.track(3, 201, campaign_id=OTHER_CAMPAIGN)
        await h.finished(3)
        first = await h.finished(1, timeout=5)
        second = await h.finished(2, timeout=5)
    assert waiting.next_attempt_at >= until
    assert first.status == "done" and first.attempts == 2
    assert second.status == "done" and second.attempts == 1
    assert [w.status for w in h.writes(101)] == [420, 200]
    retry = h.writes(101)[1]
    assert retry.started >= mono_until - 0.005
    assert h.writes(102)[0].started >= mono_until - 0.005
    assert h.writes(201)[0].started < mono_until - 0.5
    # The command waits for a retry: a progress note with the time of the retry.
    [(_, shown)] = [(b, ops) for b, ops in h.recorder.progress_calls if b.id == "2002:1"]
    assert shown[0].status == "retrying" and shown[0].next_attempt_at >= until
    print(f"420 retry sent {(retry.started - mono_until) * 1000:.0f} ms after Until")


async def until_status(h: Harness, message_id: int, status: str, timeout: float = 5.0) -> None:
    await until(lambda: h.op(message_id).status == status, timeout)


async def test_500_three_times_then_success_on_the_fourth(fake_market: FakeMarket) -> None:
    fake_market.fail_next(102, *(Fault.server_error(500) for _ in range(3)))
    async with harness(fake_market) as h:
        await h.track(1, 102)
        op = await h.finished(1)
    assert op.status == "done"
    assert op.attempts == 4
    assert op.error is None
    assert [w.status for w in h.writes()] == [500, 500, 500, 200]
    assert len(h.recorder.finals) == 1
    gaps = [b.started - a.finished for a, b in zip(h.writes(), h.writes()[1:], strict=False)]
    assert all(gap >= 0.02 for gap in gaps), gaps  # backed off, not hammered


@pytest.mark.parametrize(
    ("order_id", "fault"),
    [
        (110, None),  # CANCELLED: "Action is not allowed for order …"
        (101, Fault.custom(400, "Invalid track code")),
    ],
    ids=["order-state", "bad-request"],
)
async def test_permanent_400_fails_at_once_without_retry(
    fake_market: FakeMarket, order_id: int, fault: Fault | None
) -> None:
    if fault is not None:
        fake_market.fail_next(order_id, fault)
    async with harness(fake_market) as h:
        await h.track(1, order_id)
        op = await h.finished(1)
        await asyncio.sleep(0.3)  # several retry bases: nothing more happens
    assert op.status == "failed"
    assert op.attempts == 1
    assert op.error is not None and op.error["status"] == 400
    assert "gave_up" not in op.error
    assert [w.status for w in h.writes()] == [400]
    assert len(h.recorder.finals) == 1
    assert h.recorder.progress_calls == []


async def test_timeout_is_retried(fake_market: FakeMarket) -> None:
    fake_market.fail_next(103, Fault.slow(1.0))
    async with harness(fake_market, client_options={"timeout": 0.3}) as h:
        started = time.monotonic()
        await h.track(1, 103)
        op = await h.finished(1)
        took = time.monotonic() - started
    assert op.status == "done"
    assert op.attempts == 2
    assert took < 1.0  # the retry did not wait for the slow answer
    assert ("RR1", 51) in fake_market.order(CAMPAIGN, 103).track_codes


async def test_deadline_ends_retrying_with_gave_up(fake_market: FakeMarket) -> None:
    fake_market.fail_next(104, *(Fault.server_error(503) for _ in range(100)))
    async with harness(fake_market, deadline=timedelta(seconds=0.6), retry_base=0.05) as h:
        started = time.monotonic()
        await h.track(1, 104)
        op = await h.finished(1, timeout=3)
        took = time.monotonic() - started
        await asyncio.sleep(0.2)
        requests = len(h.writes())
    assert op.status == "failed"
    assert op.error is not None and op.error.get("gave_up") is True
    assert op.error["status"] == 503
    assert 2 <= requests == op.attempts < 100
    assert len(h.writes()) == requests  # nothing after giving up
    assert took < 1.2
    assert len(h.recorder.finals) == 1


# --- limits -----------------------------------------------------------------------------------


async def test_spent_hourly_budget_waits_with_an_eta_and_no_market_call(
    fake_market: FakeMarket,
) -> None:
    async with harness(fake_market, client_options={"hourly_limit": 2}, progress_after=0.2) as h:
        for message_id, order_id in ((1, 101), (2, 102)):
            await h.track(message_id, order_id)
            await h.finished(message_id)
        await h.track(3, 103)
        await until(lambda: any(b.id == "2002:3" for b, _ in h.recorder.progress_calls))
        waiting = h.op(3)
        refill = h.client.limits.budget(f"campaign:{CAMPAIGN}", TRACK).window_end
    assert len(h.writes()) == 2
    assert waiting.status == "retrying"
    assert refill is not None
    assert refill <= waiting.next_attempt_at <= refill + timedelta(seconds=1)
    assert waiting.error is not None and waiting.error["type"] == "HourlyBudgetExhausted"
    [(_, shown)] = [(b, ops) for b, ops in h.recorder.progress_calls if b.id == "2002:3"]
    assert shown[0].next_attempt_at == waiting.next_attempt_at
    assert h.recorder.finals_for(3) == []
    # Still stored after the stop: it runs when the budget refills, also after a restart.
    assert h.op(3).status == "retrying"


def many_shops(fake: FakeMarket, count: int, orders: int) -> dict[int, str]:
    shops = {41_000_000 + i: f"ACMA:key-{i}-0000000000000000:zz" for i in range(count)}
    for i, (campaign_id, api_key) in enumerate(shops.items()):
        fake.add_campaign(campaign_id, api_key, business_id=800 + i)
        for order_id in range(1, orders + 1):
            fake.add_order(campaign_id, order_id)
    return shops


async def test_200_operations_across_10_campaigns_within_the_parallel_limit() -> None:
    with FakeMarket(parallel_limit=4, latency=0.02) as fake:
        shops = many_shops(fake, 10, 20)
        async with harness(fake, shops, parallel_limit=4, progress_after=30) as h:
            message_id = 0
            for order_id in range(1, 21):
                for campaign_id in shops:
                    message_id += 1
                    await h.track(message_id, order_id, campaign_id=campaign_id)
            await until(lambda: len(h.recorder.finals) == 200, timeout=15)
            counts = statuses(h.db)
    assert counts == {"done": 200}
    assert fake.parallel_rejections == 0
    assert set(fake.max_in_flight) == set(shops)
    assert all(fake.max_in_flight[c] <= 4 for c in shops), fake.max_in_flight
    assert [w.status for w in fake.requests_for(TRACK)] == [200] * 200


async def test_a_busy_shop_does_not_hold_up_another() -> None:
    with FakeMarket(parallel_limit=4, latency=0.02) as fake:
        shops = many_shops(fake, 2, 300)
        busy, quiet = shops
        async with harness(fake, shops, progress_after=30) as h:
            for order_id in range(1, 301):
                await h.track(order_id, order_id, campaign_id=busy)
            for order_id in range(1, 6):
                await h.track(1000 + order_id, order_id, campaign_id=quiet)
            await until(lambda: len(h.recorder.finals) == 305, timeout=15)
    order = [event.split(":")[-1] for event in h.recorder.events if event.startswith("final:")]
    quiet_positions = [order.index(str(1000 + i)) for i in range(1, 6)]
    # Five quiet commands, four at a time: they finish among the first few, not after the 300.
    assert max(quiet_positions) < 20, quiet_positions
    assert fake.parallel_rejections == 0


# --- restarts ---------------------------------------------------------------------------------


async def test_start_resumes_interrupted_and_reports_unreported(fake_market: FakeMarket) -> None:
    db = open_memory_database()
    now = datetime.now(UTC)

    def stored(message_id: int, order_id: int) -> OperationRow:
        _, ops, _ = operations.create_batch(
            db,
            NewBatch(
                chat_id=COURIER,
                message_id=message_id,
                thread_id=None,
                user_id=COURIER,
                language="en",
                command="track",
                operations=[
                    NewOperation(
                        1,
                        CAMPAIGN,
                        "track",
                        {"order_id": order_id, "track_code": "RS1", "delivery_service_id": 51},
                    )
                ],
            ),
            now=now,
            deadline_at=now + timedelta(hours=24),
        )
        return ops[0]

    # A crash left one operation running and another done but never reported.
    interrupted = stored(1, 101)
    operations.claim(db, interrupted.id, now)
    finished = stored(2, 102)
    operations.claim(db, finished.id, now)
    operations.mark_done(db, finished.id, now)
    async with harness(fake_market, db=db) as h:
        resumed = await h.finished(1)
        await h.finished(2)
        await asyncio.sleep(0.1)
    assert resumed.status == "done" and resumed.attempts == 2
    assert len(h.recorder.finals) == 2
    assert [w.order_id for w in h.writes()] == [101]  # the finished one is not sent again
    # The interrupted one may have reached Market: its order was checked before the resend.
    assert [r.operation for r in fake_market.records] == ["getBusinessOrders", TRACK]
    assert operations.finished_unreported(db) == []
    assert operations.open_operations(db) == []


async def test_stop_keeps_what_was_not_sent_and_the_next_start_sends_it(
    fake_market: FakeMarket,
) -> None:
    db = open_memory_database()
    fake_market.fail_next(101, Fault.server_error(500))
    async with harness(fake_market, db=db, retry_base=1.0) as first:
        await first.track(1, 101)
        await until_status(first, 1, "retrying")
    assert first.recorder.finals == []
    async with harness(fake_market, db=db, retry_base=0.05) as second:
        op = await second.finished(1, timeout=3)
    assert op.status == "done"
    assert [w.status for w in second.writes()] == [500, 200]


class Unreachable(Recorder):
    """Telegram refuses the first ``refusals`` final answers."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.tries = 0

    async def final(self, batch: BatchRow, ops: list[OperationRow]) -> Delivery:
        self.tries += 1
        if self.tries <= self.refusals:
            return Delivery.RETRY  # a flood limit, a network error
        return await super().final(batch, ops)


async def test_a_final_answer_telegram_refused_is_sent_again(fake_market: FakeMarket) -> None:
    db = open_memory_database()
    keybox = KeyBox(Fernet.generate_key())
    connect(db, keybox, CAMPAIGN, API_KEY)
    reporter = Unreachable(refusals=5)
    async with MarketClient(fake_market.base_url) as client:
        worker = Worker(db, client, keybox, reporter, retry_base=0.05, report_retry=0.1)
        await worker.start()
        h = Harness(db, fake_market, client, worker, reporter)
        await h.track(1, 101)
        await h.finished(1, timeout=8)  # pauses of 0.1, 0.2, 0.4, 0.8 and 1.6 s
        await worker.stop(grace=1.0)
    assert reporter.tries == 6  # more than python-telegram-bot's three retries of a 429
    assert len(reporter.finals) == 1
    assert operations.finished_unreported(db) == []
    assert len(h.writes()) == 1  # the answer was retried, not the command


# --- through the whole bot --------------------------------------------------------------------


async def test_a_waiting_command_gets_a_note_and_then_its_result_as_a_new_message(
    bot: RunningBot,
) -> None:
    # Far enough ahead that the progress note comes first.
    until = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
    bot.market.fail_next(101, Fault.rate_limited(until=until))
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 101 RL12 51")
    progress = await bot.reply(COURIER, mark)
    assert progress.method == "sendMessage"
    assert str(progress.params["text"]).startswith("⏳")
    local = until.astimezone(bot.settings.timezone)
    assert f"retry at {local:%H:%M}" in str(progress.params["text"])
    final = await bot.final(COURIER, mark, timeout=6)
    # The result rings the phone: a new message replying to the command, not an edit.
    assert final.method == "sendMessage"
    assert str(final.params["text"]).startswith("✅")
    assert (
        final.params["reply_parameters"]["message_id"]
        == progress.params["reply_parameters"]["message_id"]
    )
    await bot.telegram.await_call(lambda c: c.method == "deleteMessage", 3, since=mark)
    note = bot.telegram.messages(COURIER)[int(progress.result["message_id"])]
    assert note.deleted
    edits = [c for c in bot.telegram.calls[mark:] if c.method == "editMessageText"]
    assert edits == []  # nothing re-edited with the same text
