"""The Telegram rate limiter: sliding windows, fair turns, results first, 429s, in-flight cap.

Unit tests drive ``TelegramLimiter.process_request`` with a recording callback in real time
and small windows. Window bounds are checked on the callback's own start times: the limiter
lets a call reuse a place only a period after the previous holder *ended*, so the bound holds
exactly however slow the machine is; only upper bounds on durations are timing-dependent and
are generous. The end-to-end tests run python-telegram-bot against the flood-limited fake
Telegram (30 a second for the bot, 20 a minute per group, 429 beyond).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import BadRequest, RetryAfter
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.telegram_limits import (
    Priority,
    SlidingWindow,
    TelegramLimiter,
    chat_key,
    counted,
    is_group,
    window_for_rate,
)
from tests.conftest import CAMPAIGN, running_bot, seed_shop
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import FakeTelegram

GROUP = -100777


@dataclass
class Call:
    endpoint: str
    chat_id: Any
    text: str
    start: float
    end: float = 0.0


@dataclass
class Telegram:
    """The callback the limiter calls: records each call; ``latency`` seconds per call;
    ``refuse`` maps a chat to the 429s (retry_after seconds) it answers first."""

    latency: float = 0.0
    calls: list[Call] = field(default_factory=list)
    refuse: dict[Any, list[float]] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0

    async def __call__(self, endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        call = Call(endpoint, data.get("chat_id"), str(data.get("text", "")), time.monotonic())
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        call.end = time.monotonic()
        refusals = self.refuse.get(data.get("chat_id"))
        if refusals:
            raise RetryAfter(timedelta(seconds=refusals.pop(0)))
        self.calls.append(call)
        return {"ok": True}

    def starts(self, chat_id: Any = None) -> list[float]:
        return sorted(c.start for c in self.calls if chat_id is None or c.chat_id == chat_id)

    def order(self) -> list[tuple[Any, str]]:
        return [(c.chat_id, c.text) for c in sorted(self.calls, key=lambda c: c.start)]


async def call(
    limiter: TelegramLimiter,
    telegram: Telegram,
    chat_id: Any,
    text: str = "✅ done",
    endpoint: str = "sendMessage",
    hint: int | None = None,
) -> Any:
    data = {"chat_id": chat_id, "text": text}
    return await limiter.process_request(telegram, (endpoint, data), {}, endpoint, data, hint)


def fits(starts: list[float], limit: int, period: float) -> bool:
    """No more than ``limit`` of ``starts`` in any window of ``period`` seconds."""
    pairs = zip(starts, starts[limit:], strict=False)
    return all(later - first >= period for first, later in pairs)


async def settle() -> None:
    """Let every task that can run, run (the limiter decides synchronously)."""
    for _ in range(5):
        await asyncio.sleep(0)


# --- pure parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("sendMessage", True),
        ("editMessageText", True),
        ("editMessageReplyMarkup", True),
        ("sendPhoto", True),
        ("copyMessage", True),
        ("forwardMessage", True),
        ("deleteMessage", False),
        ("getUpdates", None),
        ("getMe", None),
        ("setWebhook", None),
        ("deleteWebhook", None),
        ("answerCallbackQuery", None),
        ("getChatMember", None),
        ("sendChatAction", None),
        ("setMyCommands", None),
    ],
)
def test_which_calls_count(endpoint: str, expected: bool | None) -> None:
    assert counted(endpoint) is expected


def test_chats_and_rates() -> None:
    assert chat_key("-100123") == -100123
    assert chat_key("@shopchannel") == "@shopchannel"
    assert chat_key(None) is None
    assert is_group(-100123) and is_group("@shopchannel") and not is_group(5001)
    assert window_for_rate(30) == (30, 1.0)
    assert window_for_rate(0.5) == (1, 2.0)


def test_a_window_counts_a_place_until_a_period_after_the_call_ended() -> None:
    window = SlidingWindow(2, 1.0)
    assert window.free_at(0.0) == 0.0
    window.take()
    window.take()
    assert window.free_at(0.1) is None  # both in flight: only an end frees a place
    window.end(0.2)
    assert window.free_at(0.3) == pytest.approx(1.2)
    window.end(0.5)
    assert window.free_at(1.19) == pytest.approx(1.2)
    assert window.free_at(1.2) == 1.2  # a full period after the first end
    window.take()
    assert window.free_at(1.3) == pytest.approx(1.5)
    assert not window.idle(1.6)
    window.end(1.6)
    assert window.idle(2.7)


def test_a_window_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        SlidingWindow(0, 1.0)
    with pytest.raises(ValueError):
        TelegramLimiter(max_in_flight=0)


# --- windows ------------------------------------------------------------------------------


async def test_the_bot_window_is_never_exceeded_and_the_calls_keep_flowing() -> None:
    limiter = TelegramLimiter(bot=(5, 0.3), private=(100, 1.0))
    telegram = Telegram(latency=0.002)
    began = time.monotonic()
    await asyncio.gather(*(call(limiter, telegram, 5000 + i) for i in range(20)))
    took = time.monotonic() - began
    starts = telegram.starts()
    assert len(starts) == 20
    assert fits(starts, 5, 0.3)
    assert took >= 3 * 0.3  # 20 calls, 5 a window: three full windows at least
    assert took < 5.0
    assert limiter.in_flight == 0 and limiter.waiting == 0


async def test_a_group_gets_its_window_and_a_private_chat_a_burst_then_its_pace() -> None:
    limiter = TelegramLimiter(group=(3, 0.4), private=(2, 0.3))
    telegram = Telegram()
    await asyncio.gather(
        *(call(limiter, telegram, GROUP, f"g{i}") for i in range(7)),
        *(call(limiter, telegram, 5001, f"p{i}") for i in range(5)),
    )
    assert fits(telegram.starts(GROUP), 3, 0.4)
    assert fits(telegram.starts(5001), 2, 0.3)
    # Within a chat the calls keep their order.
    assert [text for chat, text in telegram.order() if chat == GROUP] == [f"g{i}" for i in range(7)]
    assert [text for chat, text in telegram.order() if chat == 5001] == [f"p{i}" for i in range(5)]


async def test_a_delete_counts_for_the_bot_but_not_for_the_chat() -> None:
    limiter = TelegramLimiter(bot=(100, 1.0), group=(1, 30.0))
    telegram = Telegram()
    await call(limiter, telegram, GROUP)
    # The group's one place is taken for 30 s; a delete there still goes at once.
    await asyncio.wait_for(call(limiter, telegram, GROUP, endpoint="deleteMessage"), 2.0)
    waiting = asyncio.create_task(call(limiter, telegram, GROUP, "second"))
    await asyncio.sleep(0.2)
    assert not waiting.done() and limiter.waiting == 1
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limiter.waiting == 0 and limiter.in_flight == 0


async def test_other_calls_are_never_held() -> None:
    limiter = TelegramLimiter(bot=(1, 30.0))
    telegram = Telegram()
    await call(limiter, telegram, 5001)
    blocked = asyncio.create_task(call(limiter, telegram, 5002))
    await settle()
    for endpoint in ("getMe", "answerCallbackQuery", "getChatMember", "setWebhook"):
        await asyncio.wait_for(call(limiter, telegram, 5003, endpoint=endpoint), 2.0)
    assert not blocked.done()
    blocked.cancel()
    await asyncio.gather(blocked, return_exceptions=True)


async def test_no_more_than_max_in_flight_calls_are_in_telegrams_hands() -> None:
    limiter = TelegramLimiter(bot=(1000, 1.0), max_in_flight=4)
    telegram = Telegram(latency=0.05)
    await asyncio.gather(*(call(limiter, telegram, 5000 + i) for i in range(24)))
    assert len(telegram.calls) == 24
    assert telegram.max_in_flight == 4


# --- fairness and priority ----------------------------------------------------------------


async def test_a_chats_backlog_does_not_hold_up_another_chats_message() -> None:
    limiter = TelegramLimiter(bot=(1000, 1.0), private=(1000, 1.0), max_in_flight=1)
    telegram = Telegram(latency=0.001)
    backlog = [asyncio.create_task(call(limiter, telegram, 5001, f"a{i}")) for i in range(20)]
    await settle()
    other = asyncio.create_task(call(limiter, telegram, 5002, "b"))
    await asyncio.gather(*backlog, other)
    order = [text for _, text in telegram.order()]
    assert order.index("b") <= 2  # right after the call in flight when it came


async def test_chats_take_turns_the_one_served_longest_ago_first() -> None:
    limiter = TelegramLimiter(bot=(1000, 1.0), private=(1000, 1.0), max_in_flight=1)
    telegram = Telegram(latency=0.001)
    tasks = [
        asyncio.create_task(call(limiter, telegram, chat, f"{chat}-{i}"))
        for i in range(3)
        for chat in (5001, 5002, 5003)
    ]
    await asyncio.gather(*tasks)
    chats = [chat for chat, _ in telegram.order()]
    assert chats == [5001, 5002, 5003] * 3


async def test_results_go_before_progress_notes_and_a_chat_keeps_its_order() -> None:
    limiter = TelegramLimiter(bot=(1000, 1.0), private=(1000, 1.0), max_in_flight=1)
    telegram = Telegram(latency=0.02)
    first = asyncio.create_task(call(limiter, telegram, 4999, "✅ first"))
    await settle()
    later = [
        call(limiter, telegram, 5001, "⏳ sending…"),
        call(limiter, telegram, 5002, "⏳ 1 of 3 done"),
        call(limiter, telegram, 5003, "✅ result"),
        # Marked: a text that is not a note, but may wait like one.
        call(limiter, telegram, 5004, "📋 card", hint=Priority.PROGRESS),
        # A result behind its own chat's progress note lifts the chat, keeping its order.
        call(limiter, telegram, 5002, "✅ all done"),
        call(limiter, telegram, 5005, "❌ failed", endpoint="editMessageText"),
    ]
    await asyncio.gather(first, *later)
    assert [text for _, text in telegram.order()] == [
        "✅ first",
        "✅ result",
        "⏳ 1 of 3 done",
        "❌ failed",
        "✅ all done",
        "⏳ sending…",
        "📋 card",
    ]


# --- 429s -------------------------------------------------------------------------------


async def test_a_groups_429_holds_that_group_only_and_the_call_is_retried() -> None:
    limiter = TelegramLimiter(bot=(1000, 1.0), private=(1000, 1.0))
    telegram = Telegram(refuse={GROUP: [0.5]})
    began = time.monotonic()
    group = asyncio.create_task(call(limiter, telegram, GROUP, "group"))
    await asyncio.sleep(0.05)
    others = await asyncio.wait_for(
        asyncio.gather(*(call(limiter, telegram, 5000 + i) for i in range(10))), 0.4
    )
    assert len(others) == 10  # not held by the group's 429
    await group
    [sent] = [c for c in telegram.calls if c.chat_id == GROUP]
    assert sent.start - began >= 0.5
    assert limiter.floods == 1


async def test_429s_in_two_private_chats_hold_the_whole_bot() -> None:
    limiter = TelegramLimiter(bot=(1000, 1.0), private=(1000, 1.0))
    telegram = Telegram(refuse={5001: [0.6], 5002: [0.6]})
    began = time.monotonic()
    refused = [
        asyncio.create_task(call(limiter, telegram, 5001)),
        asyncio.create_task(call(limiter, telegram, 5002)),
    ]
    await asyncio.sleep(0.05)
    await call(limiter, telegram, 5003)
    # Two chats refused at about the same time: the bot's limit; a third chat waits it out.
    [third] = [c for c in telegram.calls if c.chat_id == 5003]
    assert third.start - began >= 0.6
    await asyncio.gather(*refused)
    assert limiter.floods == 2


async def test_one_private_chats_429_holds_only_that_chat() -> None:
    limiter = TelegramLimiter(bot=(1000, 1.0), private=(1000, 1.0))
    telegram = Telegram(refuse={5001: [1.0]})
    refused = asyncio.create_task(call(limiter, telegram, 5001))
    await asyncio.sleep(0.05)
    await asyncio.wait_for(call(limiter, telegram, 5002), 0.5)
    await refused
    assert [c.chat_id for c in telegram.calls] == [5002, 5001]


async def test_a_call_refused_too_often_raises_its_retry_after() -> None:
    limiter = TelegramLimiter(bot=(1000, 1.0), private=(1000, 1.0), max_retries=2)
    telegram = Telegram(refuse={5001: [0.05, 0.05, 0.05, 0.05]})
    with pytest.raises(RetryAfter):
        await call(limiter, telegram, 5001)
    assert telegram.refuse[5001] == [0.05]  # the first try and two retries
    assert limiter.in_flight == 0 and limiter.waiting == 0


async def test_other_errors_pass_through_and_free_the_place() -> None:
    limiter = TelegramLimiter(bot=(1, 0.2))

    async def refuse(endpoint: str, data: dict[str, Any]) -> dict[str, Any]:
        raise BadRequest("Chat not found")

    data = {"chat_id": 5001, "text": "x"}
    with pytest.raises(BadRequest):
        await limiter.process_request(refuse, ("sendMessage", data), {}, "sendMessage", data, None)
    assert limiter.in_flight == 0
    telegram = Telegram()
    await asyncio.wait_for(call(limiter, telegram, 5002), 2.0)
    assert len(telegram.calls) == 1


async def test_a_cancelled_call_leaves_no_trace() -> None:
    limiter = TelegramLimiter(bot=(1, 0.3))
    telegram = Telegram()
    await call(limiter, telegram, 5001)
    waiting = [asyncio.create_task(call(limiter, telegram, 5002, f"w{i}")) for i in range(3)]
    await settle()
    assert limiter.waiting == 3
    waiting[1].cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    assert [text for _, text in telegram.order()][1:] == ["w0", "w2"]
    assert limiter.waiting == 0 and limiter.in_flight == 0


# --- against the flood-limited fake Telegram -----------------------------------------------


async def test_private_answers_and_a_group_burst_without_a_single_429() -> None:
    with FakeTelegram() as fake:
        limiter = TelegramLimiter()
        request = HTTPXRequest(connection_pool_size=32)
        bot = ExtBot(fake.token, base_url=fake.base_url, request=request, rate_limiter=limiter)
        async with bot:
            began = time.monotonic()
            private = [
                asyncio.create_task(bot.send_message(6000 + i % 30, f"✅ answer {i}"))
                for i in range(90)
            ]
            group = [
                asyncio.create_task(bot.send_message(GROUP, f"✅ group {i}")) for i in range(25)
            ]
            await asyncio.wait_for(asyncio.gather(*private, *group[:20]), 15.0)
            took = time.monotonic() - began
            await asyncio.sleep(0.5)
            # The group's five beyond 20 a minute wait for its window; nothing else waited.
            assert sum(task.done() for task in group) == 20
            for task in group[20:]:
                task.cancel()
            await asyncio.gather(*group[20:], return_exceptions=True)
        assert fake.flood_rejections == 0
        assert len(fake.sent_texts(GROUP)) == 20
        assert sum(len(fake.sent_texts(6000 + i)) for i in range(30)) == 90
        # 110 messages at 30 a second: about 4 s; far from a 60 s stall.
        assert 110 / 30 - 1 <= took < 12.0


async def test_the_bot_answers_a_burst_of_commands_without_a_429(
    settings: Any, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    couriers = [7000 + i for i in range(30)]
    seed_shop(settings, *((courier, "courier") for courier in couriers))
    for i in range(90):
        fake_market.add_order(CAMPAIGN, 900_000 + i)
    async with running_bot(settings, fake_telegram, fake_market) as bot:
        since = bot.mark()
        began = time.monotonic()
        for i in range(90):
            fake_telegram.send_private(couriers[i % 30], f"/track {900_000 + i} RR{i:04d} 51")

        answers: list[str] = []

        def answer(c: Any) -> bool:
            if c.method == "sendMessage" and c.ok and (c.text or "").startswith(("✅", "❌")):
                answers.append(c.text)
            return len(answers) == 90

        await fake_telegram.await_call(answer, 30.0, since=since)
        took = time.monotonic() - began
    assert len(answers) == 90 and all(text.startswith("✅") for text in answers)
    assert fake_telegram.flood_rejections == 0
    assert took < 30.0
