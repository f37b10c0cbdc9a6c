"""When and how the worker's answers reach people: progress notes and final results.

A progress note appears only when a command is really waiting on Market: its operation has
been in flight longer than ``progress_after`` seconds, or it must wait for a retry or a limit;
a command merely queued behind others in a healthy burst gets none. The final answer goes out
once every operation of the message has ended, and is tried until Telegram takes it: a refusal
that can pass (flood limit, network) is tried again with backoff, for as long as the bot runs
and again after a restart; one that never will (the person blocked the bot, the chat is gone)
is recorded and dropped. Finals go before progress notes: with finals waiting, no new note is
sent. At most ``max_sending`` answers are in Telegram's hands at once; the next place goes to
the chat served longest ago, so one chat's backlog never holds up another chat's answer.

The words are the ``Reporter``'s (``handlers.reporting``); this module only decides when.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Coroutine
from enum import Enum
from typing import Any, Protocol

from sqlite_utils import Database

from storage import operations
from storage.operations import TERMINAL, BatchRow, OperationRow

log = logging.getLogger(__name__)


class Delivery(Enum):
    """What became of a final answer."""

    SENT = "sent"
    RETRY = "retry"  # Telegram did not take it now; it may later
    GONE = "gone"  # it can never be delivered (blocked, chat not found)


class Reporter(Protocol):
    async def progress(self, batch: BatchRow, ops: list[OperationRow]) -> None:
        """Show (or update) the progress note of a batch that is waiting on Market."""

    async def final(self, batch: BatchRow, ops: list[OperationRow]) -> Delivery:
        """Send the final answer of a batch whose operations have all ended."""

    async def key_refused(self, campaign_id: int, error: dict[str, Any]) -> None:
        """Market refused the shop's key (401/403) for a write: tell the shop's owners."""


class FairSlots:
    """At most ``size`` holders at once; waiters are let in chat by chat, the chat let in
    longest ago (or never) first, and in order within a chat: one chat's backlog never holds
    up another chat's answer."""

    def __init__(self, size: int) -> None:
        self.free = size
        self._waiting: dict[int, deque[asyncio.Future[None]]] = {}
        self._served: dict[int, int] = {}
        self._turns = itertools.count(1)

    def locked(self) -> bool:
        return self.free <= 0

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[None]:
        if self.free > 0 and not self._waiting:
            self.free -= 1
        else:
            turn = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(chat_id, deque()).append(turn)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()
                else:
                    self._forget(chat_id, turn)
                raise
        self._served[chat_id] = next(self._turns)
        try:
            yield
        finally:
            self._release()

    def _forget(self, chat_id: int, turn: asyncio.Future[None]) -> None:
        queue = self._waiting.get(chat_id)
        if queue is not None and turn in queue:
            queue.remove(turn)
            if not queue:
                del self._waiting[chat_id]

    def _release(self) -> None:
        if not self._waiting:
            self.free += 1
            if len(self._served) > 10_000:
                self._served.clear()
            return
        chat_id = min(self._waiting, key=lambda c: self._served.get(c, 0))
        queue = self._waiting[chat_id]
        turn = queue.popleft()
        if not queue:
            del self._waiting[chat_id]
        turn.set_result(None)


def _chat_of(batch_id: str) -> int:
    return int(batch_id.split(":", 1)[0])


class Answers:
    """Progress notes and final answers, per batch (one Telegram message of commands)."""

    def __init__(
        self,
        db: Database,
        reporter: Reporter,
        *,
        progress_after: float = 2.0,
        retry_first: float = 5.0,
        retry_cap: float = 300.0,
        max_sending: int = 8,
    ) -> None:
        self.db = db
        self.reporter = reporter
        self.progress_after = progress_after
        self.retry_first = retry_first
        self.retry_cap = retry_cap
        self._sending = FairSlots(max_sending)
        # Answers left over from an earlier run take at most two of the sending places, so a
        # backlog (people who blocked the bot, say) never holds up the answers of today.
        self._backlog = asyncio.Semaphore(2)
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._finals: dict[str, asyncio.Task[None]] = {}
        self._noted: set[str] = set()
        self._alerts: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def pending(self) -> int:
        """Final answers not delivered yet."""
        return len(self._finals)

    def started(self, batch_id: str) -> None:
        """An operation of the batch went to Market: note progress if it takes a while."""
        if batch_id in self._noted or batch_id in self._timers or self._stopping:
            return
        self._timers[batch_id] = self._spawn(self._note_later(batch_id), f"note-{batch_id}")

    async def waiting(self, batch_id: str) -> None:
        """An operation of the batch has to wait (a retry, a limit): say so now."""
        self._cancel_timer(batch_id)
        await self._note(batch_id)

    def key_refused(self, campaign_id: int, error: dict[str, Any]) -> None:
        """Tell the shop's owners that Market refused its key (the reporter decides how often)."""
        if not self._stopping:
            self._alerts.add(self._spawn(self._alert(campaign_id, error), f"key-{campaign_id}"))

    async def _alert(self, campaign_id: int, error: dict[str, Any]) -> None:
        try:
            await self.reporter.key_refused(campaign_id, error)
        except Exception:
            log.exception("could not tell the owners of %s about their key", campaign_id)

    def finished(self, batch_id: str, *, backlog: bool = False) -> None:
        """Every operation of the batch has ended: deliver its final answer (``backlog``: an
        answer an earlier run could not send, delivered behind today's)."""
        self._cancel_timer(batch_id)
        if batch_id not in self._finals and not self._stopping:
            coro = self._deliver_backlog(batch_id) if backlog else self._deliver(batch_id)
            self._finals[batch_id] = self._spawn(coro, f"final-{batch_id}")

    async def stop(self, grace: float = 0.0) -> None:
        """Stop: no new notes; finals being sent get ``grace`` seconds to go out. Those still
        undelivered stay unreported and go out after the next start."""
        timers = [*self._timers.values(), *self._alerts]
        for timer in timers:
            timer.cancel()
        finals = list(self._finals.values())
        if finals and grace > 0:
            await asyncio.wait(finals, timeout=grace)
        self._stopping = True
        for task in finals:
            task.cancel()
        await asyncio.gather(*timers, *finals, return_exceptions=True)

    # --- inside -------------------------------------------------------------------------------

    def _finals_waiting(self) -> bool:
        """Whether today's finals are queued for a sending place (results go first)."""
        return self._sending.locked()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._alerts.discard)
        return task

    def _cancel_timer(self, batch_id: str) -> None:
        timer = self._timers.pop(batch_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def _note_later(self, batch_id: str) -> None:
        try:
            await asyncio.sleep(self.progress_after)
            await self._note(batch_id)
        finally:
            if self._timers.get(batch_id) is asyncio.current_task():
                del self._timers[batch_id]

    async def _note(self, batch_id: str) -> None:
        if self._finals_waiting() or batch_id in self._finals or self._stopping:
            return  # results first: a note never waits in front of a final answer
        try:
            batch = operations.get_batch(self.db, batch_id)
            ops = operations.batch_operations(self.db, batch_id)
        except Exception:
            log.exception("progress of %s could not be read", batch_id)
            return
        if batch is None or batch.reported or all(o.status in TERMINAL for o in ops):
            return
        self._noted.add(batch_id)
        async with self._sending.slot(batch.chat_id):
            try:
                await self.reporter.progress(batch, ops)
            except Exception:
                log.exception("progress note for %s failed", batch_id)

    async def _deliver_backlog(self, batch_id: str) -> None:
        async with self._backlog:
            await self._deliver(batch_id)

    async def _deliver(self, batch_id: str) -> None:
        delay = self.retry_first
        try:
            while not self._stopping:
                if await self._try_final(batch_id) is not Delivery.RETRY:
                    break
                await asyncio.sleep(delay)
                delay = min(self.retry_cap, delay * 2)
            delay = 0.2
            # Sent: record it. Storage may refuse for a moment (locked, full); the answer is
            # not sent again for that, only the record is retried (a restart would resend).
            while not self._stopping and not self._recorded(batch_id):
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)
        finally:
            self._finals.pop(batch_id, None)
            self._noted.discard(batch_id)

    def _recorded(self, batch_id: str) -> bool:
        try:
            operations.mark_reported(self.db, batch_id)
        except Exception:
            log.exception("could not record the answer of %s as sent; trying again", batch_id)
            return False
        return True

    async def _try_final(self, batch_id: str) -> Delivery:
        # The rows are read once a sending place is ours: a waiting answer holds nothing.
        async with self._sending.slot(_chat_of(batch_id)):
            try:
                batch = operations.get_batch(self.db, batch_id)
                ops = operations.batch_operations(self.db, batch_id)
            except Exception:
                log.exception("final answer of %s could not be read; trying again", batch_id)
                return Delivery.RETRY
            if batch is None or batch.reported:
                return Delivery.GONE  # nothing (more) to send
            try:
                outcome = await self.reporter.final(batch, ops)
            except Exception:
                log.exception("final answer for %s failed; trying again", batch_id)
                return Delivery.RETRY
        if outcome is Delivery.RETRY:
            log.info("Telegram did not take the final answer of %s; trying again", batch_id)
            return outcome
        if outcome is Delivery.GONE:
            log.info("the final answer of %s can never be delivered; dropping it", batch_id)
        return outcome
