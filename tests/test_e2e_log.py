"""/members and /log end to end: who is who by name, and what finally became of each command.

Fake Telegram → the real bot → fake Market. The bot remembers the names members show in
Telegram (only when they change) and /members lists them with the ids; /log tells, in the
reader's language, whether each command was done, failed (and why, in plain words) or is
waiting for its next try, never the raw codes of the audit log.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

from tests.conftest import COURIER, MANAGER, OWNER, STRANGER, RunningBot
from tests.fakes.market import Fault
from tests.test_e2e_shops import private, query, text_of, wait_audit

SHOP = "flowers.example (21000001)"


async def wait_names(bot: RunningBot, count: int) -> None:
    deadline = time.monotonic() + 5
    while query(bot.settings, "SELECT COUNT(*) FROM people")[0][0] < count:
        assert time.monotonic() < deadline, f"fewer than {count} names were recorded"
        await asyncio.sleep(0.02)


def stored_names(bot: RunningBot) -> list[tuple[int, str, str | None, str]]:
    return query(
        bot.settings, "SELECT user_id, name, username, updated_at FROM people ORDER BY user_id"
    )


async def test_members_shows_names_with_ids(bot: RunningBot) -> None:
    await private(bot, COURIER, "/help", first_name="Kolya", last_name="Petrov", username="kolya")
    # Bidi overrides and zero-width characters never reach another person's screen.
    await private(bot, MANAGER, "/help", first_name="Ma\u202esha\u200b")
    await private(bot, STRANGER, "/help", first_name="Eve")
    await wait_names(bot, 2)

    answer = text_of(await private(bot, OWNER, "/members"))
    assert answer.splitlines() == [
        f"People of {SHOP}:",
        f"owner: {OWNER} (you)",  # never seen before this very command
        f"manager: {MANAGER} — Masha",
        f"courier: {COURIER} — Kolya Petrov (@kolya)",
    ]
    await wait_names(bot, 3)
    assert STRANGER not in [row[0] for row in stored_names(bot)]

    # A name is written again only when it changes.
    before = stored_names(bot)
    await private(bot, COURIER, "/help", first_name="Kolya", last_name="Petrov", username="kolya")
    await wait_audit(bot.settings, 5)
    assert stored_names(bot) == before
    await private(bot, COURIER, "/help", first_name="Nikolai", language_code="ru")
    await wait_audit(bot.settings, 6)
    answer = text_of(await private(bot, OWNER, "/members", language_code="ru"))
    assert answer.splitlines()[1:] == [
        f"владелец: {OWNER} (вы) — User",
        f"менеджер: {MANAGER} — Masha",
        f"курьер: {COURIER} — Nikolai",
    ]


async def test_log_tells_what_finally_happened_in_the_readers_language(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 101 AB1234 51")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 110 CD1234 51")  # the order is cancelled
    assert text_of(await bot.final(COURIER, mark)).startswith("❌")
    assert "does not allow /invite" in text_of(await private(bot, COURIER, "/invite courier"))
    await wait_audit(bot.settings, 3)  # the entries' order is the test's
    # Market is busy for the next ten minutes: the command waits for its next try.
    until = datetime.now(UTC) + timedelta(minutes=10)
    bot.market.fail_next(102, Fault.rate_limited(until=until))
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 102 EF1234 51")
    assert text_of(await bot.reply(COURIER, mark)).startswith("⏳")
    await wait_audit(bot.settings, 4)

    log = text_of(await private(bot, OWNER, "/log", language_code="ru"))
    lines = log.splitlines()
    assert lines[0] == f"Последние 4 действий в {SHOP}:"
    # Newest first.
    assert f"· {COURIER} · /track 102 EF1234 51 → ⏳ ещё не отправлено" in lines[1]
    assert re.search(r"следующая попытка в \d\d:\d\d$", lines[1]), lines[1]
    assert lines[2].endswith(f"· {COURIER} · /invite courier → отказано: роль не позволяет")
    assert "· /track 110 CD1234 51 → ❌ не выполнено: " in lines[3]
    assert "отмен" in lines[3].lower()
    assert lines[4].endswith(f"· {COURIER} · /track 101 AB1234 51 → ✅ выполнено")
    for raw in ("accepted", "denied", "role_too_low", "Market said", "Ответ Маркета"):
        assert raw not in log


async def test_log_in_english_tells_each_line_of_a_message(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 103 GH1234 51\n/track 999 KL1234 51")
    assert "1 of 2" in text_of(await bot.final(COURIER, mark))
    await wait_audit(bot.settings, 1)
    log = text_of(await private(bot, OWNER, "/log"))
    title, entry = log.splitlines()
    assert title == f"Latest 1 actions in {SHOP}:"
    assert f" · {COURIER} · /track 103 GH1234 51 → done 1 of 2; line 2: ❌ failed: " in entry
    assert "999" in entry and len(entry) < 300
    assert "accepted" not in log
