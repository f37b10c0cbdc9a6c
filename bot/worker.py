"""The one runner of Market writes: durable, retrying, within Market's limits.

Every accepted message is stored as a batch of operations *before* Market is called
(queued → running → done | retrying | failed). One loop picks due operations, never more than
the parallel limit per campaign at once, taking the longest-waiting operation of each campaign
first so that one shop's long queue does not hold up another's; transient failures (420, 5xx,
network, timeout, our own hourly budget) are retried with exponential backoff and jitter, never
before Market's ``X-RateLimit-Resource-Until``, until the operation's deadline; permanent ones
fail at once. A 420 or a spent budget also holds the campaign's other waiting operations (of the
same method, for the hourly limit) until that time instead of sending them into the same wall.
The person gets one answer per message through the ``Reporter``: the result itself when Market
answers within ``quick_answer`` seconds, otherwise a progress message that is edited into the
result. After a crash, ``start`` resumes interrupted operations and reports finished batches
whose answer was never sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlite_utils import Database

from bot.market.client import MarketClient
from bot.market.errors import HourlyBudgetExhausted, MarketError, MarketRateLimited
from bot.market.limits import utcnow
from bot.market.writes import kind_named
from storage import campaigns, operations
from storage.operations import TERMINAL, BatchRow, NewBatch, OperationRow
from storage.secrets import KeyBox

log = logging.getLogger(__name__)

# A final answer Telegram did not take is tried again this often within a run (for about 15
# minutes with the default first pause of 5 s), and then at every start.
FINAL_ANSWER_TRIES = 8
FINAL_ANSWER_RETRY_CAP = 300.0


class Reporter(Protocol):
    async def progress(self, batch: BatchRow, ops: list[OperationRow]) -> None:
        """Show (or update) the progress answer of a batch that is taking a while."""

    async def final(self, batch: BatchRow, ops: list[OperationRow]) -> None:
        """Send the final answer of a batch whose operations are all done or failed."""


class Worker:
    """Executes stored operations; implements ``handlers.context.OperationSubmitter``.

    Any operation kind of ``bot.market.writes`` runs the same way; an operation whose kind this
    version does not know (stored by a newer one, say) fails with a log line, never the loop.

    ``parallel_limit`` operations at most in flight per campaign; ``deadline`` after submission
    an operation stops being retried; ``retry_base``/``retry_cap`` seconds shape the backoff;
    ``quick_answer`` seconds without a result bring a progress note; ``report_retry`` seconds
    is the first pause before a final answer Telegram did not take is tried again.
    """

    def __init__(
        self,
        db: Database,
        market: MarketClient,
        keybox: KeyBox,
        reporter: Reporter,
        *,
        clock: Callable[[], datetime] = utcnow,
        parallel_limit: int = 4,
        deadline: timedelta = timedelta(hours=24),
        retry_base: float = 2.0,
        retry_cap: float = 600.0,
        quick_answer: float = 1.0,
        max_tasks: int = 64,
        report_retry: float = 5.0,
    ) -> None:
        self.db = db
        self.market = market
        self.keybox = keybox
        self.reporter = reporter
        self.clock = clock
        self.parallel_limit = parallel_limit
        self.deadline = deadline
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.quick_answer = quick_answer
        self.max_tasks = max_tasks
        self.report_retry = report_retry
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._in_flight: dict[int, int] = {}
        self._batch_locks: dict[str, asyncio.Lock] = {}
        # At most one timer per batch: its progress note, or another try of its final answer.
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._final_failures: dict[str, int] = {}
        # (campaign, kind or None for every kind) -> (not before, the reason as an error record).
        self._holds: dict[tuple[int, str | None], tuple[datetime, dict[str, Any]]] = {}

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume what a previous run left unfinished, then start the loop."""
        now = self.clock()
        resumed = operations.resume_interrupted(self.db, now)
        if resumed:
            log.info("resuming %d interrupted operations", resumed)
        for batch in operations.finished_unreported(self.db):
            await self._report_final(batch.id)
        for batch in operations.open_batches(self.db):
            # Resumed like new: the result itself when it comes quickly, else a progress note.
            self._schedule_progress(batch.id, self.quick_answer)
        self._loop_task = asyncio.create_task(self._loop(), name="worker-loop")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking work; let Market calls in flight finish within ``grace`` seconds.

        Whatever is still running then stays stored and resumes on the next start.
        """
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        pending = list(self._tasks.values())
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            for task in still:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        timers = list(self._timers.values())
        for timer in timers:
            timer.cancel()
        if timers:
            await asyncio.gather(*timers, return_exceptions=True)
        operations.resume_interrupted(self.db, self.clock())

    # --- submitting ---------------------------------------------------------------------------

    async def submit(self, batch: NewBatch) -> bool:
        """Store the batch (before anything is sent) and schedule it.

        False when this message was accepted before: nothing is stored or sent again.
        """
        now = self.clock()
        row, created = operations.create_batch(
            self.db, batch, now=now, deadline_at=now + self.deadline
        )
        if not created:
            log.info("batch %s was already accepted; ignoring the repeat", row.id)
            return False
        if not self._stopping:
            # While stopping the batch just stays stored; the next start runs and answers it.
            self._schedule_progress(row.id, self.quick_answer)
            self._wake.set()
        return True

    # --- the loop -----------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                timeout = self._fill()
            except Exception:
                # The database may be briefly locked or full; the loop must outlive that.
                log.exception("could not pick the next operations; trying again shortly")
                timeout = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _saturated(self) -> set[int]:
        return {c for c, n in self._in_flight.items() if n >= self.parallel_limit}

    def _fill(self) -> float | None:
        """Start due operations while slots are free.

        Returns how long the loop may sleep before something else becomes due; None when only a
        finishing operation (which wakes the loop) can free what is waiting.
        """
        now = self.clock()
        self._holds = {key: hold for key, hold in self._holds.items() if hold[0] > now}
        if len(self._tasks) < self.max_tasks:
            due = operations.due_operations(
                self.db,
                now,
                limit=self.max_tasks,
                exclude=tuple(self._tasks),
                exclude_campaigns=self._saturated(),
                per_campaign=self.parallel_limit,
            )
            for op in due:
                if len(self._tasks) >= self.max_tasks:
                    break
                if self._in_flight.get(op.campaign_id, 0) >= self.parallel_limit:
                    continue
                if self._postpone_if_held(op, now):
                    continue
                if not operations.mark_running(self.db, op.id, now):
                    continue  # no longer queued or retrying: nothing to run
                self._in_flight[op.campaign_id] = self._in_flight.get(op.campaign_id, 0) + 1
                self._tasks[op.id] = asyncio.create_task(self._run(op), name=f"op-{op.id}")
        if len(self._tasks) >= self.max_tasks:
            return None
        next_at = operations.next_due_at(self.db, exclude_campaigns=self._saturated())
        if next_at is None:
            return 60.0
        return max(0.0, min(60.0, (next_at - self.clock()).total_seconds()))

    def _postpone_if_held(self, op: OperationRow, now: datetime) -> bool:
        """Move the operation (and its waiting siblings) past a hold on its campaign, if any."""
        for kind in (None, op.kind):
            hold = self._holds.get((op.campaign_id, kind))
            if hold is not None and hold[0] > now:
                operations.postpone(
                    self.db,
                    now,
                    campaign_id=op.campaign_id,
                    until=hold[0],
                    error=hold[1],
                    kind=kind,
                )
                return True
        return False

    def _hold(self, op: OperationRow, exc: MarketError, record: dict[str, Any]) -> None:
        """After a 420 or a spent budget: nothing more of this kind for the campaign until then."""
        if isinstance(exc, HourlyBudgetExhausted):
            kind: str | None = op.kind
            until: datetime | None = exc.retry_at
        elif isinstance(exc, MarketRateLimited):
            # The hourly limit is per method; a parallel limit is the whole campaign's.
            kind = op.kind if exc.kind == "hourly" else None
            until = exc.retry_at
        else:
            return
        now = self.clock()
        if until is None or until <= now:
            return
        known = self._holds.get((op.campaign_id, kind))
        if known is None or known[0] < until:
            self._holds[(op.campaign_id, kind)] = (until, record)
        postponed = operations.postpone(
            self.db, now, campaign_id=op.campaign_id, until=until, error=record, kind=kind
        )
        if postponed:
            log.info(
                "campaign %s: %d waiting operations held until %s",
                op.campaign_id,
                postponed,
                until.isoformat(),
            )

    async def _run(self, op: OperationRow) -> None:
        try:
            await self._execute(op)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("operation %s failed unexpectedly", op.id)
            operations.mark_failed(self.db, op.id, self.clock(), {"type": "internal"})
        finally:
            self._tasks.pop(op.id, None)
            self._in_flight[op.campaign_id] = max(0, self._in_flight.get(op.campaign_id, 1) - 1)
            self._wake.set()
        await self._after(op)

    async def _execute(self, op: OperationRow) -> None:
        if op.error is not None and self.clock() >= op.deadline_at:
            # Waited (retried or held) past its deadline: give up without another attempt.
            log.info("operation %s gave up at its deadline", op.id)
            operations.mark_failed(self.db, op.id, self.clock(), {**op.error, "gave_up": True})
            return
        kind = kind_named(op.kind)
        if kind is None:
            if op.kind != "invalid":
                log.error("operation %s has the unknown kind %r; failing it", op.id, op.kind)
            operations.mark_failed(self.db, op.id, self.clock(), {"type": "invalid"})
            return
        try:
            payload = kind.payload(op.payload)
        except ValueError:
            log.exception("operation %s cannot be read; failing it", op.id)
            operations.mark_failed(self.db, op.id, self.clock(), {"type": "internal"})
            return
        api_key = campaigns.api_key(self.db, self.keybox, op.campaign_id)
        if api_key is None:
            operations.mark_failed(self.db, op.id, self.clock(), {"type": "no_campaign"})
            return
        try:
            await self.market.write(api_key, kind.call(op.campaign_id, payload))
        except MarketError as exc:
            self._failed_attempt(op, exc)
            return
        operations.mark_done(self.db, op.id, self.clock())

    def _failed_attempt(self, op: OperationRow, exc: MarketError) -> None:
        now = self.clock()
        record: dict[str, Any] = exc.to_record()
        if not exc.transient:
            log.info("operation %s failed for good: %s", op.id, exc)
            operations.mark_failed(self.db, op.id, now, record)
            return
        next_at = self._next_attempt(op.attempts + 1, exc, now)
        if next_at >= op.deadline_at:
            log.info("operation %s gave up at its deadline: %s", op.id, exc)
            record["gave_up"] = True
            operations.mark_failed(self.db, op.id, now, record)
            return
        record["retry_at"] = next_at.isoformat()
        log.info("operation %s will retry at %s: %s", op.id, next_at.isoformat(), exc)
        operations.mark_retrying(self.db, op.id, now, next_attempt_at=next_at, error=record)
        self._hold(op, exc, record)

    def _next_attempt(self, attempts: int, exc: MarketError, now: datetime) -> datetime:
        """Exponential backoff with jitter; never before the time Market or the budget named."""
        backoff = min(self.retry_cap, self.retry_base * 2 ** max(0, attempts - 1))
        delay = timedelta(seconds=backoff * random.uniform(0.5, 1.0))
        not_before: datetime | None = None
        if isinstance(exc, (MarketRateLimited, HourlyBudgetExhausted)):
            not_before = exc.retry_at
        if not_before is not None:
            # A little jitter after the named time so that waiting calls do not all fire at once.
            jitter = timedelta(seconds=random.uniform(0.0, min(1.0, self.retry_base)))
            return max(not_before + jitter, now + timedelta(milliseconds=50))
        return now + delay

    async def _after(self, op: OperationRow) -> None:
        """Report the batch when its last operation ended, or show that it is waiting."""
        ops = operations.batch_operations(self.db, op.batch_id)
        if all(o.status in TERMINAL for o in ops):
            await self._report_final(op.batch_id)
            return
        batch = operations.get_batch(self.db, op.batch_id)
        if batch is not None and batch.progress_message_id is not None:
            changed = next((o for o in ops if o.id == op.id), None)
            if changed is not None and changed.status == "retrying":
                await self._report_progress(op.batch_id)

    # --- answers ------------------------------------------------------------------------------

    def _lock(self, batch_id: str) -> asyncio.Lock:
        return self._batch_locks.setdefault(batch_id, asyncio.Lock())

    def _forget(self, batch_id: str) -> None:
        """Drop what was kept for a batch that has been answered."""
        self._batch_locks.pop(batch_id, None)
        self._final_failures.pop(batch_id, None)
        self._cancel_timer(batch_id)

    def _cancel_timer(self, batch_id: str) -> None:
        timer = self._timers.pop(batch_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    def _schedule(
        self, batch_id: str, delay: float, action: Callable[[str], Awaitable[None]]
    ) -> None:
        """Run ``action(batch_id)`` after ``delay`` seconds instead of what was scheduled."""

        async def later() -> None:
            await asyncio.sleep(delay)
            await action(batch_id)

        self._cancel_timer(batch_id)
        timer = asyncio.create_task(later(), name=f"answer-{batch_id}")
        self._timers[batch_id] = timer

        def done(task: asyncio.Task[None]) -> None:
            if self._timers.get(batch_id) is task:
                del self._timers[batch_id]

        timer.add_done_callback(done)

    def _schedule_progress(self, batch_id: str, delay: float) -> None:
        self._schedule(batch_id, delay, self._report_progress)

    async def _report_progress(self, batch_id: str) -> None:
        async with self._lock(batch_id):
            batch = operations.get_batch(self.db, batch_id)
            if batch is None or batch.reported:
                self._batch_locks.pop(batch_id, None)
                return
            ops = operations.batch_operations(self.db, batch_id)
            if all(o.status in TERMINAL for o in ops):
                return
            try:
                await self.reporter.progress(batch, ops)
            except Exception:
                log.exception("progress answer for %s failed", batch_id)

    async def _report_final(self, batch_id: str) -> None:
        async with self._lock(batch_id):
            batch = operations.get_batch(self.db, batch_id)
            if batch is None or batch.reported:
                return
            ops = operations.batch_operations(self.db, batch_id)
            try:
                await self.reporter.final(batch, ops)
            except Exception:
                log.exception("final answer for %s failed", batch_id)
                self._final_failed(batch_id)
                return
            operations.mark_reported(self.db, batch_id)
        self._forget(batch_id)

    def _final_failed(self, batch_id: str) -> None:
        """Try the final answer again later; it stays unreported, so every start tries too."""
        failures = self._final_failures.get(batch_id, 0) + 1
        if failures > FINAL_ANSWER_TRIES or self._stopping:
            self._final_failures.pop(batch_id, None)
            self._batch_locks.pop(batch_id, None)
            return
        self._final_failures[batch_id] = failures
        delay = min(FINAL_ANSWER_RETRY_CAP, self.report_retry * 2 ** (failures - 1))
        self._schedule(batch_id, delay, self._report_final)
