"""Sending places for answers (bot.answers.FairSlots): one chat's backlog never holds up
another chat's answer, and at most ``size`` answers are in Telegram's hands at once."""

from __future__ import annotations

import asyncio

from bot.answers import FairSlots


async def test_a_chat_not_served_yet_goes_before_a_busy_chats_backlog() -> None:
    slots = FairSlots(1)
    order: list[str] = []
    release = asyncio.Event()
    holding = asyncio.Event()

    async def send(chat_id: int, label: str, hold: bool = False) -> None:
        async with slots.slot(chat_id):
            order.append(label)
            if hold:
                holding.set()
                await release.wait()

    first = asyncio.create_task(send(1, "big-0", hold=True))
    await holding.wait()
    backlog = [asyncio.create_task(send(1, f"big-{i}")) for i in range(1, 6)]
    await asyncio.sleep(0)
    small = [asyncio.create_task(send(chat, f"small-{chat}")) for chat in (2, 3)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *backlog, *small)
    assert order[:3] == ["big-0", "small-2", "small-3"]
    assert order[3:] == [f"big-{i}" for i in range(1, 6)]  # in order within a chat


async def test_never_more_than_size_at_once_and_a_cancelled_waiter_frees_its_turn() -> None:
    slots = FairSlots(2)
    inside = 0
    most = 0
    done: list[int] = []

    async def send(chat_id: int) -> None:
        nonlocal inside, most
        async with slots.slot(chat_id):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1
            done.append(chat_id)

    tasks = [asyncio.create_task(send(chat % 5)) for chat in range(20)]
    await asyncio.sleep(0)
    tasks[10].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert most == 2
    assert len(done) == 19 and isinstance(results[10], asyncio.CancelledError)
    assert slots.free == 2 and not slots.locked()
