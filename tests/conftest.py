"""Shared fixtures: the fakes (real local HTTP servers) and a bot running against them."""

from __future__ import annotations

import os

# python-telegram-bot 22 warns when RetryAfter.retry_after is read as seconds; opt in to the
# timedelta behaviour so the rate limiter's 429 handling does not trip warnings-as-errors.
os.environ.setdefault("PTB_TIMEDELTA", "true")

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from bot.app import run
from bot.config import Settings
from storage import campaigns, members
from storage.db import open_database
from storage.secrets import KeyBox
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import Call, FakeTelegram

API_KEY = "ACMA:test-key-0000000000000000:aaaaaaaa"
OTHER_KEY = "ACMA:other-key-111111111111111:bbbbbbbb"
CAMPAIGN = 21000001
OTHER_CAMPAIGN = 21000002
OWNER = 1001
COURIER = 2002
MANAGER = 3003
STRANGER = 4004
GROUP = -100500


@pytest.fixture
def fake_market() -> Iterator[FakeMarket]:
    market = FakeMarket(parallel_limit=4)
    market.add_campaign(CAMPAIGN, API_KEY, domain="flowers.example", business_id=700)
    market.add_campaign(OTHER_CAMPAIGN, OTHER_KEY, domain="books.example", business_id=701)
    for order in (101, 102, 103, 104, 105):
        market.add_order(CAMPAIGN, order)
    market.add_order(CAMPAIGN, 110, status="CANCELLED", substatus="USER_CHANGED_MIND")
    market.add_order(OTHER_CAMPAIGN, 201)
    with market:
        yield market


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as telegram:
        yield telegram


@pytest.fixture
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def settings(
    tmp_path: Path, fake_market: FakeMarket, fake_telegram: FakeTelegram, secret_key: str
) -> Settings:
    return Settings(
        telegram_bot_token=fake_telegram.token,
        telegram_api_base_url=fake_telegram.base_url,
        telegram_file_base_url=fake_telegram.file_base_url,
        market_api_base_url=fake_market.base_url,
        bot_db_path=tmp_path / "bot.sqlite3",
        bot_secret_key=secret_key,
        telegram_poll_timeout=1,
        retry_base_seconds=0.05,
        # The order feed is off unless a test turns it on (its digests would interleave).
        order_feed_interval_seconds=0,
        market_timeout_seconds=2.0,
        _env_file=None,  # type: ignore[call-arg]
    )


def seed_shop(settings: Settings, *people: tuple[int, str], campaign_id: int = CAMPAIGN) -> None:
    """Connect a shop and give roles directly in storage (the UI path is tested on its own)."""
    db = open_database(settings.bot_db_path)
    secret = settings.bot_secret_key.get_secret_value() if settings.bot_secret_key else None
    keybox = KeyBox.load(secret, settings.bot_db_path)
    keybox.verify(db)
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    key = API_KEY if campaign_id == CAMPAIGN else OTHER_KEY
    domain = "flowers.example" if campaign_id == CAMPAIGN else "books.example"
    campaigns.save_campaign(
        db,
        campaign_id=campaign_id,
        domain=domain,
        business_id=700 if campaign_id == CAMPAIGN else 701,
        business_name="Shop",
        placement_type="DBS",
        api_key_cipher=keybox.encrypt(key),
        connected_by=OWNER,
        now=now,
    )
    for user_id, role in people:
        members.set_member(db, campaign_id, user_id, role, OWNER, now)  # type: ignore[arg-type]
    db.close()


@dataclass
class RunningBot:
    telegram: FakeTelegram
    market: FakeMarket
    settings: Settings

    async def reply(self, chat_id: int, since: int, timeout: float = 5.0) -> Call:
        """The next sendMessage/editMessageText to ``chat_id`` after call index ``since``."""
        return await self.telegram.await_call(
            lambda c: c.method in ("sendMessage", "editMessageText") and c.chat_id == chat_id,
            timeout,
            since=since,
        )

    async def final(self, chat_id: int, since: int, timeout: float = 8.0) -> Call:
        """The next answer to ``chat_id`` that is a result, not a progress note."""
        return await self.telegram.await_call(
            lambda c: (
                c.method in ("sendMessage", "editMessageText")
                and c.chat_id == chat_id
                and not str(c.params.get("text", "")).startswith("⏳")
            ),
            timeout,
            since=since,
        )

    def mark(self) -> int:
        return len(self.telegram.calls)

    async def question_stored(self, chat_id: int, message_id: int, timeout: float = 5.0) -> None:
        """Wait until the bot has stored its question (a reply prompt, buttons) of the message
        ``message_id``: it can only do so once Telegram has answered the send, and a reply
        sent in between is faster than any person."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            with contextlib.closing(sqlite3.connect(self.settings.bot_db_path)) as db:
                found = db.execute(
                    "SELECT 1 FROM pending WHERE chat_id = ? AND message_id = ?",
                    (chat_id, message_id),
                ).fetchone()
            if found:
                return
            assert asyncio.get_running_loop().time() < deadline, "the question was not stored"
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, telegram: FakeTelegram, market: FakeMarket, **kwargs: Any
) -> AsyncIterator[RunningBot]:
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop, **kwargs))
    await telegram.await_call(lambda c: c.method == "getUpdates", 10)
    try:
        yield RunningBot(telegram, market, settings)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


@pytest.fixture
async def bot(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> AsyncIterator[RunningBot]:
    seed_shop(settings, (OWNER, "owner"), (COURIER, "courier"), (MANAGER, "manager"))
    async with running_bot(settings, fake_telegram, fake_market) as running:
        yield running
