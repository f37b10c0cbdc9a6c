"""Buttons for every fixable mistake, and a shop's default delivery service, end to end.

Fake Telegram → the real bot → fake Market: an unclear reason, an unknown or ambiguous delivery
service, a missing date (with the calendar), an invite without a role and "which shop?" each
end in buttons, and a press completes the command without retyping. ``/service`` sets, lists
and clears the shop's default delivery service.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from storage import members, prefs
from storage.db import open_database
from tests.conftest import (
    CAMPAIGN,
    COURIER,
    GROUP,
    MANAGER,
    OTHER_CAMPAIGN,
    OWNER,
    STRANGER,
    RunningBot,
    seed_shop,
)
from tests.fakes.telegram import Call
from tests.openapi import validate_request
from tests.test_e2e_orders import bind_group
from tests.test_e2e_shops import INVITE_LINK, private, query, text_of

LIMIT = 600  # characters of one answer


def moscow_today() -> date:
    return datetime.now(ZoneInfo("Europe/Moscow")).date()


def buttons(call: Call) -> list[tuple[str, str]]:
    """(label, callback data) of every button under the message ``call`` sent or edited."""
    markup = call.params.get("reply_markup") or {}
    return [
        (b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row
    ]


def data_of(call: Call, label: str) -> str:
    found = [data for text, data in buttons(call) if text == label]
    assert found, f"no button {label!r} in {[text for text, _ in buttons(call)]}"
    return found[0]


def message_id(call: Call) -> int:
    """The message a send created or an edit changed."""
    return int(call.params.get("message_id") or call.result["message_id"])


async def press(bot: RunningBot, user_id: int, call: Call, data: str, chat_id: int = 0) -> str:
    """``user_id`` presses ``data`` under the message of ``call``; the short answer shown."""
    query_id = bot.telegram.press_button(user_id, chat_id or user_id, message_id(call), data)
    answer = await bot.telegram.await_call(
        lambda c: (
            c.method == "answerCallbackQuery" and str(c.params.get("callback_query_id")) == query_id
        ),
        5,
    )
    return str(answer.params.get("text", ""))


async def press_for_reply(bot: RunningBot, user_id: int, call: Call, data: str) -> Call:
    """Press and return the bot's next message (or edit) in the private chat."""
    mark = bot.mark()
    await press(bot, user_id, call, data)
    return await bot.reply(user_id, mark)


async def result(bot: RunningBot, chat_id: int, since: int) -> str:
    """The next result (✅ or ❌) in ``chat_id`` after call index ``since``."""
    call = await bot.telegram.await_call(
        lambda c: (
            c.method in ("sendMessage", "editMessageText")
            and c.chat_id == chat_id
            and text_of(c).startswith(("✅", "❌"))
        ),
        8,
        since=since,
    )
    return text_of(call)


async def press_for_final(bot: RunningBot, user_id: int, call: Call, data: str) -> str:
    mark = bot.mark()
    await press(bot, user_id, call, data)
    return await result(bot, user_id, mark)


def market_bodies(bot: RunningBot, operation: str) -> list[dict[str, Any]]:
    found = bot.market.requests_for(operation)
    for record in found:
        validate_request(record.method, record.path, record.body)
    return [record.body or {} for record in found]


# --------------------------------------------------------------------------------------------
# /move: an unclear reason, a missing date, the calendar


async def test_an_unclear_reason_becomes_two_buttons(bot: RunningBot) -> None:
    day = moscow_today() + timedelta(days=2)
    question = await private(bot, COURIER, f"/move 104 {day:%d.%m.%Y} по просьбе покупателя")
    assert "“по”" in text_of(question) and len(text_of(question)) <= LIMIT
    assert [label for label, _ in buttons(question)] == ["The buyer asked", "We can't make it"]
    assert bot.market.records == []
    answer = await press_for_final(bot, COURIER, question, data_of(question, "The buyer asked"))
    assert answer.startswith("✅"), answer
    assert market_bodies(bot, "setOrderDeliveryDate") == [
        {"dates": {"toDate": day.isoformat()}, "reason": "USER_MOVED_DELIVERY_DATES"}
    ]


async def test_unclear_reason_in_russian(bot: RunningBot) -> None:
    question = await private(bot, COURIER, "/move 104 завтра клиента", language_code="ru")
    assert text_of(question).startswith("Не понимаю причину «клиента»")
    labels = [label for label, _ in buttons(question)]
    assert labels == ["Попросил покупатель", "Мы не успеваем"]
    answer = await press_for_final(bot, COURIER, question, data_of(question, "Мы не успеваем"))
    assert answer.startswith("✅")
    [body] = market_bodies(bot, "setOrderDeliveryDate")
    assert body["reason"] == "PARTNER_MOVED_DELIVERY_DATES"


async def test_a_missing_date_then_tomorrow_then_the_reason(bot: RunningBot) -> None:
    tomorrow = moscow_today() + timedelta(days=1)
    question = await private(bot, COURIER, "/move 104")
    labels = [label for label, _ in buttons(question)]
    assert labels[1] == f"Tomorrow, {tomorrow:%d.%m}"
    assert len(labels) == 5 and labels[-1] == "Other date…"
    reason = await press_for_reply(bot, COURIER, question, data_of(question, labels[1]))
    assert reason.method == "sendMessage"
    assert f"{tomorrow:%d.%m.%Y}" in text_of(reason)
    answer = await press_for_final(bot, COURIER, reason, data_of(reason, "The buyer asked"))
    assert answer.startswith("✅")
    assert market_bodies(bot, "setOrderDeliveryDate") == [
        {"dates": {"toDate": tomorrow.isoformat()}, "reason": "USER_MOVED_DELIVERY_DATES"}
    ]
    # The question lost its buttons once answered; a second press does nothing.
    assert bot.telegram.messages(COURIER)[message_id(question)].reply_markup is None
    assert "expired" in await press(bot, COURIER, question, data_of(question, labels[1]))
    assert len(bot.market.requests_for("setOrderDeliveryDate")) == 1
    # A button's short answers speak the language the person chose, as the commands do.
    await private(bot, COURIER, "/language ru")
    assert "устарела" in await press(bot, COURIER, question, data_of(question, labels[1]))


async def test_the_calendar_pages_and_a_day_completes_the_move(bot: RunningBot) -> None:
    bot.market.change_order(CAMPAIGN, 105, days_limit=90)
    today = moscow_today()
    question = await private(bot, COURIER, "/move 105")
    calendar_call = await press_for_reply(bot, COURIER, question, data_of(question, "Other date…"))
    # The question itself became the calendar.
    assert calendar_call.method == "editMessageText"
    assert message_id(calendar_call) == message_id(question)
    assert text_of(calendar_call) == "Pick the new delivery day of order 105:"
    this_month = [label for label, _ in buttons(calendar_call)]
    assert f"{calendar.month_name[today.month]} {today.year}" in this_month
    assert str(today.day) in this_month and "‹" not in this_month
    if today.day > 1:
        assert str(today.day - 1) not in this_month  # the past is not offered

    # A stranger can neither page nor pick.
    for label in ("›", str(today.day)):
        shown = await press(bot, STRANGER, calendar_call, data_of(calendar_call, label), COURIER)
        assert "person who sent the command" in shown

    mark = bot.mark()
    await press(bot, COURIER, calendar_call, data_of(calendar_call, "›"))
    paged = await bot.telegram.await_call(
        lambda c: c.method == "editMessageReplyMarkup" and c.chat_id == COURIER, 5, since=mark
    )
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    labels = [label for label, _ in buttons(paged)]
    assert f"{calendar.month_name[next_month.month]} {next_month.year}" in labels
    assert "‹" in labels and labels.count("1") == 1
    reason = await press_for_reply(bot, COURIER, paged, data_of(paged, "1"))
    assert f"{next_month:%d.%m.%Y}" in text_of(reason), text_of(reason)
    answer = await press_for_final(bot, COURIER, reason, data_of(reason, "We can't make it"))
    assert answer.startswith("✅"), answer
    assert market_bodies(bot, "setOrderDeliveryDate") == [
        {"dates": {"toDate": next_month.isoformat()}, "reason": "PARTNER_MOVED_DELIVERY_DATES"}
    ]
    # The calendar is single use: pressing another day now runs nothing.
    assert "expired" in await press(bot, COURIER, paged, data_of(paged, "2"))
    assert len(bot.market.requests_for("setOrderDeliveryDate")) == 1


async def test_a_forged_calendar_day_runs_nothing(bot: RunningBot) -> None:
    question = await private(bot, COURIER, "/move 105 ?")
    day = buttons(question)[-1][1]
    question_id = day.split(":")[1]
    past = (moscow_today() - timedelta(days=1)).strftime("%Y%m%d")
    for data in (f"dp:{question_id}:{past}", f"dp:{question_id}:20990101", "dp:999999:20990101"):
        shown = await press(bot, COURIER, question, data)
        assert shown, data
    assert bot.market.records == []


# --------------------------------------------------------------------------------------------
# /track: unknown, ambiguous and missing delivery services


async def test_an_unknown_service_offers_the_shops_services_first(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 102 AA0001 1003")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    question = await private(bot, COURIER, "/track 101 RR0001 fedex")
    text = text_of(question)
    assert "fedex" in text and "51 for" not in text and "для СДЭК" not in text
    labels = [label for label, _ in buttons(question)]
    # The shop's own service first, then Market's list in its order; six at most.
    assert labels == [
        "DPD · 1003",
        "Почта России · 48",
        "СДЭК · 51",
        "Boxberry · 52",
        "Яндекс Доставка · 106",
        "Яндекс Go · 107",
    ]
    answer = await press_for_final(bot, COURIER, question, data_of(question, "Boxberry · 52"))
    assert answer.startswith("✅") and "Boxberry" in answer
    bodies = market_bodies(bot, "setOrderDeliveryTrackCode")
    assert bodies[-1] == {"trackCode": "RR0001", "deliveryServiceId": 52}


async def test_an_ambiguous_service_offers_the_candidates(bot: RunningBot) -> None:
    question = await private(bot, COURIER, "/track 103 RR0002 яндекс")
    assert [label for label, _ in buttons(question)] == ["Яндекс Доставка · 106", "Яндекс Go · 107"]
    answer = await press_for_final(bot, COURIER, question, data_of(question, "Яндекс Go · 107"))
    assert answer.startswith("✅")
    assert market_bodies(bot, "setOrderDeliveryTrackCode") == [
        {"trackCode": "RR0002", "deliveryServiceId": 107}
    ]


async def test_in_a_list_an_unknown_service_names_the_shops_ids(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 102 AA0001 1003")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 104 AA0003 52\n103 AA0002 fedex")
    summary = text_of(await bot.final(COURIER, mark))
    expected = "Use the service's id, e.g. 1003 (DPD), 48 (Почта России), 51 (СДЭК)."
    assert "line 2" in summary and expected in summary, summary
    assert len(market_bodies(bot, "setOrderDeliveryTrackCode")) == 2


# --------------------------------------------------------------------------------------------
# /service: the shop's default delivery service


async def test_service_default_lets_track_leave_the_service_out(bot: RunningBot) -> None:
    refused = await private(bot, COURIER, "/service 51")
    assert "manager" in text_of(refused).lower() or "role" in text_of(refused).lower()
    answer = text_of(await private(bot, MANAGER, "/service 51"))
    assert answer.startswith("✅") and "СДЭК (51)" in answer and len(answer) <= LIMIT
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 103 RR457")
    result = text_of(await bot.final(COURIER, mark))
    assert result.startswith("✅") and "СДЭК" in result, result
    assert market_bodies(bot, "setOrderDeliveryTrackCode") == [
        {"trackCode": "RR457", "deliveryServiceId": 51}
    ]
    assert bot.market.order(CAMPAIGN, 103).track_codes == [("RR457", 51)]

    # Cleared, the service is asked again, with buttons.
    assert text_of(await private(bot, OWNER, "/service off")).startswith("✅")
    question = await private(bot, COURIER, "/track 104 RR458")
    assert "104" in text_of(question)
    assert buttons(question)[0][0] == "СДЭК · 51"  # the one the shop used
    answer = await press_for_final(bot, COURIER, question, data_of(question, "DPD · 1003"))
    assert answer.startswith("✅")
    assert bot.market.order(CAMPAIGN, 104).track_codes == [("RR458", 1003)]


async def test_service_by_name_and_in_a_bound_group(bot: RunningBot) -> None:
    bind_group(bot)
    mark = bot.mark()
    bot.telegram.send_group(GROUP, MANAGER, "/service@DbsTestBot cdek")
    assert "СДЭК (51)" in text_of(await bot.reply(GROUP, mark))
    mark = bot.mark()
    bot.telegram.send_group(GROUP, COURIER, "/track 101 GR0001")
    assert text_of(await bot.final(GROUP, mark)).startswith("✅")
    assert bot.market.order(CAMPAIGN, 101).track_codes == [("GR0001", 51)]
    # An ambiguous name asks which one.
    question = await private(bot, OWNER, "/service яндекс")
    assert [label for label, _ in buttons(question)] == ["Яндекс Доставка · 106", "Яндекс Go · 107"]
    done = await press_for_reply(bot, OWNER, question, data_of(question, "Яндекс Go · 107"))
    assert "Яндекс Go (107)" in text_of(done)
    rows = query(bot.settings, "SELECT default_service_id FROM shop_settings")
    assert rows == [(107,)]


async def test_service_list_puts_the_most_used_first_and_marks_the_default(
    bot: RunningBot,
) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track\n101 AB0001 1003\n102 AB0002 1003\n103 AB0003 48")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    await private(bot, MANAGER, "/service 52")
    listing = text_of(await private(bot, MANAGER, "/service"))
    assert len(listing) <= LIMIT
    lines = [line for line in listing.splitlines() if " — " in line]
    assert lines[0] == "1003 — DPD · 2×"
    assert lines[1] == "48 — Почта России · 1×"
    assert lines[2] == "⭐ 52 — Boxberry (default)"
    assert [line.split(" — ")[0] for line in lines[3:]] == ["51", "106", "107"]
    assert "/service off" in listing


async def test_service_refuses_what_is_not_a_service(bot: RunningBot) -> None:
    for text, expected in (
        ("/service 999", "999"),
        ("/service fedex", "fedex"),
        ("/service 51 52", "/service 51"),
    ):
        answer = text_of(await private(bot, MANAGER, text))
        assert expected in answer, (text, answer)
    assert query(bot.settings, "SELECT COUNT(*) FROM shop_settings") == [(0,)]


# --------------------------------------------------------------------------------------------
# /invite without a role; "which shop?" with a default


async def test_invite_without_a_role_asks_with_two_buttons(bot: RunningBot) -> None:
    question = await private(bot, OWNER, "/invite")
    assert [label for label, _ in buttons(question)] == ["A courier", "A manager"]
    answer = await press_for_reply(bot, OWNER, question, data_of(question, "A courier"))
    assert INVITE_LINK.search(text_of(answer)), text_of(answer)
    assert query(bot.settings, "SELECT role FROM invites") == [("courier",)]
    # A manager may ask, but pressing "manager" is decided in full: refused.
    question = await private(bot, MANAGER, "/invite")
    refused = await press_for_reply(bot, MANAGER, question, data_of(question, "A manager"))
    assert not INVITE_LINK.search(text_of(refused))
    assert query(bot.settings, "SELECT COUNT(*) FROM invites") == [(1,)]


async def test_invite_question_only_for_people_who_may_invite(bot: RunningBot) -> None:
    for user_id in (COURIER, STRANGER):
        answer = await private(bot, user_id, "/invite")
        assert buttons(answer) == [], user_id
    assert query(bot.settings, "SELECT COUNT(*) FROM pending") == [(0,)]


async def test_which_shop_can_become_the_default(bot: RunningBot) -> None:
    seed_shop(bot.settings, (COURIER, "courier"), campaign_id=OTHER_CAMPAIGN)
    question = await private(bot, COURIER, "/track 201 ZZ0009 51")
    labels = [label for label, _ in buttons(question)]
    assert labels == [
        "flowers.example (21000001)",
        "⭐ flowers.example (21000001) (by default)",
        "books.example (21000002)",
        "⭐ books.example (21000002) (by default)",
    ]
    mark = bot.mark()
    await press(bot, COURIER, question, data_of(question, labels[3]))
    note = await bot.reply(COURIER, mark)
    assert "books.example" in text_of(note) and "default" in text_of(note)
    assert (await result(bot, COURIER, mark)).startswith("✅")
    assert bot.market.order(OTHER_CAMPAIGN, 201).track_codes == [("ZZ0009", 51)]
    db = open_database(bot.settings.bot_db_path)
    assert prefs.get_prefs(db, COURIER).default_campaign_id == OTHER_CAMPAIGN
    db.close()
    # The next command goes to the default shop without asking.
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 201 ZZ0008 51")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    assert bot.market.order(OTHER_CAMPAIGN, 201).track_codes == [("ZZ0009", 51), ("ZZ0008", 51)]


async def test_a_plain_shop_choice_leaves_the_default_alone(bot: RunningBot) -> None:
    seed_shop(bot.settings, (COURIER, "courier"), campaign_id=OTHER_CAMPAIGN)
    question = await private(bot, COURIER, "/track 201 ZZ0007 51")
    answer = await press_for_final(
        bot, COURIER, question, data_of(question, "books.example (21000002)")
    )
    assert answer.startswith("✅")
    assert query(bot.settings, "SELECT default_campaign_id FROM user_prefs") in ([], [(None,)])


async def test_the_default_is_not_set_where_the_command_is_refused(bot: RunningBot) -> None:
    seed_shop(bot.settings, (COURIER, "courier"), campaign_id=OTHER_CAMPAIGN)
    question = await private(bot, COURIER, "/track 201 ZZ0006 51")
    db = open_database(bot.settings.bot_db_path)
    members.remove_member(db, OTHER_CAMPAIGN, COURIER)  # revoked before the press
    db.close()
    refused = await press_for_reply(
        bot, COURIER, question, data_of(question, "⭐ books.example (21000002) (by default)")
    )
    assert not text_of(refused).startswith(("⭐", "✅")), text_of(refused)
    assert query(bot.settings, "SELECT default_campaign_id FROM user_prefs") in ([], [(None,)])
    assert bot.market.requests_for("setOrderDeliveryTrackCode") == []
