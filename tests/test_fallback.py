"""Text that is not a command: one line with the closest command in private, silence in groups
unless the bot is addressed, never over the strangers' limit; first the pure ``suggest``, then
the running bot through the fakes."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from handlers.fallback import closest, distance, suggest
from handlers.parsing import InputError
from handlers.registry import BY_NAME
from handlers.texts import LANGS, t
from tests.conftest import API_KEY, COURIER, GROUP, MANAGER, OWNER, STRANGER, RunningBot
from tests.test_e2e_shops import bind_by_command, in_group, private, text_of

BOT = "DbsTestBot"
TODAY = date(2025, 6, 10)
COMMANDS = tuple(BY_NAME)

SUGGESTED = [
    # A known command typed without its slash: rebuilt exactly.
    ("track 124 RR457 51", "fallback.no_slash", "/track 124 RR457 51"),
    ("Track 124 RR457 51", "fallback.no_slash", "/track 124 RR457 51"),
    ("move 124 25.12 user", "fallback.no_slash", "/move 124 25.12 user"),
    ("help", "fallback.no_slash", "/help"),
    ("трек 124 RR457 51", "fallback.no_slash", "/track 124 RR457 51"),
    ("track124 RR457 51", "fallback.no_slash", "/track 124 RR457 51"),
    ("track\n124 RR457 51", "fallback.no_slash", "/track"),  # the first line is read
    # Glued to its first argument.
    ("/track124 RR457 51", "fallback.glued", "/track 124 RR457 51"),
    ("/move124 25.12 user", "fallback.glued", "/move 124 25.12 user"),
    ("/трек124 RR457 51", "fallback.glued", "/track 124 RR457 51"),
    # A known command that Telegram did not run: not at the start, or in Russian.
    ("@DbsTestBot /track 124 RR457 51", "fallback.did_you_mean", "/track 124 RR457 51"),
    ("/трек 124 RR457 51", "fallback.did_you_mean", "/track 124 RR457 51"),
    ("/помощь", "fallback.did_you_mean", "/help"),
    # The arguments alone: the command they fit.
    ("124 RR457 51", "fallback.missing_command", "/track 124 RR457 51"),
    ("124 25 декабря user", "fallback.missing_command", "/move 124 25 декабря user"),
    ("#124 завтра", "fallback.missing_command", "/move #124 завтра"),
    # Mentioning the bot is not part of the command.
    ("@DbsTestBot track 124 RR457 51", "fallback.no_slash", "/track 124 RR457 51"),
    ("@dbstestbot help", "fallback.no_slash", "/help"),
]

UNKNOWN = [
    ("/trak 124 RR457 51", "/trak", "/track 124 RR457 51"),
    ("/trakc 124", "/trakc", "/track 124"),
    ("/mvoe 124 25.12 user", "/mvoe", "/move 124 25.12 user"),
    ("/hlep", "/hlep", "/help"),
    ("/lang en", "/lang", "/language en"),
    ("/membres", "/membres", "/members"),
    ("/strat", "/strat", "/start"),
    ("/trak@DbsTestBot 124", "/trak", "/track 124"),
    ("/xyzzy", "/xyzzy", None),
    ("/st", "/st", None),
    ("/", "/", None),
]

PLAIN = ["hello", "спасибо!", "   ", "@DbsTestBot", "124", "RR457", "where is my order 124?"]


@pytest.mark.parametrize(("text", "key", "command"), SUGGESTED)
def test_a_command_is_rebuilt_from_what_was_typed(text: str, key: str, command: str) -> None:
    assert suggest(text, COMMANDS, BOT, TODAY) == InputError(key, {"command": command})


@pytest.mark.parametrize(("text", "typed", "command"), UNKNOWN)
def test_an_unknown_command_gets_the_closest_or_help(
    text: str, typed: str, command: str | None
) -> None:
    hint = suggest(text, COMMANDS, BOT, TODAY)
    if command is None:
        assert hint == InputError("fallback.unknown", {"typed": typed})
    else:
        assert hint == InputError("fallback.unknown_close", {"typed": typed, "command": command})


@pytest.mark.parametrize("text", PLAIN)
def test_plain_text_points_to_help(text: str) -> None:
    assert suggest(text, COMMANDS, BOT, TODAY) == InputError("fallback.plain")


def test_another_bots_command_is_not_answered() -> None:
    assert suggest("/trak@OtherBot 124", COMMANDS, BOT, TODAY) is None
    assert suggest("/start@OtherBot", COMMANDS, BOT, TODAY) is None


def test_a_key_is_never_echoed() -> None:
    for text in (f"connect 21000001 {API_KEY}", API_KEY, f"/conect 1 {API_KEY}"):
        hint = suggest(text, COMMANDS, BOT, TODAY)
        assert hint == InputError("fallback.secret")
        for lang in LANGS:
            assert "/connect" in t(lang, hint.key)


def test_echo_is_short_and_plain() -> None:
    hint = suggest("track 124 " + "X" * 500 + "\u202e", COMMANDS, BOT, TODAY)
    assert hint is not None
    assert len(hint.params["command"]) == 80
    assert "\u202e" not in hint.params["command"]


@pytest.mark.parametrize(
    ("a", "b", "edits"),
    [("track", "track", 0), ("trak", "track", 1), ("trakc", "track", 1), ("", "help", 4)],
)
def test_distance(a: str, b: str, edits: int) -> None:
    assert distance(a, b) == edits == distance(b, a)


def test_closest_takes_the_first_of_equals_and_refuses_far_names() -> None:
    assert closest("mov", ("move", "members")) == "move"
    assert closest("m", ("move",)) is None
    assert closest("disc", COMMANDS) == "disconnect"
    assert closest("x" * 40, COMMANDS) is None
    assert closest("track", ()) is None


def test_every_answer_is_one_short_line() -> None:
    hints = [suggest(text, COMMANDS, BOT, TODAY) for text, _, _ in SUGGESTED + UNKNOWN]
    hints += [suggest(text, COMMANDS, BOT, TODAY) for text in PLAIN]
    hints.append(suggest(API_KEY, COMMANDS, BOT, TODAY))
    for hint in hints:
        assert hint is not None
        for lang in LANGS:
            words = t(lang, hint.key, **hint.params)
            assert "\n" not in words and len(words) <= 200, words


# --- end to end --------------------------------------------------------------------------------


async def sent_to(bot: RunningBot, chat_id: int, since: int) -> list[str]:
    """Every text the bot sent to ``chat_id`` since ``since``, once the updates are handled."""
    for _ in range(100):
        if bot.telegram.pending_updates() == 0:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    return [
        str(c.params.get("text", ""))
        for c in bot.telegram.calls[since:]
        if c.method == "sendMessage" and c.chat_id == chat_id
    ]


async def test_plain_text_in_private_gets_one_line(bot: RunningBot) -> None:
    mark = bot.mark()
    answer = text_of(await private(bot, STRANGER, "hello"))
    assert answer == (
        "I understand commands only, e.g. /track 123456789 RR456 51. All commands: /help"
    )
    assert await sent_to(bot, STRANGER, mark) == [answer]
    russian = text_of(await private(bot, STRANGER, "привет", language_code="ru"))
    assert russian.startswith("Я понимаю только команды")


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("track 101 RR457 51", "Did you mean /track 101 RR457 51? A command starts with /."),
        ("/track101 RR457 51", "Did you mean /track 101 RR457 51? Put a space after the command."),
        ("/trak 101 RR457 51", "There is no command /trak. Did you mean /track 101 RR457 51?"),
        ("/frobnicate", "There is no command /frobnicate. All commands: /help"),
        ("101 RR457 51", "Did you mean /track 101 RR457 51? Start the message with the command."),
    ],
)
async def test_a_courier_is_shown_the_command_meant(
    bot: RunningBot, typed: str, expected: str
) -> None:
    mark = bot.mark()
    assert text_of(await private(bot, COURIER, typed)) == expected
    assert await sent_to(bot, COURIER, mark) == [expected]
    assert bot.market.requests_for("setOrderDeliveryTrackCode") == []


async def test_a_command_gets_its_own_answer_only(bot: RunningBot) -> None:
    mark = bot.mark()
    answer = text_of(await private(bot, COURIER, "/help"))
    assert answer.startswith("Commands:")
    assert await sent_to(bot, COURIER, mark) == [answer]


async def test_strangers_get_no_more_answers_than_their_limit(bot: RunningBot) -> None:
    for number in range(5):
        assert text_of(await private(bot, STRANGER, f"hello {number}")).startswith("I understand")
    mark = bot.mark()
    bot.telegram.send_private(STRANGER, "hello again")
    bot.telegram.send_private(STRANGER, "/help")  # commands share the limit
    assert await sent_to(bot, STRANGER, mark) == []
    # Members are never limited.
    for number in range(7):
        assert text_of(await private(bot, COURIER, f"hi {number}")).startswith("I understand")


async def test_in_a_group_silent_unless_addressed(bot: RunningBot) -> None:
    await bind_by_command(bot)
    mark = bot.mark()
    for text in ("hello", "track 101 RR457 51", "/frobnicate", "/trak@OtherBot 101", "101 RR4 51"):
        bot.telegram.send_group(GROUP, COURIER, text)
    bot.telegram.send_group(GROUP, STRANGER, "track 101 RR457 51")
    assert await sent_to(bot, GROUP, mark) == []

    addressed = text_of(await in_group(bot, COURIER, "@DbsTestBot track 101 RR457 51"))
    assert addressed == "Did you mean /track 101 RR457 51? A command starts with /."
    glued = text_of(await in_group(bot, MANAGER, "/trak@DbsTestBot 101 RR457 51"))
    assert glued == "There is no command /trak. Did you mean /track 101 RR457 51?"
    # Once a minute per person in a group.
    mark = bot.mark()
    bot.telegram.send_group(GROUP, COURIER, "@DbsTestBot help")
    assert await sent_to(bot, GROUP, mark) == []
    assert bot.market.requests_for("setOrderDeliveryTrackCode") == []


async def test_in_a_group_a_reply_to_the_bot_is_answered(bot: RunningBot) -> None:
    await bind_by_command(bot)
    bound = [c for c in bot.telegram.calls if c.method == "sendMessage" and c.chat_id == GROUP]
    bot_message = bound[-1].result["message_id"]
    mark = bot.mark()
    bot.telegram.send_group(GROUP, COURIER, "ok", reply_to=bot_message)
    answer = text_of(await bot.reply(GROUP, mark))
    assert answer.startswith("I understand commands only")
    assert await sent_to(bot, GROUP, mark) == [answer]
    # A reply to someone else's message is not addressed to the bot.
    other = bot.telegram.send_group(GROUP, OWNER, "today we ship 5 orders")
    mark = bot.mark()
    bot.telegram.send_group(GROUP, MANAGER, "ok", reply_to=other)
    assert await sent_to(bot, GROUP, mark) == []
