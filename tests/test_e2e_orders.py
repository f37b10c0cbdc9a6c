"""/track and /move end to end: fake Telegram → the real bot → fake Market → the answer."""

from __future__ import annotations

from datetime import date, timedelta

from storage import bindings, prefs
from storage.db import open_database
from tests.conftest import (
    CAMPAIGN,
    COURIER,
    GROUP,
    OTHER_CAMPAIGN,
    OWNER,
    STRANGER,
    RunningBot,
    running_bot,
    seed_shop,
)
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import FakeTelegram


def bind_group(bot: RunningBot, chat_id: int = GROUP, campaign_id: int = CAMPAIGN) -> None:
    db = open_database(bot.settings.bot_db_path)
    from datetime import UTC, datetime

    bindings.bind_chat(db, chat_id, campaign_id, OWNER, datetime.now(UTC))
    db.close()


def text_of(call: object) -> str:
    return str(call.params.get("text", ""))  # type: ignore[attr-defined]


async def test_track_in_private_succeeds(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 101 RR456 51")
    answer = text_of(await bot.final(COURIER, mark))
    assert answer.startswith("✅")
    assert "101" in answer and "RR456" in answer and "flowers.example" in answer
    assert bot.market.order(CAMPAIGN, 101).track_codes == [("RR456", 51)]


async def test_track_with_a_service_name(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 102 rr777 cdek")
    answer = text_of(await bot.final(COURIER, mark))
    assert answer.startswith("✅"), answer
    # Upper-cased, as the buyer's tracking link needs.
    assert bot.market.order(CAMPAIGN, 102).track_codes == [("RR777", 51)]


async def test_ambiguous_service_name_lists_candidates(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 102 RR12 яндекс")
    answer = text_of(await bot.reply(COURIER, mark))
    assert "106" in answer and "107" in answer
    assert bot.market.requests_for("setOrderDeliveryTrackCode") == []


async def test_track_failure_is_explained_in_russian(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 110 RR456 51", language_code="ru")
    answer = text_of(await bot.final(COURIER, mark))
    assert answer.startswith("❌")
    assert "отмен" in answer.lower()
    assert (
        "Action is not allowed for order '110' with status 'CANCELLED' and substatus "
        "'USER_CHANGED_MIND'" in answer.splitlines()[-1]
    )
    assert len(bot.market.requests_for("setOrderDeliveryTrackCode")) == 1


async def test_move_in_a_bound_group_with_bot_name(bot: RunningBot) -> None:
    bind_group(bot)
    target = date.today() + timedelta(days=3)
    mark = bot.mark()
    bot.telegram.send_group(
        GROUP, COURIER, f"/move@DbsTestBot 103 {target:%d.%m.%Y} buyer", language_code="en"
    )
    answer = await bot.final(GROUP, mark)
    assert text_of(answer).startswith("✅")
    assert f"{target:%d.%m.%Y}" in text_of(answer)
    assert bot.market.order(CAMPAIGN, 103).delivery_date == target
    body = bot.market.requests_for("setOrderDeliveryDate")[-1].body
    assert body == {"dates": {"toDate": target.isoformat()}, "reason": "USER_MOVED_DELIVERY_DATES"}
    # In groups the answer quotes the command.
    assert answer.params.get("reply_parameters", {}).get("message_id")


async def test_move_failure_in_group(bot: RunningBot) -> None:
    bind_group(bot)
    mark = bot.mark()
    bot.telegram.send_group(GROUP, COURIER, "/move 999 tomorrow partner")
    answer = text_of(await bot.final(GROUP, mark))
    assert answer.startswith("❌")
    assert "Order not found: '999'" in answer


async def test_track_in_group_of_another_shop_goes_to_that_shop(bot: RunningBot) -> None:
    seed_shop(bot.settings, (COURIER, "courier"), campaign_id=OTHER_CAMPAIGN)
    bind_group(bot, GROUP - 1, OTHER_CAMPAIGN)
    mark = bot.mark()
    bot.telegram.send_group(GROUP - 1, COURIER, "/track 201 XY12 51")
    assert text_of(await bot.final(GROUP - 1, mark)).startswith("✅")
    assert bot.market.order(OTHER_CAMPAIGN, 201).track_codes == [("XY12", 51)]


async def test_bad_input_gets_usage_and_no_market_call(bot: RunningBot) -> None:
    for text, expected in (
        ("/track", "/track 123456789 RR456 51"),
        ("/track abc RR1 51", "abc"),
        ("/move 101 31.02.2030 user", "31.02.2030"),
        ("/move 101 01.01.2001 user", "/move"),
        ("/track 1 RR1 51 extra", "/track"),
    ):
        mark = bot.mark()
        bot.telegram.send_private(COURIER, text)
        answer = text_of(await bot.reply(COURIER, mark))
        assert expected in answer, (text, answer)
    assert bot.market.records == []


async def test_twenty_lines_get_one_summary(bot: RunningBot) -> None:
    for order in range(300, 318):
        bot.market.add_order(CAMPAIGN, order)
    lines = ["/track"] + [f"{order} T{order} 51" for order in range(300, 318)]
    lines += ["110 T110 51", "abc T1 51"]  # one Market refusal, one bad line
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "\n".join(lines))
    answer = text_of(await bot.final(COURIER, mark, timeout=15))
    assert "18" in answer.splitlines()[0] and "20" in answer.splitlines()[0]
    assert "line 20" in answer and "line 21" in answer
    # Market's own words stand on their own line under the failed line.
    assert any(
        line.strip().startswith("Market said:") and "'110'" in line for line in answer.splitlines()
    )
    finals = [
        c
        for c in bot.telegram.calls[mark:]
        if c.chat_id == COURIER
        and c.method in ("sendMessage", "editMessageText")
        and not text_of(c).startswith("⏳")
    ]
    assert len(finals) == 1
    assert len(bot.market.requests_for("setOrderDeliveryTrackCode")) == 19


async def test_missing_reason_asks_with_buttons(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/move 104 tomorrow")
    question = await bot.reply(COURIER, mark)
    buttons = question.params["reply_markup"]["inline_keyboard"][0]
    assert len(buttons) == 2
    assert bot.market.records == []
    message_id = int(question.result["message_id"])
    mark = bot.mark()
    bot.telegram.press_button(STRANGER, COURIER, message_id, buttons[0]["callback_data"])
    bot.telegram.press_button(COURIER, COURIER, message_id, buttons[1]["callback_data"])
    answer = text_of(await bot.final(COURIER, mark))
    assert answer.startswith("✅")
    tomorrow = date.today() + timedelta(days=1)
    body = bot.market.requests_for("setOrderDeliveryDate")[-1].body
    assert body["reason"] == "PARTNER_MOVED_DELIVERY_DATES"
    assert bot.market.order(CAMPAIGN, 104).delivery_date in (tomorrow, tomorrow + timedelta(1))


async def test_campaign_choice_buttons(bot: RunningBot) -> None:
    seed_shop(bot.settings, (COURIER, "courier"), campaign_id=OTHER_CAMPAIGN)
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 201 ZZ99 51")
    question = await bot.reply(COURIER, mark)
    rows = question.params["reply_markup"]["inline_keyboard"]
    assert len(rows) == 2
    choice = next(r[0] for r in rows if str(OTHER_CAMPAIGN) in r[0]["text"])
    mark = bot.mark()
    bot.telegram.press_button(
        COURIER, COURIER, int(question.result["message_id"]), choice["callback_data"]
    )
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    assert bot.market.order(OTHER_CAMPAIGN, 201).track_codes == [("ZZ99", 51)]
    assert bot.market.order(CAMPAIGN, 101).track_codes == []


async def test_default_campaign_skips_the_question(bot: RunningBot) -> None:
    seed_shop(bot.settings, (COURIER, "courier"), campaign_id=OTHER_CAMPAIGN)
    db = open_database(bot.settings.bot_db_path)
    prefs.set_default_campaign(db, COURIER, OTHER_CAMPAIGN)
    db.close()
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 201 DF12 51")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")


async def test_slow_market_shows_progress_then_result(bot: RunningBot) -> None:
    from tests.fakes.market import Fault

    bot.market.fail_next(105, Fault.slow(3.0))
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 105 SL12 51")
    progress = await bot.reply(COURIER, mark)
    assert text_of(progress).startswith("⏳")
    final = await bot.final(COURIER, mark)
    # The result is a new message (the phone rings); the note goes away.
    assert final.method == "sendMessage"
    assert text_of(final).startswith("✅")
    await bot.telegram.await_call(lambda c: c.method == "deleteMessage", 3, since=mark)


async def test_stranger_cannot_track(
    settings: object, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    seed_shop(settings, (OWNER, "owner"))  # type: ignore[arg-type]
    async with running_bot(settings, fake_telegram, fake_market) as bot:  # type: ignore[arg-type]
        mark = bot.mark()
        bot.telegram.send_private(STRANGER, "/track 101 RR1 51")
        answer = text_of(await bot.reply(STRANGER, mark))
    assert str(STRANGER) in answer
    assert fake_market.records == []


async def test_track_with_bot_name_in_group_and_another_bots_name_ignored(bot: RunningBot) -> None:
    bind_group(bot)
    mark = bot.mark()
    bot.telegram.send_group(GROUP, COURIER, "/track@OtherBot 102 NO1 51")
    bot.telegram.send_group(GROUP, COURIER, "/track@DbsTestBot 102 AB12 51", language_code="ru")
    answer = text_of(await bot.final(GROUP, mark))
    assert answer.startswith("✅")
    assert "Заказ 102" in answer
    assert bot.market.order(CAMPAIGN, 102).track_codes == [("AB12", 51)]


async def test_forged_button_data_is_answered_and_runs_nothing(bot: RunningBot) -> None:
    forged = (f"q:{2**64}:0", f"q:{2**63}:0", "q:1:99", "q:abc:0", "q:-1:0", "zz:1", "pick:1:2")
    for data in forged:
        query_id = bot.telegram.press_button(COURIER, COURIER, 1, data)
        answer = await bot.telegram.await_call(
            lambda c, q=query_id: (
                c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == q
            ),
            5,
        )
        assert answer.ok
        assert "expired" in str(answer.params.get("text", "")), data
    assert bot.market.records == []
