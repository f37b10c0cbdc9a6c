"""End to end: an API key pasted into a group never stays there, never runs a command, never
reaches Market, the audit log, or the bot's own messages; wherever the key sits in the message
(a later line, a bulk message, a photo caption) and also when it is edited in afterwards."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import Any

import pytest

from bot.config import Settings
from tests.conftest import API_KEY, CAMPAIGN, GROUP, OWNER, RunningBot
from tests.fakes.telegram import FakeTelegram

# A key Market never saw, so that nothing the test sends could be "already known" to anyone.
PASTED = "ACMA:Pq7Rs9Tu1Vw3Xy5Za2Bc4De6Fg:9f8e7d6c"
PIECES = (PASTED, "Pq7Rs9Tu1Vw3Xy5Za2Bc4De6Fg", API_KEY, "test-key-0000000000000000")
PHOTO = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
WARNING = "Never send an API key to a group"
NOT_DELETED = "Please delete your message with the key yourself."


def query(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{settings.bot_db_path}?mode=ro", uri=True) as conn:
        return conn.execute(sql, params).fetchall()


def everything_sent(telegram: FakeTelegram) -> str:
    return "\n".join(repr(call.params) for call in telegram.calls)


@dataclass(frozen=True)
class Case:
    """``first`` is posted (as text, or as a photo's caption); with ``edit`` the author then
    edits it to that, and only the edit carries the key. ``command`` is what the audit names."""

    name: str
    first: str
    command: str
    photo: bool = False
    edit: str | None = None


CASES = [
    Case("key on the line after /connect", f"/connect\n{CAMPAIGN} {PASTED}", "connect"),
    Case("key after /connect@bot and a newline", f"/connect@DbsTestBot\n{PASTED}", "connect"),
    Case(
        "key on line 2 of a bulk message", f"/track 101 RR456 51\n/track 102 {PASTED} 51", "track"
    ),
    Case("key on line 3 of bulk arguments", f"/track\n101 RR4 51\n{PASTED}", "track"),
    Case("key in a photo caption", f"/connect {CAMPAIGN} {PASTED}", "connect", photo=True),
    Case("bare key in a photo caption", f"here it is\n{PASTED}", "message", photo=True),
    Case("key edited into a message", "my key is", "message", edit=f"my key is {PASTED}"),
    Case(
        "key edited into a command",
        "/track 101 RR456 51",
        "track",
        edit=f"/track 101 RR456 51\n{PASTED}",
    ),
    Case("key edited into a caption", "label", "message", photo=True, edit=f"label\n{PASTED}"),
]


def _post(telegram: FakeTelegram, case: Case) -> int:
    if case.photo:
        return telegram.send_photo(GROUP, OWNER, PHOTO, caption=case.first)
    return telegram.send_group(GROUP, OWNER, case.first)


async def _only_the_warning(bot: RunningBot, mark: int) -> list[str]:
    """Every message the bot sent to the group after ``mark``, once it has gone quiet."""
    await bot.reply(GROUP, mark)
    await asyncio.sleep(0.5)  # anything a command would have answered has arrived by now
    return [
        str(call.params.get("text", ""))
        for call in bot.telegram.calls[mark:]
        if call.method in ("sendMessage", "editMessageText", "sendPhoto") and call.chat_id == GROUP
    ]


@pytest.mark.parametrize("can_delete", [True, False], ids=["may-delete", "may-not-delete"])
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_key_in_a_group_is_removed_and_goes_nowhere(
    bot: RunningBot, case: Case, can_delete: bool
) -> None:
    bot.telegram.set_can_delete(GROUP, can_delete)
    if case.edit is not None:
        original = bot.mark()
        message_id = _post(bot.telegram, case)
        if case.first.startswith("/"):  # the harmless original command runs and is answered
            await bot.final(GROUP, original)
        await asyncio.sleep(0.3)
    market_before = len(bot.market.records)
    audited_before = query(bot.settings, "SELECT COUNT(*) FROM audit")[0][0]
    mark = bot.mark()
    if case.edit is None:
        message_id = _post(bot.telegram, case)
    else:
        bot.telegram.edit_user_message(GROUP, message_id, case.edit)

    sent = await _only_the_warning(bot, mark)
    assert len(sent) == 1, sent
    assert WARNING in sent[0]
    assert "Revoke this key now" in sent[0]
    assert (NOT_DELETED in sent[0]) is not can_delete
    assert ((GROUP, message_id) in bot.telegram.deleted) is can_delete
    assert len(bot.market.records) == market_before
    rows = query(bot.settings, "SELECT command, outcome FROM audit WHERE id > ?", audited_before)
    assert rows == [(case.command, "refused:key_in_group")]
    stored = repr(query(bot.settings, "SELECT * FROM audit"))
    everything = everything_sent(bot.telegram)
    for piece in PIECES:
        assert piece not in stored
        assert piece not in everything


async def test_an_ordinary_edit_in_the_group_is_left_alone(bot: RunningBot) -> None:
    message_id = bot.telegram.send_group(GROUP, OWNER, "tomorrow at 10")
    await asyncio.sleep(0.3)
    mark = bot.mark()
    bot.telegram.edit_user_message(GROUP, message_id, "tomorrow at 11, RR456 is late")
    await asyncio.sleep(0.5)
    assert [c.method for c in bot.telegram.calls[mark:] if c.method != "getUpdates"] == []
    assert bot.telegram.deleted == []
    assert query(bot.settings, "SELECT COUNT(*) FROM audit") == [(0,)]


async def test_a_known_key_of_any_shape_is_caught_in_a_group(bot: RunningBot) -> None:
    # Lower case and digits, no prefix: nothing in its shape says "key", but the bot has
    # handled it, so it knows it when it sees it again.
    odd_key = "n0prefix0nocolon0lowercase77"
    bot.market.add_campaign(21000099, odd_key, domain="odd.example", business_id=799)
    mark = bot.mark()
    bot.telegram.send_private(OWNER, f"/connect 21000099 {odd_key}")
    assert "Connected" in ((await bot.final(OWNER, mark)).text or "")
    records = len(bot.market.records)

    mark = bot.mark()
    message_id = bot.telegram.send_group(GROUP, OWNER, f"for the courier:\n{odd_key}")
    sent = await _only_the_warning(bot, mark)
    assert len(sent) == 1 and WARNING in sent[0]
    assert (GROUP, message_id) in bot.telegram.deleted
    assert len(bot.market.records) == records
    assert odd_key not in repr(query(bot.settings, "SELECT * FROM audit"))
    assert odd_key not in everything_sent(bot.telegram)
