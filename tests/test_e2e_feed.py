"""Orders come to the chat, end to end: the fake Market's orders → the real bot's order feed →
cards, digests and edits in the fake Telegram group (flood limits on, as on Telegram).

The bot sweeps every ``INTERVAL`` seconds here. The buttons are ``test_e2e_feed_buttons.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from telegram import Bot

from bot.config import Settings
from bot.feed import OrderChange
from bot.market.models import BusinessOrder
from handlers.cards import CardPublisher, CardsDeferred
from storage import bindings, feed, prefs, shop_settings
from storage.db import open_database
from tests.conftest import (
    API_KEY,
    CAMPAIGN,
    COURIER,
    GROUP,
    MANAGER,
    OTHER_CAMPAIGN,
    OTHER_KEY,
    OWNER,
    STRANGER,
    RunningBot,
    running_bot,
    seed_shop,
)
from tests.fakes.market import FakeAddress, FakeItem, FakeMarket
from tests.fakes.telegram import FakeTelegram, SentMessage
from tests.openapi import validate_request

INTERVAL = 1.0
FIRST_ORDER = 500_001
MOSCOW = ZoneInfo("Europe/Moscow")


@contextlib.contextmanager
def market_without_orders() -> Iterator[FakeMarket]:
    """The two shops with no orders: each test places its own."""
    market = FakeMarket(parallel_limit=4)
    market.add_campaign(CAMPAIGN, API_KEY, domain="flowers.example", business_id=700)
    market.add_campaign(OTHER_CAMPAIGN, OTHER_KEY, domain="books.example", business_id=701)
    with market:
        yield market


def with_interval(settings: Settings) -> Settings:
    return settings.model_copy(update={"order_feed_interval_seconds": INTERVAL})


def prepare(settings: Settings, *, group: int | None = GROUP, service: int | None = 51) -> None:
    """The shop with its people, bound to ``group``; cards in English; a default service."""
    seed_shop(settings, (OWNER, "owner"), (COURIER, "courier"), (MANAGER, "manager"))
    db = open_database(settings.bot_db_path)
    now = datetime.now(UTC)
    if group is not None:
        bindings.bind_chat(db, group, CAMPAIGN, OWNER, now)
    prefs.set_language(db, OWNER, "en")
    if service is not None:
        shop_settings.set_default_service(db, CAMPAIGN, service, OWNER, now)
    db.close()


@contextlib.asynccontextmanager
async def bot_with_feed(
    settings: Settings, telegram: FakeTelegram, market: FakeMarket
) -> AsyncIterator[RunningBot]:
    """The bot running on a prepared shop, after the shop's first sweep."""
    prepare(settings)
    async with running_bot(settings, telegram, market) as running:
        await swept(running)
        yield running


@pytest.fixture
def fake_market() -> Iterator[FakeMarket]:
    with market_without_orders() as market:
        yield market


@pytest.fixture
def feed_settings(settings: Settings) -> Settings:
    return with_interval(settings)


@pytest.fixture
async def feed_bot(
    feed_settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> AsyncIterator[RunningBot]:
    async with bot_with_feed(feed_settings, fake_telegram, fake_market) as running:
        yield running


# --- helpers -----------------------------------------------------------------------------------


async def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """The first truthy value of ``check()`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(0.05)


def shop_state(bot: RunningBot, campaign_id: int = CAMPAIGN) -> feed.FeedShop | None:
    db = open_database(bot.settings.bot_db_path)
    try:
        return feed.shop(db, campaign_id)
    finally:
        db.close()


async def swept(bot: RunningBot, campaign_id: int = CAMPAIGN) -> None:
    """Wait for the shop's first sweep to be saved."""

    def done() -> bool:
        state = shop_state(bot, campaign_id)
        return state is not None and state.cursor is not None

    await eventually(done, INTERVAL + 10, "the shop's first sweep")


def place(market: FakeMarket, order_id: int, **details: Any) -> None:
    """An order due today, to a Moscow address, with two items."""
    details.setdefault("delivery_date", market.today)
    details.setdefault("address", FakeAddress("Москва", "Тверская", "1"))
    details.setdefault("items", [FakeItem("Букет роз", 2, 2000.0), FakeItem("Ваза", 1, 500.0)])
    market.create_order(CAMPAIGN, order_id, **details)


def buttons(message: SentMessage) -> list[str]:
    markup = message.reply_markup or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


def cards(telegram: FakeTelegram, order_id: int, chat_id: int = GROUP) -> list[SentMessage]:
    """The bot's cards of ``order_id`` in the chat (messages titled with the order)."""
    return [
        m
        for m in telegram.messages(chat_id).values()
        if not m.deleted and m.text.split("\n", 1)[0].split(" · ")[0].endswith(f" {order_id}")
    ]


async def card(bot: RunningBot, order_id: int, timeout: float = INTERVAL + 5) -> SentMessage:
    found = await eventually(lambda: cards(bot.telegram, order_id), timeout, f"card {order_id}")
    assert len(found) == 1, found
    return found[0]


def current(telegram: FakeTelegram, message: SentMessage) -> SentMessage:
    return telegram.messages(message.chat_id)[message.message_id]


def market_bodies_valid(market: FakeMarket) -> None:
    for record in market.records:
        if record.operation != "unknown":
            validate_request(record.method, record.path, record.body)


# --- cards -------------------------------------------------------------------------------------


async def test_a_new_order_gets_its_card_within_one_interval(feed_bot: RunningBot) -> None:
    created = time.monotonic()
    place(feed_bot.market, FIRST_ORDER)
    shown = await card(feed_bot, FIRST_ORDER)
    assert time.monotonic() - created <= INTERVAL + 5
    lines = shown.text.split("\n")
    assert lines[0] == f"📦 Order {FIRST_ORDER} · to be delivered"
    day = feed_bot.market.today
    assert any(line.startswith("📅 ") and f"{day:%d.%m.%Y}" in line for line in lines)
    assert "📍 Москва, Тверская" in lines
    assert "🛒 Букет роз × 2, Ваза × 1" in lines
    assert "💰 4 500 ₽" in lines
    assert "⚠️ due today, no track code" in lines
    assert [data.split(":")[1] for data in buttons(shown)] == ["t", "s", "m", "k"]
    assert all(data.endswith(f":{CAMPAIGN}:{FIRST_ORDER}") for data in buttons(shown))
    market_bodies_valid(feed_bot.market)


async def test_an_order_that_needs_nothing_gets_no_card(feed_bot: RunningBot) -> None:
    later = feed_bot.market.today + timedelta(days=5)
    feed_bot.market.create_order(
        CAMPAIGN, FIRST_ORDER, status="DELIVERY", delivery_date=later, track_codes=[("RR1", 51)]
    )
    place(feed_bot.market, FIRST_ORDER + 1)
    await card(feed_bot, FIRST_ORDER + 1)
    assert cards(feed_bot.telegram, FIRST_ORDER) == []


async def test_a_change_in_the_cabinet_edits_the_card(feed_bot: RunningBot) -> None:
    place(feed_bot.market, FIRST_ORDER)
    shown = await card(feed_bot, FIRST_ORDER)
    feed_bot.market.change_order(CAMPAIGN, FIRST_ORDER, track=("CAB777", 51))

    def tracked() -> bool:
        return "🏷 Track: CAB777" in current(feed_bot.telegram, shown).text

    await eventually(tracked, INTERVAL + 5, "the card shows the cabinet's track code")
    assert "t" not in [d.split(":")[1] for d in buttons(current(feed_bot.telegram, shown))]
    feed_bot.market.change_order(CAMPAIGN, FIRST_ORDER, status="CANCELLED", substatus="SHOP_FAILED")

    def cancelled() -> bool:
        now = current(feed_bot.telegram, shown)
        return now.text.startswith(f"❌ Order {FIRST_ORDER}") and not buttons(now)

    await eventually(cancelled, INTERVAL + 5, "the card shows the cancellation, no buttons")
    assert len(cards(feed_bot.telegram, FIRST_ORDER)) == 1


async def test_thirty_new_orders_make_one_digest(feed_bot: RunningBot) -> None:
    ids = [FIRST_ORDER + n for n in range(30)]
    for order_id in ids:
        place(feed_bot.market, order_id)
    mark = feed_bot.mark()

    def digest() -> list[SentMessage]:
        return [m for m in feed_bot.telegram.messages(GROUP).values() if "New orders: 30" in m.text]

    found = await eventually(digest, INTERVAL + 5, "one digest")
    await asyncio.sleep(2 * INTERVAL)
    sent = [c for c in feed_bot.telegram.calls[mark:] if c.method == "sendMessage" and c.ok]
    assert len(sent) == 1 and len(found) == 1
    assert all(cards(feed_bot.telegram, i) == [] for i in ids)
    listed = found[0]
    assert listed.text.count("\n• ") == 8 and "Page 1 of 4" in listed.text
    opens = [d for d in buttons(listed) if d.startswith("o:c:")]
    pages = [d for d in buttons(listed) if d.startswith("o:p:")]
    assert len(opens) == 8 and len(pages) == 1
    # A stranger's press changes nothing; another page edits the digest; an order's button
    # posts its card, once.
    feed_bot.telegram.press_button(STRANGER, GROUP, listed.message_id, pages[0])
    await asyncio.sleep(1)
    assert "Page 1 of 4" in current(feed_bot.telegram, listed).text
    feed_bot.telegram.press_button(COURIER, GROUP, listed.message_id, pages[0])
    await eventually(lambda: "Page 2 of 4" in current(feed_bot.telegram, listed).text, 5, "page 2")
    first = current(feed_bot.telegram, listed)
    order_id = int(next(d for d in buttons(first) if d.startswith("o:c:")).split(":")[3])
    assert order_id in ids[8:16]
    feed_bot.telegram.press_button(
        COURIER, GROUP, listed.message_id, f"o:c:{opens[0].split(':')[2]}:{order_id}"
    )
    shown = await card(feed_bot, order_id, timeout=5)
    assert buttons(shown)
    feed_bot.telegram.press_button(
        COURIER, GROUP, listed.message_id, f"o:c:{opens[0].split(':')[2]}:{order_id}"
    )
    await asyncio.sleep(1)
    assert len(cards(feed_bot.telegram, order_id)) == 1


async def test_a_restart_posts_no_second_card(
    feed_settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    prepare(feed_settings)
    async with running_bot(feed_settings, fake_telegram, fake_market) as first:
        await swept(first)
        place(fake_market, FIRST_ORDER)
        shown = await card(first, FIRST_ORDER)
    # Changed while the bot is down: the card is edited after the restart, never posted again.
    fake_market.change_order(CAMPAIGN, FIRST_ORDER, track=("LATE1", 51))
    async with running_bot(feed_settings, fake_telegram, fake_market) as second:
        await eventually(
            lambda: "LATE1" in current(fake_telegram, shown).text, INTERVAL + 10, "the edit"
        )
        await asyncio.sleep(2 * INTERVAL)
        assert len(cards(second.telegram, FIRST_ORDER)) == 1


async def test_a_connected_shop_shows_its_open_orders_once_as_a_digest(
    feed_settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    for n in range(3):
        place(fake_market, FIRST_ORDER + n)
    later = fake_market.today + timedelta(days=4)
    # Open but needing nothing now: listed nowhere, and no card either (it is not new).
    fake_market.create_order(
        CAMPAIGN, FIRST_ORDER + 9, delivery_date=later, track_codes=[("A", 51)]
    )
    prepare(feed_settings)
    async with running_bot(feed_settings, fake_telegram, fake_market) as bot:
        await swept(bot)
        listed = await eventually(
            lambda: [
                m for m in fake_telegram.messages(GROUP).values() if "need action: 3" in m.text
            ],
            INTERVAL + 5,
            "the first digest",
        )
        assert str(FIRST_ORDER + 9) not in listed[0].text
        await asyncio.sleep(2 * INTERVAL)
        assert len(fake_telegram.messages(GROUP)) == 1  # no cards besides
        # An order of those needing more than when it was listed gets its card: late now.
        fake_market.change_order(
            CAMPAIGN, FIRST_ORDER, delivery_date=fake_market.today - timedelta(days=1)
        )
        assert "late" in (await card(bot, FIRST_ORDER)).text


async def test_without_a_group_the_owners_get_the_cards_in_private(
    feed_settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    prepare(feed_settings, group=None)
    async with running_bot(feed_settings, fake_telegram, fake_market) as bot:
        await swept(bot)
        place(fake_market, FIRST_ORDER)
        await eventually(
            lambda: cards(fake_telegram, FIRST_ORDER, OWNER), INTERVAL + 5, "the owner's card"
        )
        shown = cards(fake_telegram, FIRST_ORDER, OWNER)[0]
        assert "flowers.example" in shown.text.split("\n")[0]
        assert cards(fake_telegram, FIRST_ORDER, COURIER) == []
        assert cards(fake_telegram, FIRST_ORDER, MANAGER) == []


async def test_feed_off_stops_the_cards_of_that_chat(feed_bot: RunningBot) -> None:
    mark = feed_bot.mark()
    feed_bot.telegram.send_group(GROUP, COURIER, "/feed off")
    assert "does not allow /feed" in str((await feed_bot.reply(GROUP, mark)).params["text"])
    mark = feed_bot.mark()
    feed_bot.telegram.send_group(GROUP, OWNER, "/feed off")
    assert "do not come" in str((await feed_bot.reply(GROUP, mark)).params["text"])
    place(feed_bot.market, FIRST_ORDER)
    await asyncio.sleep(3 * INTERVAL)
    assert cards(feed_bot.telegram, FIRST_ORDER) == []
    feed_bot.telegram.send_group(GROUP, OWNER, "/feed on")
    place(feed_bot.market, FIRST_ORDER + 1)
    await card(feed_bot, FIRST_ORDER + 1)


async def test_binding_a_group_shows_the_open_orders_once(feed_bot: RunningBot) -> None:
    place(feed_bot.market, FIRST_ORDER)
    await card(feed_bot, FIRST_ORDER)
    await asyncio.sleep(INTERVAL * 1.5)  # saved by the sweep
    other = GROUP - 7
    mark = feed_bot.mark()
    feed_bot.telegram.send_group(other, OWNER, f"/bind {CAMPAIGN}")
    digest = await feed_bot.telegram.await_call(
        lambda c: (
            c.method == "sendMessage" and c.chat_id == other and "need action: 1" in (c.text or "")
        ),
        5,
        since=mark,
    )
    assert str(FIRST_ORDER) in (digest.text or "")
    await asyncio.sleep(2 * INTERVAL)
    assert cards(feed_bot.telegram, FIRST_ORDER, other) == []


# --- no flood: the budget of one chat ----------------------------------------------------------


class Seconds:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _order(market: FakeMarket, order_id: int, **changes: Any) -> BusinessOrder:
    wire = {
        "orderId": order_id,
        "campaignId": CAMPAIGN,
        "status": "PROCESSING",
        "delivery": {"dates": {"toDate": market.today.isoformat()}},
        **changes,
    }
    return BusinessOrder.model_validate(wire)


async def test_edits_beyond_a_chats_budget_wait_for_the_next_sweep(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    prepare(settings)
    db = open_database(settings.bot_db_path)
    feed.save_sweep(db, CAMPAIGN, [], cursor=datetime.now(UTC), now=datetime.now(UTC))
    feed.mark_introduced(db, GROUP)
    async with Bot(fake_telegram.token, base_url=fake_telegram.base_url) as bot:
        clock = Seconds()
        publisher = CardPublisher(bot, db, MOSCOW, group_budget=4, monotonic=clock)
        ids = range(FIRST_ORDER, FIRST_ORDER + 4)
        new = [OrderChange(_order(fake_market, i), None) for i in ids]
        await publisher.orders_changed(CAMPAIGN, new)
        assert all(len(cards(fake_telegram, i)) == 1 for i in ids)
        # All four change at once: none fits this minute's budget, so all wait, then go.
        tracked = [
            OrderChange(
                _order(
                    fake_market,
                    i,
                    delivery={
                        "tracks": [{"trackCode": f"T{i}", "deliveryServiceId": 51}],
                        "dates": {"toDate": fake_market.today.isoformat()},
                    },
                ),
                c.order,
            )
            for i, c in zip(ids, new, strict=True)
        ]
        mark = len(fake_telegram.calls)
        with pytest.raises(CardsDeferred):
            await publisher.orders_changed(CAMPAIGN, tracked)
        assert fake_telegram.calls[mark:] == []
        clock.now += 61  # a minute later
        await publisher.orders_changed(CAMPAIGN, tracked)
        assert all(f"T{i}" in cards(fake_telegram, i)[0].text for i in ids)
        assert fake_telegram.flood_rejections == 0
    db.close()


async def test_telegrams_flood_limit_defers_instead_of_failing(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    prepare(settings)
    db = open_database(settings.bot_db_path)
    feed.save_sweep(db, CAMPAIGN, [], cursor=datetime.now(UTC), now=datetime.now(UTC))
    feed.mark_introduced(db, GROUP)
    fake_telegram.flood_limit(GROUP, 2)
    async with Bot(fake_telegram.token, base_url=fake_telegram.base_url) as bot:
        publisher = CardPublisher(bot, db, MOSCOW)
        new = [OrderChange(_order(fake_market, FIRST_ORDER + n), None) for n in range(4)]
        with pytest.raises(CardsDeferred):
            await publisher.orders_changed(CAMPAIGN, new)
        posted = [i for i in range(FIRST_ORDER, FIRST_ORDER + 4) if cards(fake_telegram, i)]
        assert len(posted) == 2
        fake_telegram.flood_limit(GROUP, 20)
        await publisher.orders_changed(CAMPAIGN, new)  # the same changes, handed again
        assert all(len(cards(fake_telegram, FIRST_ORDER + n)) == 1 for n in range(4))
    db.close()
