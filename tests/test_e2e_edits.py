"""Phone habits end to end: edited commands, commands in captions, and the owner's key alert.

Fake Telegram → the real bot → fake Market. A courier who fixes a typo by editing the message
gets the fix sent to Market once (and only the lines that changed); a command typed as the
caption of a parcel's photo is a command; an owner hears once an hour that Market refuses the
shop's key.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from storage import bindings
from storage.db import open_database
from tests.conftest import API_KEY, CAMPAIGN, COURIER, GROUP, OWNER, RunningBot
from tests.fakes.telegram import Call
from tests.test_e2e_shops import private, query, text_of

SHOP = "flowers.example (21000001)"
# Any bytes do for a photo: the fake serves them as given.
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def bind_group(bot: RunningBot) -> None:
    db = open_database(bot.settings.bot_db_path)
    bindings.bind_chat(db, GROUP, CAMPAIGN, OWNER, datetime.now(UTC))
    db.close()


def track_writes(bot: RunningBot) -> list[tuple[int | None, str]]:
    """(order, track code) of every track write Market received, in order."""
    return [
        (w.order_id, w.body["trackCode"])
        for w in bot.market.requests_for("setOrderDeliveryTrackCode")
    ]


async def audited(bot: RunningBot, chat_id: int, message_id: int, count: int = 1) -> None:
    """Wait until ``count`` commands of that message are in the audit log (fully handled)."""
    deadline = time.monotonic() + 5
    sql = "SELECT COUNT(*) FROM audit WHERE chat_id = ? AND message_id = ?"
    while query(bot.settings, sql, chat_id, message_id)[0][0] < count:
        assert time.monotonic() < deadline, f"message {message_id} was not handled {count} times"
        await asyncio.sleep(0.02)


async def sends_nothing_more(bot: RunningBot, chat_id: int, mark: int) -> None:
    """Nothing was said in ``chat_id`` since ``mark``, checked once the bot has answered a
    command sent after everything before it (the owner's /help) and a moment more."""
    help_mark = bot.mark()
    bot.telegram.send_private(OWNER, "/help")
    await bot.reply(OWNER, help_mark)
    await asyncio.sleep(0.3)
    said = [
        text_of(c)
        for c in bot.telegram.calls[mark:]
        if c.chat_id == chat_id and c.method in ("sendMessage", "editMessageText")
    ]
    assert said == []


def quoted(call: Call) -> Any:
    return call.params.get("reply_parameters", {}).get("message_id")


# --------------------------------------------------------------------------------------------
# Edits


async def test_an_edit_fixes_the_track_code_once_and_says_so(bot: RunningBot) -> None:
    mark = bot.mark()
    message_id = bot.telegram.send_private(COURIER, "/track 101 RR1234 51", language_code="ru")
    first = text_of(await bot.final(COURIER, mark))
    assert first.startswith("✅") and "RR1234" in first
    await audited(bot, COURIER, message_id)

    mark = bot.mark()
    bot.telegram.edit_user_message(COURIER, message_id, "/track 101 RR101101 51")
    answer = await bot.final(COURIER, mark)
    assert text_of(answer).startswith("Изменено по правке: ✅ Заказ 101"), text_of(answer)
    assert "RR101101" in text_of(answer)
    assert quoted(answer) == message_id
    await audited(bot, COURIER, message_id, 2)
    await asyncio.sleep(0.2)
    assert track_writes(bot) == [(101, "RR1234"), (101, "RR101101")]
    assert bot.market.order(CAMPAIGN, 101).track_codes[-1] == ("RR101101", 51)
    sent = [text_of(c) for c in bot.telegram.calls[mark:] if c.chat_id == COURIER]
    assert [text for text in sent if not text.startswith("⏳")] == [text_of(answer)]


async def test_an_edit_of_two_lines_sends_only_the_changed_line(bot: RunningBot) -> None:
    bind_group(bot)
    mark = bot.mark()
    text = "/track 102 AB1234 51\n/track 103 CD1234 51"
    message_id = bot.telegram.send_group(GROUP, COURIER, text)
    assert text_of(await bot.final(GROUP, mark)).startswith("✅ Done 2 of 2")
    await audited(bot, GROUP, message_id)

    mark = bot.mark()
    bot.telegram.edit_user_message(
        GROUP, message_id, "/track 102 AB1234 51\n/track 103 CD103103 51"
    )
    answer = await bot.final(GROUP, mark)
    assert text_of(answer).startswith("Changed by your edit: ✅ Order 103"), text_of(answer)
    assert quoted(answer) == message_id
    await audited(bot, GROUP, message_id, 2)

    # Only blanks changed now: nothing is sent and nothing is said.
    mark = bot.mark()
    bot.telegram.edit_user_message(
        GROUP, message_id, "/track  102 AB1234 51\n\n/track 103 CD103103 51"
    )
    await audited(bot, GROUP, message_id, 3)
    await sends_nothing_more(bot, GROUP, mark)
    writes = track_writes(bot)  # the first message's two lines may be sent in either order
    assert sorted(writes[:2]) == [(102, "AB1234"), (103, "CD1234")]
    assert writes[2:] == [(103, "CD103103")]
    sql = "SELECT outcome FROM audit WHERE chat_id = ? AND message_id = ? ORDER BY id"
    outcomes = query(bot.settings, sql, GROUP, message_id)
    assert outcomes == [("accepted",), ("accepted",), ("duplicate:unchanged",)]


async def test_a_bad_command_fixed_by_an_edit_runs(bot: RunningBot) -> None:
    mark = bot.mark()
    message_id = bot.telegram.send_private(COURIER, "/track 104 EF1 51")
    assert "Example: /track 123456789" in text_of(await bot.reply(COURIER, mark))
    await audited(bot, COURIER, message_id)
    mark = bot.mark()
    bot.telegram.edit_user_message(COURIER, message_id, "/track 104 EF1234 51")
    answer = text_of(await bot.final(COURIER, mark))
    assert answer.startswith("Changed by your edit: ✅ Order 104"), answer
    assert track_writes(bot) == [(104, "EF1234")]


async def test_an_edit_asks_like_a_new_command_and_the_button_follows_the_edit(
    bot: RunningBot,
) -> None:
    first, second = date.today() + timedelta(days=2), date.today() + timedelta(days=4)
    mark = bot.mark()
    message_id = bot.telegram.send_private(COURIER, f"/move 104 {first:%d.%m.%Y} buyer")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    await audited(bot, COURIER, message_id)

    mark = bot.mark()
    bot.telegram.edit_user_message(COURIER, message_id, f"/move 104 {second:%d.%m.%Y}")
    question = await bot.reply(COURIER, mark)
    buttons = question.params["reply_markup"]["inline_keyboard"][0]
    mark = bot.mark()
    bot.telegram.press_button(
        COURIER, COURIER, int(question.result["message_id"]), buttons[0]["callback_data"]
    )
    answer = text_of(await bot.final(COURIER, mark))
    assert answer.startswith("Changed by your edit: ✅ Order 104"), answer
    assert bot.market.order(CAMPAIGN, 104).delivery_date == second
    assert len(bot.market.requests_for("setOrderDeliveryDate")) == 2


async def test_edits_that_are_not_commands_are_ignored(bot: RunningBot) -> None:
    mark = bot.mark()
    done = bot.telegram.send_private(COURIER, "/track 105 GH1234 51")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    await audited(bot, COURIER, done)
    plain = bot.telegram.send_private(COURIER, "on my way")
    await asyncio.sleep(0.3)
    mark = bot.mark()
    # A plain message edited into a command was never a command.
    bot.telegram.edit_user_message(COURIER, plain, "/track 105 XX1050 51")
    # A command edited into something else says nothing.
    bot.telegram.edit_user_message(COURIER, done, "sorry, wrong chat")
    # An edit of a command sent more than 48 hours ago is too late.
    sent_at = int(time.time()) - 49 * 3600
    bot.telegram.inject_raw(
        {
            "edited_message": {
                "message_id": done,
                "date": sent_at,
                "edit_date": int(time.time()),
                "chat": {"id": COURIER, "type": "private", "first_name": "User"},
                "from": {"id": COURIER, "is_bot": False, "first_name": "User"},
                "text": "/track 105 GH105105 51",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            }
        }
    )
    await sends_nothing_more(bot, COURIER, mark)
    assert track_writes(bot) == [(105, "GH1234")]


async def test_access_is_decided_again_for_an_edit(bot: RunningBot) -> None:
    mark = bot.mark()
    message_id = bot.telegram.send_private(COURIER, "/track 103 KL1234 51")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    await audited(bot, COURIER, message_id)
    assert "no longer has access" in text_of(await private(bot, OWNER, f"/revoke {COURIER}"))

    mark = bot.mark()
    bot.telegram.edit_user_message(COURIER, message_id, "/track 103 KL103103 51")
    await audited(bot, COURIER, message_id, 2)
    said = [text_of(c) for c in bot.telegram.calls[mark:] if c.chat_id == COURIER]
    assert any("don't have access" in text for text in said), said
    assert track_writes(bot) == [(103, "KL1234")]
    sql = "SELECT outcome FROM audit WHERE chat_id = ? AND message_id = ? ORDER BY id DESC"
    (outcome,) = query(bot.settings, sql, COURIER, message_id)[0]
    assert outcome == "denied:not_member"


# --------------------------------------------------------------------------------------------
# Captions


async def test_a_command_in_a_photo_caption_reaches_market(bot: RunningBot) -> None:
    mark = bot.mark()
    photo = bot.telegram.send_photo(COURIER, COURIER, PHOTO, caption="/track 101 MN1234 51")
    answer = text_of(await bot.final(COURIER, mark))
    assert answer.startswith("✅ Order 101") and "MN1234" in answer
    await audited(bot, COURIER, photo)

    # The caption is edited like a text: the fix follows.
    mark = bot.mark()
    bot.telegram.edit_user_message(COURIER, photo, "/track 101 MN101101 51")
    answer = text_of(await bot.final(COURIER, mark))
    assert answer.startswith("Changed by your edit: ✅ Order 101"), answer
    assert track_writes(bot) == [(101, "MN1234"), (101, "MN101101")]


async def test_captions_in_a_group_and_of_files(bot: RunningBot) -> None:
    bind_group(bot)
    mark = bot.mark()
    bot.telegram.send_photo(GROUP, COURIER, PHOTO, caption="/track@DbsTestBot 102 PQ1234 51")
    assert text_of(await bot.final(GROUP, mark)).startswith("✅ Order 102")
    mark = bot.mark()
    bot.telegram.send_document(GROUP, COURIER, PHOTO, caption="/track 103 RS1234 51")
    assert text_of(await bot.final(GROUP, mark)).startswith("✅ Order 103")

    # Another bot's command, and a caption that is no command, are not ours.
    mark = bot.mark()
    bot.telegram.send_photo(GROUP, COURIER, PHOTO, caption="/track@OtherBot 104 TU1234 51")
    bot.telegram.send_photo(GROUP, COURIER, PHOTO, caption="parcel for 104")
    await sends_nothing_more(bot, GROUP, mark)
    assert track_writes(bot) == [(102, "PQ1234"), (103, "RS1234")]


# --------------------------------------------------------------------------------------------
# The owner hears when Market refuses the key


async def test_the_owner_is_told_once_an_hour_that_the_key_is_refused(bot: RunningBot) -> None:
    bot.market.revoke_key(API_KEY)
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 101 VW1234 51")
    assert text_of(await bot.final(COURIER, mark)).startswith("❌")
    alert = text_of(await bot.reply(OWNER, mark))
    assert alert.startswith(f"Market refused the API key of {SHOP} (HTTP 401)"), alert
    assert "/connect" in alert and API_KEY not in alert

    second = bot.mark()
    bot.telegram.send_private(COURIER, "/track 102 VW1234 51")
    assert text_of(await bot.final(COURIER, second)).startswith("❌")
    await asyncio.sleep(0.5)
    to_owner = [c for c in bot.telegram.calls[mark:] if c.chat_id == OWNER]
    assert len(to_owner) == 1
    assert bot.market.order(CAMPAIGN, 101).track_codes == []


async def test_an_edit_while_the_old_code_waits_for_a_retry_replaces_it(bot: RunningBot) -> None:
    from tests.fakes.market import Fault

    # Market fails the first tries: the wrong code waits for its next try when the fix comes.
    bot.market.add_order(CAMPAIGN, 131)
    bot.market.fail_next(131, *(Fault.server_error(503) for _ in range(3)))
    mark = bot.mark()
    message_id = bot.telegram.send_private(COURIER, "/track 131 WRONG1 51")
    await bot.telegram.await_call(lambda c: c.method == "sendMessage", 5, since=mark)
    bot.telegram.edit_user_message(COURIER, message_id, "/track 131 RIGHT1 51")
    final = await bot.final(COURIER, mark, timeout=10)
    await asyncio.sleep(0.5)
    codes = [code for order, code in track_writes(bot) if order == 131]
    # The wrong code may have been tried before the edit, never after the right one.
    assert codes[-1] == "RIGHT1", codes
    assert bot.market.order(CAMPAIGN, 131).track_codes[-1] == ("RIGHT1", 51)
    assert "RIGHT1" in text_of(final)
    finals = [
        c
        for c in bot.telegram.calls[mark:]
        if c.chat_id == COURIER
        and c.method == "sendMessage"
        and ("✅" in text_of(c) or "❌" in text_of(c))
    ]
    assert len(finals) == 1, [text_of(c) for c in finals]
