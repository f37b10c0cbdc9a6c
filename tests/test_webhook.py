"""Webhook mode end to end: Telegram's updates and Market's pushes on one port, health and
metrics, the secret token, Market's networks, and going back to polling."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot.config import Settings
from tests.conftest import CAMPAIGN, COURIER, OWNER, RunningBot, running_bot, seed_shop
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import FakeTelegram, command_entities

SECRET = "s3cret-token-of-the-webhook_0123456789"
READ = "getBusinessOrders"


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "User"},
            "from": {"id": user_id, "is_bot": False, "first_name": "User", "language_code": "en"},
            "text": text,
            "entities": command_entities(text),
        },
    }


@contextlib.asynccontextmanager
async def webhook_bot(
    settings: Settings, telegram: FakeTelegram, market: FakeMarket, **changes: Any
) -> AsyncIterator[tuple[RunningBot, httpx.AsyncClient]]:
    port = free_port()
    settings = settings.model_copy(
        update={
            "telegram_webhook_url": "https://bot.example/telegram",
            "telegram_webhook_secret": SecretStr(SECRET),
            "host": "127.0.0.1",
            "port": port,
            "order_feed_interval_seconds": 3600.0,
            **changes,
        }
    )
    seed_shop(settings, (OWNER, "owner"), (COURIER, "courier"))
    stop = asyncio.Event()
    from bot.app import run

    task = asyncio.create_task(run(settings, stop))
    await telegram.await_call(lambda c: c.method == "setWebhook", 10)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                await client.get("/healthz")
                break
            await asyncio.sleep(0.05)
        try:
            yield RunningBot(telegram, market, settings), client
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)


async def test_updates_come_by_webhook_with_the_secret_only(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    async with webhook_bot(settings, fake_telegram, fake_market) as (bot, client):
        [hook] = fake_telegram.calls_of("setWebhook")
        assert hook.params["url"] == "https://bot.example/telegram"
        assert hook.params["secret_token"] == SECRET
        assert fake_telegram.calls_of("getUpdates") == []
        refused = await client.post(
            "/telegram",
            json=update(1, COURIER, "/track 101 RR101 51"),
            headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        )
        missing = await client.post("/telegram", json=update(2, COURIER, "/track 102 RR102 51"))
        assert (refused.status_code, missing.status_code) == (403, 403)
        mark = bot.mark()
        taken = await client.post(
            "/telegram",
            json=update(3, COURIER, "/track 103 RR103 51"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert taken.status_code == 200
        answer = await bot.final(COURIER, mark)
        assert str(answer.params["text"]).startswith("✅")
    assert [r.order_id for r in fake_market.requests_for("setOrderDeliveryTrackCode")] == [103]


async def test_market_pushes_ping_order_events_and_networks(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    local = {"market_notify_allowed_networks": "127.0.0.0/8"}
    async with webhook_bot(settings, fake_telegram, fake_market, **local) as (_, client):
        started = time.monotonic()
        ping = await client.post(
            "/market/notification",
            json={"notificationType": "PING", "time": "2026-01-01T00:00:00Z"},
        )
        assert time.monotonic() - started < 1.0
        assert ping.status_code == 200 and ping.headers["content-type"] == "application/json"
        assert {"version", "name", "time"} <= set(ping.json())
        fake_market.reset_records()
        event = {
            "notificationType": "ORDER_CREATED",
            "campaignId": CAMPAIGN,
            "orderId": 101,
            "createdAt": "2026-11-23T10:00:00+03:00",
        }
        assert (await client.post("/market/notification", json=event)).status_code == 200
        for _ in range(60):
            if fake_market.requests_for(READ):
                break
            await asyncio.sleep(0.05)
        assert len(fake_market.requests_for(READ)) == 1  # swept now, not in an hour
        # The same event again, or an older one, changes nothing.
        assert (await client.post("/market/notification", json=event)).status_code == 200
        older = {**event, "createdAt": "2026-11-23T09:00:00+03:00"}
        assert (await client.post("/market/notification", json=older)).status_code == 200
        new_type = {"notificationType": "CHAT_CREATED", "chatId": 5}
        assert (await client.post("/market/notification", json=new_type)).status_code == 200
        bad = await client.post("/market/notification", content=b"not json")
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "WRONG_EVENT_FORMAT"
        await asyncio.sleep(0.5)
        assert len(fake_market.requests_for(READ)) == 1


async def test_an_order_created_push_brings_its_card_without_waiting_for_the_sweep(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    local = {"market_notify_allowed_networks": "127.0.0.0/8"}
    async with webhook_bot(settings, fake_telegram, fake_market, **local) as (bot, client):
        # The shop's first sweep (at start) is done; the next regular one is an hour away.
        for _ in range(200):
            if fake_market.requests_for(READ):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        order = fake_market.create_order(CAMPAIGN, 600_001, delivery_date=fake_market.today)
        mark = bot.mark()
        event = {
            "notificationType": "ORDER_CREATED",
            "campaignId": CAMPAIGN,
            "orderId": 600_001,
            "createdAt": order.created_at.isoformat(),
        }
        started = time.monotonic()
        assert (await client.post("/market/notification", json=event)).status_code == 200
        card = await fake_telegram.await_call(
            lambda c: (
                c.method == "sendMessage"
                and c.chat_id == OWNER
                and "600001" in str(c.params.get("text", ""))
            ),
            10,
            since=mark,
        )
        assert time.monotonic() - started < 10  # not the hour of the regular sweep
        assert card.params.get("reply_markup"), "a card comes with its buttons"


@pytest.mark.parametrize(
    ("networks", "proxies", "forwarded", "status"),
    [
        ("5.45.207.0/25,141.8.142.0/25,5.255.253.0/25", "", None, 403),
        ("5.45.207.0/25", "", "5.45.207.10", 403),  # no trusted proxy: the header is ignored
        ("5.45.207.0/25", "127.0.0.1", "5.45.207.10", 200),
        ("5.45.207.0/25", "127.0.0.1", "5.45.207.10, 10.0.0.1", 403),
    ],
)
async def test_pushes_only_from_markets_networks(
    settings: Settings,
    fake_telegram: FakeTelegram,
    fake_market: FakeMarket,
    networks: str,
    proxies: str,
    forwarded: str | None,
    status: int,
) -> None:
    changes = {"market_notify_allowed_networks": networks, "trusted_proxies": proxies}
    async with webhook_bot(settings, fake_telegram, fake_market, **changes) as (_, client):
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        answer = await client.post(
            "/market/notification", json={"notificationType": "PING"}, headers=headers
        )
    assert answer.status_code == status


async def test_health_and_metrics(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    async with webhook_bot(settings, fake_telegram, fake_market) as (bot, client):
        healthy = await client.get("/healthz")
        assert healthy.status_code == 200
        assert healthy.json()["storage"] == "ok" and "due" in healthy.json()
        await client.post(
            "/telegram",
            json=update(1, COURIER, "/track 101 RR101 51"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        await bot.final(COURIER, 0)
        text = (await client.get("/metrics")).text
        assert 'bot_commands_total{command="track",outcome="accepted"} 1.0' in text
        assert 'market_responses_total{method="setOrderDeliveryTrackCode",status="200"}' in text
        assert "bot_queue_operations" in text
        assert SECRET not in text and "ACMA" not in text
        # Another process holds the database's write lock: storage is not available.
        other = sqlite3.connect(settings.bot_db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            locked = await client.get("/healthz")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert locked.status_code == 503 and locked.json()["storage"] == "unavailable"


async def test_polling_again_deletes_the_webhook(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    async with webhook_bot(settings, fake_telegram, fake_market):
        pass
    assert fake_telegram.webhook is not None
    async with running_bot(settings, fake_telegram, fake_market) as bot:
        assert fake_telegram.webhook is None
        mark = bot.mark()
        fake_telegram.send_private(COURIER, "/start")
        assert "Hi!" in str((await bot.reply(COURIER, mark)).params["text"])
