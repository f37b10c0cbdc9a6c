"""Never lose a command: `python -m bot` killed, stopped and restarted against the fakes.

Each test runs the real entry point as a subprocess (as in ``test_entry_point``) over one
database file, seeded before the first start, and checks that every accepted /track ends in
exactly one final answer whatever happens to the process in between.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlite_utils import Database

from bot.config import Settings
from storage import audit, operations
from storage.operations import OperationRow
from tests.conftest import API_KEY, CAMPAIGN, COURIER, OWNER, seed_shop
from tests.fakes.market import FakeMarket, Fault
from tests.fakes.telegram import Call, FakeTelegram, command_entities

ROOT = Path(__file__).resolve().parent.parent
TRACK = "setOrderDeliveryTrackCode"
COMMAND = "/track 101 RR456 51"


class Bot:
    """One database, the fakes, and the ability to start `python -m bot` on them again."""

    def __init__(self, tmp_path: Path, telegram: FakeTelegram, market: FakeMarket) -> None:
        self.tmp_path = tmp_path
        self.telegram = telegram
        self.market = market
        self.db_path = tmp_path / "bot.sqlite3"
        secret = Fernet.generate_key().decode()
        settings = Settings(
            telegram_bot_token=telegram.token,
            bot_db_path=self.db_path,
            bot_secret_key=secret,
            _env_file=None,  # type: ignore[call-arg]
        )
        seed_shop(settings, (OWNER, "owner"), (COURIER, "courier"))
        ours = ("TELEGRAM_", "MARKET_", "BOT_")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
        self.env.update(
            PYTHONPATH=str(ROOT),
            TELEGRAM_BOT_TOKEN=telegram.token,
            TELEGRAM_API_BASE_URL=telegram.base_url,
            MARKET_API_BASE_URL=market.base_url,
            BOT_DB_PATH=str(self.db_path),
            BOT_SECRET_KEY=secret,
            TELEGRAM_POLL_TIMEOUT="1",
            RETRY_BASE_SECONDS="0.2",
        )

    def start(self) -> subprocess.Popen[str]:
        """Start the bot and wait until it polls Telegram."""
        since = len(self.telegram.calls)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=self.tmp_path,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            self.telegram.wait_for(lambda c: c.method == "getUpdates", 20, since=since)
        except BaseException:
            proc.kill()
            proc.communicate(timeout=10)
            raise
        return proc

    @contextmanager
    def database(self) -> Iterator[Database]:
        """A read-only look at the database, also while the bot runs."""
        with closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as conn:
            yield Database(conn)

    def ops(self) -> list[OperationRow]:
        with self.database() as db:
            return [
                op
                for batch in db.execute("SELECT id FROM batches").fetchall()
                for op in operations.batch_operations(db, batch[0])
            ]

    def outcomes(self) -> list[str]:
        """How each /track ended in the handler, oldest first (the audit log)."""
        with self.database() as db:
            return [row.outcome for row in reversed(audit.recent(db, CAMPAIGN, 50))]

    def finals(self) -> list[Call]:
        """Every successful final answer (sent or edited in) to the courier."""
        return [c for c in self.telegram.calls if c.chat_id == COURIER and is_final(c)]

    def redeliver(self, message_id: int, text: str = COMMAND) -> None:
        """Telegram hands the bot the same message once more (its offset was not confirmed)."""
        self.telegram.inject_raw(
            {
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": COURIER, "type": "private", "first_name": "User"},
                    "from": {
                        "id": COURIER,
                        "is_bot": False,
                        "first_name": "User",
                        "language_code": "en",
                    },
                    "text": text,
                    "entities": command_entities(text),
                }
            }
        )


def is_final(call: Call) -> bool:
    return (
        call.ok
        and call.method in ("sendMessage", "editMessageText")
        and (call.text or "").startswith(("✅", "❌"))
    )


def wait(condition: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def terminate(proc: subprocess.Popen[str], timeout: float = 15) -> tuple[float, str]:
    """SIGTERM; returns how long the process took to exit and what it wrote to stderr."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=timeout)
    return time.monotonic() - started, stderr


def test_kill_9_while_retrying_then_the_restart_finishes_and_answers_once(
    tmp_path: Path,
) -> None:
    with FakeTelegram() as telegram, FakeMarket() as market:
        market.add_campaign(CAMPAIGN, API_KEY, domain="flowers.example", business_id=700)
        market.add_order(CAMPAIGN, 101)
        market.fail_next(101, *(Fault.server_error(500) for _ in range(4)))
        bot = Bot(tmp_path, telegram, market)

        first = bot.start()
        try:
            message_id = telegram.send_private(COURIER, COMMAND)
            # Market has refused twice and the operation waits for its next attempt.
            wait(lambda: len(market.requests_for(TRACK)) >= 2, 15, "two refusals")
            wait(lambda: [o.status for o in bot.ops()] == ["retrying"], 5, "retrying")
        finally:
            first.kill()
            first.communicate(timeout=10)
        assert first.returncode == -signal.SIGKILL
        assert market.order(CAMPAIGN, 101).track_codes == []
        assert bot.finals() == []

        second = bot.start()
        try:
            # Telegram redelivers the message the killed process may not have confirmed.
            bot.redeliver(message_id)
            wait(lambda: bot.finals(), 15, "the final answer")
            wait(lambda: "duplicate" in bot.outcomes(), 5, "the redelivery to be handled")
        finally:
            took, stderr = terminate(second)
        assert second.returncode == 0, stderr
        assert took < 5
        [final] = bot.finals()
        assert (final.text or "").startswith("✅"), final.text
        assert "101" in (final.text or "") and "RR456" in (final.text or "")
        [op] = bot.ops()
        assert op.status == "done"
        assert bot.outcomes() == ["accepted", "duplicate"]
        assert [r.status for r in market.requests_for(TRACK)] == [500, 500, 500, 500, 200]
        assert market.order(CAMPAIGN, 101).track_codes == [("RR456", 51)]
        assert telegram.token not in stderr
        assert "Traceback" not in stderr


def test_sigterm_lets_the_call_in_flight_finish_and_a_redelivery_is_not_run_again(
    tmp_path: Path,
) -> None:
    with FakeTelegram() as telegram, FakeMarket() as market:
        market.add_campaign(CAMPAIGN, API_KEY, domain="flowers.example", business_id=700)
        market.add_order(CAMPAIGN, 101)
        market.fail_next(101, Fault.slow(1.0))
        bot = Bot(tmp_path, telegram, market)

        first = bot.start()
        try:
            message_id = telegram.send_private(COURIER, COMMAND)
            wait(lambda: market.max_in_flight.get(CAMPAIGN), 10, "the call to Market")
        finally:
            took, stderr = terminate(first)
        # The call in flight was let finish (it takes 1 s), then the process left in good order.
        assert first.returncode == 0, stderr
        assert 0.5 < took < 4, took
        [op] = bot.ops()
        assert op.status == "done"
        assert op.attempts == 1
        [final] = bot.finals()
        assert (final.text or "").startswith("✅"), final.text
        assert [r.status for r in market.requests_for(TRACK)] == [200]

        second = bot.start()
        try:
            bot.redeliver(message_id)
            wait(lambda: "duplicate" in bot.outcomes(), 10, "the redelivery to be handled")
        finally:
            _, stderr = terminate(second)
        assert second.returncode == 0, stderr
        assert bot.outcomes() == ["accepted", "duplicate"]
        assert len(bot.ops()) == 1
        assert len(bot.finals()) == 1
        assert [r.status for r in market.requests_for(TRACK)] == [200]
        assert market.order(CAMPAIGN, 101).track_codes == [("RR456", 51)]


def test_kill_9_while_market_applies_a_move_is_checked_not_failed_after_restart(
    tmp_path: Path,
) -> None:
    with FakeTelegram() as telegram, FakeMarket() as market:
        market.add_campaign(CAMPAIGN, API_KEY, domain="flowers.example", business_id=700)
        market.add_order(CAMPAIGN, 104)
        # Market takes 1.5 s to apply the move; the bot is killed while it waits.
        market.fail_next(104, Fault.slow(1.5))
        bot = Bot(tmp_path, telegram, market)
        first = bot.start()
        try:
            telegram.send_private(COURIER, "/move 104 tomorrow user")
            wait(lambda: market.max_in_flight.get(CAMPAIGN), 10, "the move to reach Market")
        finally:
            first.kill()
            first.communicate(timeout=10)
        wait(lambda: market.requests_for("setOrderDeliveryDate"), 10, "Market to apply the move")
        assert market.order(CAMPAIGN, 104).delivery_date is not None

        second = bot.start()
        try:
            wait(lambda: bot.finals(), 15, "the final answer")
        finally:
            _, stderr = terminate(second)
        assert second.returncode == 0, stderr
        [final] = bot.finals()
        # Not "the order already has this date": the bot saw its own change and says done.
        assert (final.text or "").startswith("✅"), final.text
        assert [r.status for r in market.requests_for("setOrderDeliveryDate")] == [200]
        assert [o.status for o in bot.ops()] == ["done"]
