"""The worker's queue of due work: in memory, per shop, served round-robin.

Storage stays the truth (every operation is stored before it is queued here); this queue only
decides what runs next, without reading storage. Each shop (campaign) has its own heaps by
operation kind, ordered by due time; shops take turns, one operation at a time, so a shop with a
thousand queued operations delays another shop's single command by at most one Market round
trip. A shop never has more than ``parallel_limit`` operations in flight, and a hold (Market
said "wait until …" with a 420, or our hourly budget is spent) keeps the shop's operations of
that kind (or of every kind) waiting until it ends.

Pure: no asyncio, no I/O; the caller passes ``now``.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Job:
    """One stored operation waiting to run: enough to schedule it, nothing more."""

    op_id: int
    batch_id: str
    campaign_id: int
    kind: str
    user_id: int


@dataclass
class _Shop:
    # kind -> heap of (due at, tie-breaker, job)
    heaps: dict[str, list[tuple[datetime, int, Job]]] = field(default_factory=dict)
    in_flight: int = 0
    # kind (None: every kind) -> held until
    holds: dict[str | None, datetime] = field(default_factory=dict)

    def size(self) -> int:
        return sum(len(heap) for heap in self.heaps.values())

    def held_until(self, kind: str, now: datetime) -> datetime | None:
        return max(
            (at for key, at in self.holds.items() if key in (None, kind) and at > now),
            default=None,
        )

    def idle(self, now: datetime) -> bool:
        """Nothing queued, running or held: the shop can be forgotten."""
        self.holds = {key: at for key, at in self.holds.items() if at > now}
        return self.in_flight == 0 and not self.holds and self.size() == 0

    def next_ready(self, now: datetime) -> tuple[str, datetime] | None:
        """(kind, due) of the earliest job that may run now, if any."""
        best: tuple[str, datetime] | None = None
        for kind, heap in self.heaps.items():
            ready = heap and heap[0][0] <= now and self.held_until(kind, now) is None
            if ready and (best is None or heap[0][0] < best[1]):
                best = (kind, heap[0][0])
        return best

    def next_time(self, now: datetime) -> datetime | None:
        """When something of this shop may become ready (its slots aside)."""
        times = [
            max(heap[0][0], self.held_until(kind, now) or heap[0][0])
            for kind, heap in self.heaps.items()
            if heap
        ]
        return min(times, default=None)


class FairQueue:
    """Due operations per shop; ``pop`` gives the next one to run, shops taking turns."""

    def __init__(self, parallel_limit: int) -> None:
        self.parallel_limit = parallel_limit
        self._shops: dict[int, _Shop] = {}
        self._turns: deque[int] = deque()
        self._ticket = itertools.count()
        self._queued = 0
        self._running = 0

    def __len__(self) -> int:
        """Operations waiting (not running)."""
        return self._queued

    @property
    def running(self) -> int:
        return self._running

    def _shop(self, campaign_id: int) -> _Shop:
        shop = self._shops.get(campaign_id)
        if shop is None:
            shop = self._shops[campaign_id] = _Shop()
            self._turns.append(campaign_id)
        return shop

    def push(self, job: Job, due: datetime) -> None:
        """Queue ``job`` to run at ``due`` or later."""
        heap = self._shop(job.campaign_id).heaps.setdefault(job.kind, [])
        heapq.heappush(heap, (due, next(self._ticket), job))
        self._queued += 1

    def hold(self, campaign_id: int, until: datetime, kind: str | None = None) -> None:
        """Nothing of ``kind`` (None: any kind) runs for the shop before ``until``."""
        holds = self._shop(campaign_id).holds
        holds[kind] = max(until, holds.get(kind, until))

    def pop(self, now: datetime) -> Job | None:
        """The next job to run now (its slot taken), or None when nothing may run."""
        for _ in range(len(self._turns)):
            campaign_id = self._turns[0]
            self._turns.rotate(-1)
            shop = self._shops[campaign_id]
            if shop.idle(now):
                # Forget idle shops so that the turns stay as short as the shops with work.
                del self._shops[campaign_id]
                self._turns.pop()  # the shop just rotated to the end
                continue
            if shop.in_flight >= self.parallel_limit:
                continue
            ready = shop.next_ready(now)
            if ready is None:
                continue
            _, _, job = heapq.heappop(shop.heaps[ready[0]])
            shop.in_flight += 1
            self._queued -= 1
            self._running += 1
            return job
        return None

    def done(self, job: Job) -> None:
        """The job stopped running (finished, or pushed again for later); its slot is free."""
        self._shops[job.campaign_id].in_flight -= 1
        self._running -= 1

    def busy(self, campaign_id: int, now: datetime) -> bool:
        """Whether the shop has work running, or due and waiting for its turn."""
        shop = self._shops.get(campaign_id)
        if shop is None:
            return False
        return shop.in_flight > 0 or any(heap and heap[0][0] <= now for heap in shop.heaps.values())

    def next_time(self, now: datetime) -> datetime | None:
        """The earliest time a job of a shop with a free slot may become ready; None if none."""
        times = [
            at
            for shop in self._shops.values()
            if shop.in_flight < self.parallel_limit and (at := shop.next_time(now)) is not None
        ]
        return min(times, default=None)

    def waiting(self, now: datetime) -> tuple[int, int]:
        """(operations due or overdue, operations waiting for a later time or a hold)."""
        due = later = 0
        for shop in self._shops.values():
            for kind, heap in shop.heaps.items():
                held = shop.held_until(kind, now) is not None
                for at, _, _ in heap:
                    if at <= now and not held:
                        due += 1
                    else:
                        later += 1
        return due, later
