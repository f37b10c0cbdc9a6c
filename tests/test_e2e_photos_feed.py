"""Label photos where the order feed is involved: a photo replying to an order card's Track
prompt, and a photo alone in private choosing among the orders waiting for a code."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.config import Settings
from tests.conftest import COURIER, GROUP, RunningBot
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import FakeTelegram
from tests.test_e2e_feed import (
    FIRST_ORDER,
    bot_with_feed,
    card,
    market_without_orders,
    place,
    with_interval,
)
from tests.test_e2e_feed_buttons import data_of, new_message
from tests.test_e2e_photos import CODE, buttons_of, label, tracks
from tests.test_e2e_shops import text_of


@pytest.fixture
def fake_market() -> Iterator[FakeMarket]:
    with market_without_orders() as market:
        yield market


@pytest.fixture
async def feed_bot(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> AsyncIterator[RunningBot]:
    async with bot_with_feed(with_interval(settings), fake_telegram, fake_market) as running:
        yield running


async def test_a_photo_replying_to_the_cards_prompt_answers_it(feed_bot: RunningBot) -> None:
    place(feed_bot.market, FIRST_ORDER)
    shown = await card(feed_bot, FIRST_ORDER)
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(COURIER, GROUP, shown.message_id, data_of(shown, "t"))
    prompt = await new_message(feed_bot, mark, f"track code of order {FIRST_ORDER}")
    await feed_bot.question_stored(GROUP, prompt.message_id)
    mark = feed_bot.mark()
    feed_bot.telegram.send_photo(GROUP, COURIER, label("plain"), reply_to=prompt.message_id)
    answer = await feed_bot.final(GROUP, mark, timeout=15)
    assert text_of(answer).startswith("✅"), text_of(answer)
    assert tracks(feed_bot) == [{"trackCode": CODE, "deliveryServiceId": 51}]


async def test_a_photo_alone_asks_which_order_of_those_waiting_for_a_code(
    feed_bot: RunningBot,
) -> None:
    place(feed_bot.market, FIRST_ORDER)
    await card(feed_bot, FIRST_ORDER)  # the feed knows the order now
    mark = feed_bot.mark()
    feed_bot.telegram.send_photo(COURIER, COURIER, label("plain"))
    asked, buttons = await buttons_of(feed_bot, COURIER, mark)
    assert CODE in text_of(asked)
    assert buttons[0]["text"] == f"Order {FIRST_ORDER}: {CODE}"
    mark = feed_bot.mark()
    feed_bot.telegram.press_button(
        COURIER, COURIER, int(asked.result["message_id"]), buttons[0]["callback_data"]
    )
    assert text_of(await feed_bot.final(COURIER, mark, timeout=10)).startswith("✅")
    assert tracks(feed_bot) == [{"trackCode": CODE, "deliveryServiceId": 51}]
