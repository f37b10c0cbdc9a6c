"""The janitor: forgets old history on a timer, off the hot path.

Once shortly after start and then every hour it removes what ``RETENTION_DAYS`` says is too
old: audit entries, finished batches with their operations (``storage.retention``), and the
questions whose buttons nobody pressed (they expire after two days, or sooner when the
retention is shorter). It deletes in small chunks and yields to the event loop between them,
so commands never wait on a long delete; a failed sweep is logged and tried again next time.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlite_utils import Database

from bot.background import BackgroundJob
from storage.retention import Pruned, prune, prune_records

log = logging.getLogger(__name__)

# A question's buttons are answered "expired" after this long; its row can go then.
QUESTIONS_EXPIRE_AFTER = timedelta(days=2)
SWEEP_INTERVAL_SECONDS = 3600.0
# Long enough for the bot to start polling and resume its queue first.
FIRST_SWEEP_AFTER_SECONDS = 1.0
CHUNK = 500


class Janitor(BackgroundJob):
    """Prunes old history every ``interval`` seconds while started."""

    task_name = "janitor"

    def __init__(
        self,
        db: Database,
        *,
        retention: timedelta,
        clock: Callable[[], datetime],
        interval: float = SWEEP_INTERVAL_SECONDS,
        first_after: float = FIRST_SWEEP_AFTER_SECONDS,
    ) -> None:
        self.db = db
        self.retention = retention
        self.clock = clock
        self.interval = interval
        self.first_after = first_after

    async def sweep(self) -> Pruned:
        """Prune everything past its cut-off now, chunk by chunk; return the totals."""
        now = self.clock()
        before = now - self.retention
        questions_before = max(before, now - QUESTIONS_EXPIRE_AFTER)
        total = Pruned()
        while True:
            pruned = prune(self.db, before=before, questions_before=questions_before, limit=CHUNK)
            total = Pruned(
                audit=total.audit + pruned.audit,
                batches=total.batches + pruned.batches,
                operations=total.operations + pruned.operations,
                questions=total.questions + pruned.questions,
            )
            if pruned.total == 0:
                break
            await asyncio.sleep(0)  # let commands and the worker in between chunks
        leftovers = prune_records(self.db, before=before, now=now)
        if leftovers:
            log.info("pruned %d closed orders, cards, digests, invites and names", leftovers)
        if total.total:
            log.info(
                "pruned history older than %s days: %d audit entries, %d batches "
                "(%d operations), %d expired questions",
                self.retention.days,
                total.audit,
                total.batches,
                total.operations,
                total.questions,
            )
        return total

    async def _run(self) -> None:
        delay = self.first_after
        while True:
            await asyncio.sleep(delay)
            delay = self.interval
            try:
                await self.sweep()
            except sqlite3.Error as exc:  # a busy or full database: try again next time
                log.warning("could not prune old history: %s", exc)
