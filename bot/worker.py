"""The one runner of Market writes: durable, fair, retrying within Market's limits.

Every accepted message is stored as a batch of operations *before* anything is sent; the worker
then keeps the due work in memory (``bot.queue``: per shop, shops taking turns) and never reads
storage to decide what runs next. At most ``parallel_limit`` operations of one shop are in
flight at Market (the client's limiter), and ``READY_AHEAD`` more stand ready behind them.
Transient failures (420, 5xx, network, timeout, our own hourly budget) are retried with
exponential backoff and jitter, never before Market's ``X-RateLimit-Resource-Until``, until the
operation's deadline; permanent ones fail at once. A 420 or a spent budget holds the shop's
other operations (of the same kind, for an hourly limit) until that time.

An attempt that may have reached Market without an answer (a timeout, a broken connection, an
unreadable 2xx, a crash while it ran) is *uncertain*: before sending it again, and before
believing a refusal of the resend, the worker reads the order back and counts the write as done
when Market shows it applied, so a lost answer never becomes a false failure or a double write.
When an operation runs, its sender must still have a role in the shop.

The loop is supervised: a storage or programming error in one wake-up or one operation is
logged and retried later; the loop itself never ends while the bot runs. Storage writes after a
Market call are retried until they succeed, so a locked or full database delays an answer but
never loses it. The answers go through ``bot.answers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlite_utils import Database

from bot.answers import Answers, Reporter
from bot.market.client import MarketClient
from bot.market.errors import HourlyBudgetExhausted, MarketError, MarketRateLimited
from bot.market.limits import utcnow
from bot.market.writes import OperationKind, Payload, kind_named
from bot.queue import FairQueue, Job
from storage import campaigns, members, operations
from storage.operations import NewBatch, OperationRow
from storage.secrets import KeyBox

log = logging.getLogger(__name__)

HEALTH_EVERY = 300.0
# Operations of a shop claimed beyond its Market parallel limit, waiting for a place.
READY_AHEAD = 2


class _Ended(Enum):
    DONE = "done"
    FAILED = "failed"
    RETRY = "retry"


@dataclass(frozen=True)
class _Result:
    """How one attempt ended, to be written to storage."""

    ended: _Ended
    error: dict[str, Any] | None = None
    retry_at: datetime | None = None


class Worker:
    """Executes stored operations; implements ``handlers.context.OperationSubmitter``.

    Any operation kind of ``bot.market.writes`` runs the same way; an operation whose kind this
    version does not know (stored by a newer one, say) fails with a log line, never the loop.
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
        progress_after: float = 2.0,
        max_tasks: int = 64,
        report_retry: float = 5.0,
        health_every: float = HEALTH_EVERY,
    ) -> None:
        self.db = db
        self.market = market
        self.keybox = keybox
        self.clock = clock
        self.deadline = deadline
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.max_tasks = max_tasks
        self.health_every = health_every
        # Told the shop of every write that went through (the order feed looks again at once,
        # so that cards show a person's own change without waiting for the next sweep).
        self.on_written: Callable[[int], None] = lambda campaign_id: None
        self.answers = Answers(
            db, reporter, progress_after=progress_after, retry_first=report_retry
        )
        # Two more than Market's limit per shop are claimed and ready: the Market client holds
        # them until a place is free, so the next write starts the moment one ends.
        self._queue = FairQueue(parallel_limit + READY_AHEAD)
        self._open: dict[str, int] = {}  # batch -> operations not ended yet
        self._wake = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._oldest: dict[int, float] = {}  # op -> monotonic time it was queued first
        self._last_health = time.monotonic()

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load what a previous run left unfinished, then start the loop."""
        now = self.clock()
        resumed = operations.resume_interrupted(self.db, now)
        if resumed:
            log.info("resuming %d interrupted operations (checked at Market first)", resumed)
        for open_op in operations.open_operations(self.db):
            job = Job(
                open_op.id, open_op.batch_id, open_op.campaign_id, open_op.kind, open_op.user_id
            )
            self._enqueue(job, open_op.next_attempt_at)
        for batch in operations.finished_unreported(self.db):
            self.answers.finished(batch.id, backlog=True)  # behind today's answers
        self._loop_task = asyncio.create_task(self._loop(), name="worker-loop")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking work; let Market calls in flight finish within ``grace`` seconds.

        Whatever is still running then stays stored and resumes on the next start.
        """
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            await self._loop_task
        ends_at = time.monotonic() + grace
        running = list(self._tasks.values())
        if running:
            _, still = await asyncio.wait(running, timeout=grace)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        # The answers of what just finished go out in what is left of the grace.
        await self.answers.stop(grace=max(0.0, ends_at - time.monotonic()))
        try:
            operations.resume_interrupted(self.db, self.clock())
        except Exception:
            # The next start does the same; nothing is lost by leaving it to it.
            log.exception("could not mark interrupted operations at stop")

    def busy(self, campaign_id: int) -> bool:
        """Whether people's commands for the shop are running or due: the order feed waits."""
        return self._queue.busy(campaign_id, self.clock())

    def health(self) -> dict[str, Any]:
        """Queue figures for logs and /healthz: waiting, running, oldest age, answers due."""
        due, later = self._queue.waiting(self.clock())
        oldest = min(self._oldest.values(), default=None)
        return {
            "alive": self._loop_task is not None and not self._loop_task.done(),
            "due": due,
            "waiting": later,
            "running": self._queue.running,
            "oldest_seconds": round(time.monotonic() - oldest, 1) if oldest else 0.0,
            "answers_pending": self.answers.pending,
        }

    # --- submitting ---------------------------------------------------------------------------

    async def submit(self, batch: NewBatch) -> bool:
        """Store the batch (before anything is sent) and queue it.

        False when this message was accepted before: nothing is stored or sent again. Raises
        the storage error when it cannot be stored (the caller says so; nothing was sent).
        """
        now = self.clock()
        row, ops, created = operations.create_batch(
            self.db, batch, now=now, deadline_at=now + self.deadline
        )
        if not created:
            log.info("batch %s was already accepted; ignoring the repeat", row.id)
            return False
        if batch.revision is not None:
            # An edit: what its lines replace must not reach Market after them.
            replaced = [(op.kind, int(op.payload.get("order_id", 0))) for op in ops]
            superseded = operations.supersede(self.db, row, replaced, now)
            if superseded:
                log.info("batch %s supersedes %d waiting operations", row.id, superseded)
        if self._stopping:
            return True  # stored: the next start runs and answers it
        for op in ops:
            self._enqueue(Job(op.id, row.id, op.campaign_id, op.kind, batch.user_id), now)
        self._wake.set()
        return True

    def _enqueue(self, job: Job, due: datetime) -> None:
        self._queue.push(job, due)
        self._open[job.batch_id] = self._open.get(job.batch_id, 0) + 1
        self._oldest.setdefault(job.op_id, time.monotonic())

    # --- the loop -----------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                timeout = self._start_due()
                self._log_health()
            except Exception:
                log.exception("the worker could not start the next operations; trying again")
                timeout = 1.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _start_due(self) -> float | None:
        """Start due operations while slots are free; how long the loop may sleep."""
        now = self.clock()
        while len(self._tasks) < self.max_tasks:
            job = self._queue.pop(now)
            if job is None:
                break
            self._tasks[job.op_id] = asyncio.create_task(self._run(job), name=f"op-{job.op_id}")
        if len(self._tasks) >= self.max_tasks:
            return None  # a finishing operation wakes the loop
        next_at = self._queue.next_time(now)
        if next_at is None:
            return 60.0
        return max(0.0, min(60.0, (next_at - now).total_seconds()))

    def _log_health(self) -> None:
        if time.monotonic() - self._last_health < self.health_every or not self._oldest:
            return
        self._last_health = time.monotonic()
        figures = self.health()
        log.info(
            "queue: %d due, %d waiting, %d running, oldest %.0f s, %d answers to send",
            figures["due"],
            figures["waiting"],
            figures["running"],
            figures["oldest_seconds"],
            figures["answers_pending"],
        )

    async def _run(self, job: Job) -> None:
        result: _Result | None = None
        try:
            op = await self._persist(lambda: operations.claim(self.db, job.op_id, self.clock()))
            if op is not None:
                self.answers.started(job.batch_id)
                result = await self._attempt(job, op)
                await self._settle(op, result)
        except asyncio.CancelledError:
            raise
        except Exception:
            if self._stopping:
                # Storage refused while stopping: left running, the next start resumes it.
                log.exception("operation %s left for the next start", job.op_id)
                result = None
            else:
                log.exception("operation %s failed unexpectedly", job.op_id)
                result = _Result(_Ended.FAILED, {"type": "internal"})
                with contextlib.suppress(Exception):
                    operations.mark_failed(self.db, job.op_id, self.clock(), {"type": "internal"})
        finally:
            self._tasks.pop(job.op_id, None)
            self._queue.done(job)
            self._wake.set()
        await self._after(job, result)

    async def _after(self, job: Job, result: _Result | None) -> None:
        if result is not None and result.ended is _Ended.RETRY and not self._stopping:
            self._queue.push(job, result.retry_at or self.clock())
            await self.answers.waiting(job.batch_id)
            return
        self._oldest.pop(job.op_id, None)
        if result is not None and result.ended is _Ended.DONE:
            self.on_written(job.campaign_id)
        left = self._open.get(job.batch_id, 1) - 1
        if left > 0:
            self._open[job.batch_id] = left
            return
        self._open.pop(job.batch_id, None)
        # Also when it was not ours to run (superseded by an edit): the batch has ended.
        self.answers.finished(job.batch_id)
        if result is not None and (result.error or {}).get("status") in (401, 403):
            self.answers.key_refused(job.campaign_id, result.error or {})

    # --- one attempt --------------------------------------------------------------------------

    async def _attempt(self, job: Job, op: OperationRow) -> _Result:
        if op.error is not None and self.clock() >= op.deadline_at:
            log.info("operation %s gave up at its deadline", op.id)
            return _Result(_Ended.FAILED, {**op.error, "gave_up": True})
        kind = kind_named(op.kind)
        if kind is None:
            if op.kind != "invalid":
                log.error("operation %s has the unknown kind %r; failing it", op.id, op.kind)
            return _Result(_Ended.FAILED, {"type": "invalid"})
        try:
            payload = kind.payload(op.payload)
        except ValueError:
            log.exception("operation %s cannot be read; failing it", op.id)
            return _Result(_Ended.FAILED, {"type": "internal"})
        if not self._still_allowed(job, kind):
            log.info("operation %s: its sender no longer has access; not sent", op.id)
            return _Result(_Ended.FAILED, {"type": "access_revoked"})
        api_key = campaigns.api_key(self.db, self.keybox, op.campaign_id)
        if api_key is None:
            return _Result(_Ended.FAILED, {"type": "no_campaign"})
        uncertain = bool((op.error or {}).get("uncertain"))
        if uncertain and await self._applied(op, kind, payload, api_key):
            return _Result(_Ended.DONE)
        try:
            await self.market.write(api_key, kind.call(op.campaign_id, payload))
        except MarketError as exc:
            # Refused after an attempt that may have gone through ("the same date",
            # "already delivered"): the order says whether it is done.
            refused = not exc.transient and uncertain
            if refused and await self._applied(op, kind, payload, api_key):
                return _Result(_Ended.DONE)
            return self._failed_attempt(op, exc, uncertain)
        return _Result(_Ended.DONE)

    def _still_allowed(self, job: Job, kind: OperationKind[Any]) -> bool:
        member = members.get_member(self.db, job.campaign_id, job.user_id)
        return member is not None and members.role_at_least(
            member.role, members.as_role(kind.min_role)
        )

    async def _applied(
        self, op: OperationRow, kind: OperationKind[Any], payload: Payload, api_key: str
    ) -> bool:
        """Whether Market shows the write applied already; False when it cannot tell."""
        campaign = campaigns.get_campaign(self.db, op.campaign_id)
        if campaign is None or campaign.business_id is None:
            return False
        try:
            found = await self.market.get_business_orders(
                api_key, campaign.business_id, [payload.order_id]
            )
        except MarketError as exc:
            log.info("operation %s: could not check the order at Market: %s", op.id, exc)
            return False
        order = next((o for o in found if o.order_id == payload.order_id), None)
        applied = order is not None and kind.applied(order, payload)
        log.info("operation %s: checked at Market, %s", op.id, "applied" if applied else "not yet")
        return applied

    def _failed_attempt(self, op: OperationRow, exc: MarketError, uncertain: bool) -> _Result:
        now = self.clock()
        record: dict[str, Any] = exc.to_record()
        if uncertain or exc.uncertain:
            record["uncertain"] = True
        if not exc.transient:
            log.info("operation %s failed for good: %s", op.id, exc)
            return _Result(_Ended.FAILED, record)
        next_at = self._next_attempt(op.attempts, exc, now)
        if next_at >= op.deadline_at:
            log.info("operation %s gave up at its deadline: %s", op.id, exc)
            return _Result(_Ended.FAILED, {**record, "gave_up": True})
        record["retry_at"] = next_at.isoformat()
        log.info("operation %s will retry at %s: %s", op.id, next_at.isoformat(), exc)
        self._hold(op, exc, record)
        return _Result(_Ended.RETRY, record, next_at)

    def _next_attempt(self, attempts: int, exc: MarketError, now: datetime) -> datetime:
        """Exponential backoff with jitter; never before the time Market or the budget named."""
        backoff = min(self.retry_cap, self.retry_base * 2 ** max(0, attempts - 1))
        not_before: datetime | None = None
        if isinstance(exc, (MarketRateLimited, HourlyBudgetExhausted)):
            not_before = exc.retry_at
        if not_before is not None:
            # A little jitter after the named time so that waiting calls do not all fire at once.
            jitter = timedelta(seconds=random.uniform(0.0, min(1.0, self.retry_base)))
            return max(not_before + jitter, now + timedelta(milliseconds=50))
        return now + timedelta(seconds=backoff * random.uniform(0.5, 1.0))

    def _hold(self, op: OperationRow, exc: MarketError, record: dict[str, Any]) -> None:
        """After a 420 or a spent budget: nothing more of this kind for the shop until then."""
        if isinstance(exc, HourlyBudgetExhausted):
            kind: str | None = op.kind
        elif isinstance(exc, MarketRateLimited):
            # The hourly limit is per method; a parallel limit is the whole shop's.
            kind = op.kind if exc.kind == "hourly" else None
        else:
            return
        until = exc.retry_at
        now = self.clock()
        if until is None or until <= now:
            return
        self._queue.hold(op.campaign_id, until, kind)
        try:
            held = operations.postpone(
                self.db, now, campaign_id=op.campaign_id, until=until, error=record, kind=kind
            )
        except Exception:
            log.exception("could not record the hold of campaign %s", op.campaign_id)
            return
        log.info("campaign %s: %d waiting operations held until %s", op.campaign_id, held, until)

    # --- writing results ----------------------------------------------------------------------

    async def _settle(self, op: OperationRow, result: _Result) -> None:
        now = self.clock()
        if result.ended is _Ended.DONE:
            await self._persist(lambda: operations.mark_done(self.db, op.id, now))
        elif result.ended is _Ended.FAILED:
            error = result.error or {}
            await self._persist(lambda: operations.mark_failed(self.db, op.id, now, error))
        else:
            retry_at, error = result.retry_at or now, result.error or {}
            await self._persist(
                lambda: operations.mark_retrying(
                    self.db, op.id, now, next_attempt_at=retry_at, error=error
                )
            )

    async def _persist(self, write: Callable[[], Any]) -> Any:
        """Run a storage call until it succeeds (locked or full database); while stopping,
        give up and leave it to the next start."""
        delay = 0.1
        while True:
            try:
                return write()
            except Exception:
                if self._stopping:
                    raise
                log.exception("storage refused a write; trying again in %.1f s", delay)
            await asyncio.sleep(delay)
            delay = min(5.0, delay * 2)
