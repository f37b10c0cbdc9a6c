"""Never lose a command: retries, limits, restarts (the worker through the real bot)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet

from bot.market.client import MarketClient
from bot.worker import Worker
from handlers.context import BatchRequest
from storage import campaigns
from storage.db import open_database
from storage.operations import BatchRow, NewOperation, OperationRow
from storage.secrets import KeyBox
from tests.conftest import API_KEY, CAMPAIGN, COURIER, OWNER, RunningBot, seed_shop
from tests.fakes.market import FakeMarket, Fault
from tests.fakes.telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent


def text_of(call: object) -> str:
    return str(call.params.get("text", ""))  # type: ignore[attr-defined]


async def test_420_is_retried_after_its_until_and_not_before(bot: RunningBot) -> None:
    now = datetime.now(UTC)
    mono_now = time.monotonic()
    until = (now + timedelta(seconds=2)).replace(microsecond=0)
    mono_until = mono_now + (until - now).total_seconds()
    bot.market.fail_next(101, Fault.rate_limited(until=until))
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 101 RL1 51")
    progress = text_of(await bot.reply(COURIER, mark))
    assert progress.startswith("⏳")
    final = text_of(await bot.final(COURIER, mark, timeout=10))
    assert final.startswith("✅")
    writes = bot.market.requests_for("setOrderDeliveryTrackCode")
    assert [w.status for w in writes] == [420, 200]
    assert writes[1].started >= mono_until - 0.01


async def test_500_three_times_then_success(bot: RunningBot) -> None:
    bot.market.fail_next(102, *(Fault.server_error(500) for _ in range(3)))
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 102 FX1 51")
    assert text_of(await bot.final(COURIER, mark, timeout=10)).startswith("✅")
    statuses = [w.status for w in bot.market.requests_for("setOrderDeliveryTrackCode")]
    assert statuses == [500, 500, 500, 200]
    finals = [
        c
        for c in bot.telegram.calls[mark:]
        if c.chat_id == COURIER and c.ok and text_of(c).startswith(("✅", "❌"))
    ]
    assert len(finals) == 1


async def test_permanent_400_fails_once_without_retry(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 110 PM1 51")
    assert text_of(await bot.final(COURIER, mark)).startswith("❌")
    await asyncio.sleep(0.5)
    assert len(bot.market.requests_for("setOrderDeliveryTrackCode")) == 1
    finals = [c for c in bot.telegram.calls[mark:] if c.chat_id == COURIER and c.ok]
    assert len(finals) == 1


@dataclass
class Recorder:
    finals: list[str] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0

    async def progress(self, batch: BatchRow, ops: list[OperationRow]) -> None:
        return None

    async def final(self, batch: BatchRow, ops: list[OperationRow]) -> None:
        self.finals.append(batch.id)
        if len(self.finals) >= self.expected:
            self.done.set()


async def test_200_commands_across_10_campaigns_stay_within_4_in_flight(tmp_path: Path) -> None:
    fake = FakeMarket(parallel_limit=4, latency=0.02)
    ids = [41000000 + i for i in range(10)]
    for i, cid in enumerate(ids):
        fake.add_campaign(cid, f"ACMA:key-{i}-000000000000:zz", business_id=800 + i)
        for order in range(20):
            fake.add_order(cid, order + 1)
    db = open_database(tmp_path / "w.sqlite3")
    keybox = KeyBox(Fernet.generate_key())
    now = datetime.now(UTC)
    for i, cid in enumerate(ids):
        campaigns.save_campaign(
            db,
            campaign_id=cid,
            domain=f"s{i}.example",
            business_id=800 + i,
            business_name="",
            placement_type="DBS",
            api_key_cipher=keybox.encrypt(f"ACMA:key-{i}-000000000000:zz"),
            connected_by=OWNER,
            now=now,
        )
    recorder = Recorder(expected=200)
    with fake:
        async with MarketClient(fake.base_url) as market:
            worker = Worker(db, market, keybox, recorder, retry_base=0.05, quick_answer=30)
            await worker.start()
            message = 0
            for order in range(20):
                for cid in ids:
                    message += 1
                    await worker.submit(
                        BatchRequest(
                            chat_id=COURIER,
                            message_id=message,
                            thread_id=None,
                            user_id=COURIER,
                            language="en",
                            command="track",
                            operations=[
                                NewOperation(
                                    line_no=1,
                                    campaign_id=cid,
                                    kind="track",
                                    payload={
                                        "order_id": order + 1,
                                        "track_code": f"T{order}",
                                        "delivery_service_id": 51,
                                    },
                                )
                            ],
                        )
                    )
            # A redelivered message is not a second operation.
            duplicate = await worker.submit(
                BatchRequest(
                    COURIER,
                    1,
                    None,
                    COURIER,
                    "en",
                    "track",
                    [NewOperation(1, ids[0], "track", {"order_id": 1, "track_code": "X"})],
                )
            )
            await asyncio.wait_for(recorder.done.wait(), 30)
            await worker.stop()
    db.close()
    assert duplicate is False
    assert len(recorder.finals) == 200
    assert fake.parallel_rejections == 0
    assert all(fake.max_in_flight[cid] <= 4 for cid in ids)
    assert max(fake.max_in_flight.values()) == 4
    assert len(fake.requests_for("setOrderDeliveryTrackCode")) == 200


def test_kill_9_while_retrying_then_restart_completes(tmp_path: Path) -> None:
    secret = Fernet.generate_key().decode()
    with FakeTelegram() as telegram, FakeMarket() as market:
        market.add_campaign(CAMPAIGN, API_KEY, domain="flowers.example", business_id=700)
        market.add_order(CAMPAIGN, 101)
        market.fail_next(101, *(Fault.server_error(503) for _ in range(6)))
        from bot.config import Settings

        settings = Settings(
            telegram_bot_token=telegram.token,
            bot_db_path=tmp_path / "bot.sqlite3",
            bot_secret_key=secret,
            _env_file=None,  # type: ignore[call-arg]
        )
        seed_shop(settings, (OWNER, "owner"), (COURIER, "courier"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "BOT_"))}
        env.update(
            PYTHONPATH=str(ROOT),
            TELEGRAM_BOT_TOKEN=telegram.token,
            TELEGRAM_API_BASE_URL=telegram.base_url,
            MARKET_API_BASE_URL=market.base_url,
            BOT_DB_PATH=str(tmp_path / "bot.sqlite3"),
            BOT_SECRET_KEY=secret,
            TELEGRAM_POLL_TIMEOUT="1",
            RETRY_BASE_SECONDS="0.4",
        )

        def spawn() -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )

        first = spawn()
        try:
            telegram.wait_for(lambda c: c.method == "getUpdates", 20)
            telegram.send_private(COURIER, "/track 101 KL9 51")
            # Wait until Market has refused twice: the operation is now retrying.
            deadline = time.monotonic() + 15
            while len(market.requests_for("setOrderDeliveryTrackCode")) < 2:
                assert time.monotonic() < deadline, "the bot never called Market"
                time.sleep(0.05)
        finally:
            first.kill()
            first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        assert market.order(CAMPAIGN, 101).track_codes == []
        mark = len(telegram.calls)
        second = spawn()
        try:
            final = telegram.wait_for(
                lambda c: c.chat_id == COURIER and c.ok and text_of(c).startswith(("✅", "❌")),
                30,
                since=mark,
            )
        finally:
            second.send_signal(signal.SIGTERM)
            _, stderr = second.communicate(timeout=20)
        assert text_of(final).startswith("✅"), text_of(final)
        assert market.order(CAMPAIGN, 101).track_codes == [("KL9", 51)]
        assert second.returncode == 0, stderr
        finals = [
            c
            for c in telegram.calls
            if c.chat_id == COURIER and c.ok and text_of(c).startswith(("✅", "❌"))
        ]
        assert len(finals) == 1
