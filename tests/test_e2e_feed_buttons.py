"""The buttons of order cards end to end, /orders, /plan and the morning plan.

A press goes from the fake Telegram through the real bot (access at press time) to the fake
Market; every body the bot sends is checked against Market's spec. The feed itself is
``test_e2e_feed.py``, whose fixtures these tests share.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, time, timedelta

import pytest
from telegram import Bot

from bot.config import Settings
from bot.plan import MorningPlan
from handlers.feed_commands import PlanPoster
from storage import bindings, feed
from storage.db import open_database
from storage.feed import SweptOrder
from tests.conftest import (
    CAMPAIGN,
    COURIER,
    GROUP,
    MANAGER,
    OTHER_CAMPAIGN,
    OWNER,
    STRANGER,
    RunningBot,
    running_bot,
    seed_shop,
)
from tests.fakes.market import FakeMarket, ManualClock
from tests.fakes.telegram import FakeTelegram, SentMessage
from tests.test_e2e_feed import (
    FIRST_ORDER,
    INTERVAL,
    MOSCOW,
    bot_with_feed,
    buttons,
    card,
    current,
    eventually,
    market_bodies_valid,
    market_without_orders,
    place,
    prepare,
    swept,
    with_interval,
)

WAIT = INTERVAL + 5


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


def data_of(message: SentMessage, action: str) -> str:
    found = [d for d in buttons(message) if d.startswith(f"o:{action}:")]
    assert found, (action, buttons(message))
    return found[0]


def bot_messages(bot: RunningBot, since: int, chat_id: int = GROUP) -> list[SentMessage]:
    ids = {
        c.result["message_id"]
        for c in bot.telegram.calls[since:]
        if c.method == "sendMessage" and c.chat_id == chat_id and c.ok
    }
    return [m for i, m in bot.telegram.messages(chat_id).items() if i in ids]


async def new_message(bot: RunningBot, since: int, text: str) -> SentMessage:
    def found() -> list[SentMessage]:
        return [m for m in bot_messages(bot, since) if text in m.text]

    return (await eventually(found, 8, f"a message with {text!r}"))[0]


async def test_track_reply_sends_the_code_and_the_card_shows_it(feed_bot: RunningBot) -> None:
    place(feed_bot.market, FIRST_ORDER)
    shown = await card(feed_bot, FIRST_ORDER)
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, shown.message_id, data_of(shown, "t"))
    prompt = await new_message(feed_bot, mark, f"track code of order {FIRST_ORDER}")
    assert prompt.reply_markup == {
        "force_reply": True,
        "selective": True,
        "input_field_placeholder": "RR123456789RU",
    }
    assert prompt.reply_to_message_id == shown.message_id
    asked = next(c for c in feed_bot.telegram.calls[mark:] if c.method == "sendMessage")
    assert asked.params["entities"][0]["type"] == "text_mention"
    assert asked.params["entities"][0]["user"]["id"] == COURIER
    await feed_bot.question_stored(GROUP, prompt.message_id)
    # Someone else's reply is not the answer; the presser's is.
    feed_bot.telegram.send_group(GROUP, MANAGER, "RX000", reply_to=prompt.message_id)
    mark = feed_bot.mark()
    reply = feed_bot.telegram.send_group(GROUP, COURIER, "rr123456", reply_to=prompt.message_id)
    answer = await feed_bot.final(GROUP, mark)
    assert str(answer.params["text"]).startswith("✅"), answer.params["text"]
    assert answer.params["reply_parameters"]["message_id"] == reply
    sent = feed_bot.market.requests_for("setOrderDeliveryTrackCode")
    assert [r.body for r in sent] == [{"trackCode": "RR123456", "deliveryServiceId": 51}]
    market_bodies_valid(feed_bot.market)
    await eventually(
        lambda: "🏷 Track: RR123456" in current(feed_bot.telegram, shown).text, WAIT, "the code"
    )
    # The prompt is answered once.
    feed_bot.telegram.send_group(GROUP, COURIER, "RR999", reply_to=prompt.message_id)
    await asyncio.sleep(1)
    assert len(feed_bot.market.requests_for("setOrderDeliveryTrackCode")) == 1


async def test_delivered_on_the_day_sets_the_status(feed_bot: RunningBot) -> None:
    place(feed_bot.market, FIRST_ORDER, status="DELIVERY", track_codes=[("RR1", 51)])
    shown = await card(feed_bot, FIRST_ORDER)
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, shown.message_id, data_of(shown, "d"))
    answer = await feed_bot.final(GROUP, mark)
    assert str(answer.params["text"]).startswith("✅")
    assert answer.params["reply_parameters"]["message_id"] == shown.message_id
    [request] = feed_bot.market.requests_for("updateOrderStatus")
    assert request.body == {"order": {"status": "DELIVERED"}}
    market_bodies_valid(feed_bot.market)
    assert feed_bot.market.order(CAMPAIGN, FIRST_ORDER).status == "DELIVERED"
    await eventually(lambda: not buttons(current(feed_bot.telegram, shown)), WAIT, "no buttons")
    assert current(feed_bot.telegram, shown).text.startswith(f"✅ Order {FIRST_ORDER} · delivered")


async def test_delivered_on_another_day_asks_first(feed_bot: RunningBot) -> None:
    yesterday = feed_bot.market.today - timedelta(days=1)
    place(
        feed_bot.market,
        FIRST_ORDER,
        status="DELIVERY",
        delivery_date=yesterday,
        track_codes=[("RR1", 51)],
    )
    shown = await card(feed_bot, FIRST_ORDER)
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, shown.message_id, data_of(shown, "d"))
    today = feed_bot.market.today
    asked = await new_message(feed_bot, mark, f"Mark it delivered today, {today:%d.%m}?")
    assert feed_bot.market.requests_for("updateOrderStatus") == []
    [yes] = buttons(asked)
    assert yes == f"o:y:{CAMPAIGN}:{FIRST_ORDER}:{today:%Y%m%d}"
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(STRANGER, GROUP, asked.message_id, yes)
    assert "no access" in str((await feed_bot.reply(GROUP, mark)).params["text"])
    assert buttons(current(feed_bot.telegram, asked)) == [yes]  # still there
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, asked.message_id, yes)
    answer = await feed_bot.final(GROUP, mark)
    assert str(answer.params["text"]).startswith("✅"), answer.params["text"]
    [request] = feed_bot.market.requests_for("updateOrderStatus")
    assert request.body == {"order": {"status": "DELIVERED"}}  # today: Market takes the day
    market_bodies_valid(feed_bot.market)
    await eventually(lambda: not buttons(current(feed_bot.telegram, asked)), 5, "answered")


async def test_out_for_delivery_then_delivered_are_two_commands_of_one_card(
    feed_bot: RunningBot,
) -> None:
    place(feed_bot.market, FIRST_ORDER, track_codes=[("RR1", 51)])
    shown = await card(feed_bot, FIRST_ORDER)
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, shown.message_id, data_of(shown, "s"))
    assert str((await feed_bot.final(GROUP, mark)).params["text"]).startswith("✅")
    assert feed_bot.market.order(CAMPAIGN, FIRST_ORDER).status == "DELIVERY"
    await eventually(
        lambda: "d" in [d.split(":")[1] for d in buttons(current(feed_bot.telegram, shown))],
        WAIT,
        "the Delivered button",
    )
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(
        COURIER, GROUP, shown.message_id, data_of(current(feed_bot.telegram, shown), "d")
    )
    assert str((await feed_bot.final(GROUP, mark)).params["text"]).startswith("✅")
    bodies = [r.body for r in feed_bot.market.requests_for("updateOrderStatus")]
    assert bodies == [{"order": {"status": "DELIVERY"}}, {"order": {"status": "DELIVERED"}}]
    market_bodies_valid(feed_bot.market)


async def test_a_strangers_press_changes_nothing(feed_bot: RunningBot) -> None:
    place(feed_bot.market, FIRST_ORDER, status="DELIVERY", track_codes=[("RR1", 51)])
    shown = await card(feed_bot, FIRST_ORDER)
    mark = feed_bot.mark()
    for action in ("d", "m", "k"):
        feed_bot.telegram.press_button(STRANGER, GROUP, shown.message_id, data_of(shown, action))
    refusal = await feed_bot.reply(GROUP, mark)
    assert "no access" in str(refusal.params["text"])
    await asyncio.sleep(2 * INTERVAL)
    assert feed_bot.market.order(CAMPAIGN, FIRST_ORDER).status == "DELIVERY"
    assert [r for r in feed_bot.market.records if r.operation != "getBusinessOrders"] == []
    assert "Taken by" not in current(feed_bot.telegram, shown).text
    # Refusals in the group: once a minute per person, whatever they press.
    assert len(bot_messages(feed_bot, mark)) == 1


async def test_move_asks_the_day_then_the_reason(feed_bot: RunningBot) -> None:
    place(feed_bot.market, FIRST_ORDER)
    shown = await card(feed_bot, FIRST_ORDER)
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, shown.message_id, data_of(shown, "m"))
    days = await new_message(feed_bot, mark, str(FIRST_ORDER))
    tomorrow = feed_bot.market.today + timedelta(days=1)
    labels = [b for row in days.reply_markup["inline_keyboard"] for b in row]  # type: ignore[index]
    pick = next(b for b in labels if f"{tomorrow:%d.%m}" in b["text"])
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, days.message_id, pick["callback_data"])
    reasons = await new_message(feed_bot, mark, "Why")
    first = reasons.reply_markup["inline_keyboard"][0][0]  # type: ignore[index]
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, reasons.message_id, first["callback_data"])
    answer = await feed_bot.final(GROUP, mark)
    assert str(answer.params["text"]).startswith("✅"), answer.params["text"]
    [request] = feed_bot.market.requests_for("setOrderDeliveryDate")
    assert request.body["dates"] == {"toDate": tomorrow.isoformat()}
    market_bodies_valid(feed_bot.market)
    assert feed_bot.market.order(CAMPAIGN, FIRST_ORDER).delivery_date == tomorrow
    await eventually(
        lambda: f"{tomorrow:%d.%m.%Y}" in current(feed_bot.telegram, shown).text, WAIT, "new day"
    )


async def test_cancellation_requests_are_for_managers(feed_bot: RunningBot) -> None:
    for order_id in (FIRST_ORDER, FIRST_ORDER + 1):
        place(
            feed_bot.market,
            order_id,
            status="DELIVERY",
            track_codes=[("RR1", 51)],
            cancel_requested=True,
        )
    accept = await card(feed_bot, FIRST_ORDER)
    decline = await card(feed_bot, FIRST_ORDER + 1)
    assert [d.split(":")[1] for d in buttons(accept)] == ["a", "x"]
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, accept.message_id, data_of(accept, "a"))
    assert "does not allow" in str((await feed_bot.reply(GROUP, mark)).params["text"])
    await asyncio.sleep(1)
    assert feed_bot.market.requests_for("acceptOrderCancellation") == []
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(MANAGER, GROUP, accept.message_id, data_of(accept, "a"))
    assert str((await feed_bot.final(GROUP, mark)).params["text"]).startswith("✅")
    assert feed_bot.market.order(CAMPAIGN, FIRST_ORDER).status == "CANCELLED"
    # Declining asks why; the reason goes to Market.
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(OWNER, GROUP, decline.message_id, data_of(decline, "x"))
    why = await new_message(feed_bot, mark, "Why decline")
    assert buttons(why) == [
        f"o:r:{CAMPAIGN}:{FIRST_ORDER + 1}:d",
        f"o:r:{CAMPAIGN}:{FIRST_ORDER + 1}:c",
    ]
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(OWNER, GROUP, why.message_id, buttons(why)[1])
    assert str((await feed_bot.final(GROUP, mark)).params["text"]).startswith("✅")
    bodies = [r.body for r in feed_bot.market.requests_for("acceptOrderCancellation")]
    assert bodies == [{"accepted": True}, {"accepted": False, "reason": "ORDER_IN_DELIVERY"}]
    market_bodies_valid(feed_bot.market)
    await eventually(lambda: not buttons(current(feed_bot.telegram, accept)), WAIT, "cancelled")


async def test_take_shows_who_and_only_they_or_a_manager_release(feed_bot: RunningBot) -> None:
    seed_shop(feed_bot.settings, (COURIER + 1, "courier"))
    place(feed_bot.market, FIRST_ORDER)
    shown = await card(feed_bot, FIRST_ORDER)
    await asyncio.sleep(INTERVAL * 1.5)  # the sweep saved the order
    take = data_of(shown, "k")
    feed_bot.telegram.send_group(GROUP, COURIER, "/orders mine", first_name="Ivan")
    feed_bot.telegram.press_button(COURIER, GROUP, shown.message_id, take)
    await eventually(
        lambda: "🙋 Taken by Ivan" in current(feed_bot.telegram, shown).text, 5, "taken"
    )
    query = feed_bot.telegram.press_button(COURIER + 1, GROUP, shown.message_id, take)
    await eventually(lambda: query in feed_bot.telegram.answered_callbacks, 5, "an answer")
    assert "Ivan took this order" in feed_bot.telegram.answered_callbacks[query]["text"]
    assert "Taken by Ivan" in current(feed_bot.telegram, shown).text
    mark = feed_bot.mark()
    feed_bot.telegram.send_group(GROUP, COURIER, "/orders mine")
    mine = await feed_bot.reply(GROUP, mark)
    assert str(FIRST_ORDER) in str(mine.params["text"]) and "you took: 1" in str(
        mine.params["text"]
    )
    feed_bot.telegram.press_button(MANAGER, GROUP, shown.message_id, take)
    await eventually(lambda: "Taken by" not in current(feed_bot.telegram, shown).text, 5, "free")


async def test_a_press_in_a_group_bound_to_another_shop_since_is_expired(
    feed_bot: RunningBot,
) -> None:
    place(feed_bot.market, FIRST_ORDER)
    shown = await card(feed_bot, FIRST_ORDER)
    seed_shop(feed_bot.settings, (OWNER, "owner"), (COURIER, "courier"), campaign_id=OTHER_CAMPAIGN)
    db = open_database(feed_bot.settings.bot_db_path)
    bindings.bind_chat(db, GROUP, OTHER_CAMPAIGN, OWNER, datetime.now(UTC))
    db.close()
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, shown.message_id, data_of(shown, "s"))
    assert "expired" in str((await feed_bot.reply(GROUP, mark)).params["text"])
    await asyncio.sleep(1)
    assert feed_bot.market.requests_for("updateOrderStatus") == []


async def test_orders_and_plan_list_what_needs_action(feed_bot: RunningBot) -> None:
    market = feed_bot.market
    place(market, FIRST_ORDER, delivery_date=market.today - timedelta(days=1))
    place(market, FIRST_ORDER + 1, track_codes=[("RR1", 51)])
    place(market, FIRST_ORDER + 2, delivery_date=market.today + timedelta(days=3))
    later = market.today + timedelta(days=4)
    place(market, FIRST_ORDER + 3, status="DELIVERY", delivery_date=later, track_codes=[("A", 51)])
    await card(feed_bot, FIRST_ORDER + 2)
    await asyncio.sleep(INTERVAL * 1.5)
    mark = feed_bot.mark()
    feed_bot.telegram.send_group(GROUP, COURIER, "/orders")
    listed = str((await feed_bot.reply(GROUP, mark)).params["text"]).split("\n")
    assert listed[0] == "📋 Orders that need action: 3"
    # Most urgent first: late, then due today, then the rest.
    assert [line.split(" · ")[0] for line in listed[1:4]] == [
        f"• {FIRST_ORDER}",
        f"• {FIRST_ORDER + 1}",
        f"• {FIRST_ORDER + 2}",
    ]
    mark = feed_bot.mark()
    feed_bot.telegram.send_group(GROUP, COURIER, "/orders mine")
    assert "You have taken no open order" in str((await feed_bot.reply(GROUP, mark)).params["text"])
    mark = feed_bot.mark()
    feed_bot.telegram.send_group(GROUP, COURIER, "/plan")
    plan = str((await feed_bot.reply(GROUP, mark)).params["text"]).split("\n")
    assert plan[1] == f"⏰ Late: 1 — {FIRST_ORDER}"
    assert plan[2] == f"📦 Due today: 1 — {FIRST_ORDER + 1}"
    assert plan[3] == f"🏷 No track code: 2 — {FIRST_ORDER}, {FIRST_ORDER + 2}"
    assert plan[-1] == "The plan is posted every morning at 09:00."
    mark = feed_bot.mark()
    feed_bot.telegram.send_group(GROUP, COURIER, "/plan 08:30")
    assert "does not allow" in str((await feed_bot.reply(GROUP, mark)).params["text"])
    mark = feed_bot.mark()
    feed_bot.telegram.send_group(GROUP, MANAGER, "/plan 8.30")
    assert "every morning at 08:30 (Europe/Moscow)" in str(
        (await feed_bot.reply(GROUP, mark)).params["text"]
    )


async def test_the_morning_plan_goes_out_once_a_day_at_its_time(
    feed_settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    prepare(feed_settings)
    db = open_database(feed_settings.bot_db_path)
    day = fake_market.today
    late = {
        "orderId": FIRST_ORDER,
        "campaignId": CAMPAIGN,
        "status": "PROCESSING",
        "delivery": {"dates": {"toDate": (day - timedelta(days=1)).isoformat()}},
    }
    feed.save_sweep(
        db,
        CAMPAIGN,
        [SweptOrder(FIRST_ORDER, "PROCESSING", day, None, late)],
        cursor=datetime.now(UTC),
        now=datetime.now(UTC),
    )
    feed.set_plan(db, CAMPAIGN, "08:30")
    clock = ManualClock(datetime.combine(day, time(8, 29), tzinfo=MOSCOW))
    async with Bot(fake_telegram.token, base_url=fake_telegram.base_url) as bot:
        plan = MorningPlan(db, PlanPoster(bot, db), tz=MOSCOW, clock=clock)
        assert await plan.tick() == []
        clock.advance(60)
        assert await plan.tick() == [CAMPAIGN]
        [posted] = [m for m in fake_telegram.messages(GROUP).values() if "Plan for" in m.text]
        assert f"⏰ Late: 1 — {FIRST_ORDER}" in posted.text
        clock.advance(3600)
        assert await plan.tick() == []
        # A restart the same day posts nothing; the next morning posts again.
        again = MorningPlan(db, PlanPoster(bot, db), tz=MOSCOW, clock=clock)
        assert await again.tick() == []
        clock.advance(23 * 3600)
        assert await again.tick() == [CAMPAIGN]
        assert len([m for m in fake_telegram.messages(GROUP).values() if "Plan for" in m.text]) == 2
    db.close()


async def test_without_a_default_service_the_track_reply_asks_for_it(
    feed_settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    prepare(feed_settings, service=None)
    async with running_bot(feed_settings, fake_telegram, fake_market) as bot:
        await swept(bot)
        place(fake_market, FIRST_ORDER)
        shown = await card(bot, FIRST_ORDER)
        mark = bot.mark()
        bot.telegram.press_button(COURIER, GROUP, shown.message_id, data_of(shown, "t"))
        prompt = await new_message(bot, mark, f"track code of order {FIRST_ORDER}")
        mark = bot.mark()
        bot.telegram.send_group(GROUP, COURIER, "RR777", reply_to=prompt.message_id)
        asked = await new_message(bot, mark, f"Which delivery service carries order {FIRST_ORDER}")
        cdek = next(
            b for row in asked.reply_markup["inline_keyboard"] for b in row if "· 51" in b["text"]
        )  # type: ignore[index]
        mark = bot.mark()
        bot.telegram.press_button(COURIER, GROUP, asked.message_id, cdek["callback_data"])
        assert str((await bot.final(GROUP, mark)).params["text"]).startswith("✅")
        [request] = fake_market.requests_for("setOrderDeliveryTrackCode")
        assert request.body == {"trackCode": "RR777", "deliveryServiceId": 51}
        market_bodies_valid(fake_market)
