"""The order feed: every connected shop's DBS orders swept from Market, changes handed on.

Every ``interval`` seconds each shop is swept once with getBusinessOrders (its campaign, DBS,
every status an order passes through once the shop has it), from a durable per-shop cursor:
Market's update time of the newest order seen, read again with a small overlap because update
times have one-second precision (what was seen before is recognised and changes nothing). A
shop's first sweep reads its open orders. Shops are spread over the interval with jitter, at
most ``max_parallel`` sweeps run at once, and a shop is not swept while people's own commands
for it wait or run (``busy``): the feed never goes ahead of them. What changed is handed to the
``FeedSink`` (the order cards) and then saved, up to ``CHUNK_ORDERS`` at a time; the cursor
moves once all of it is saved, so a restart neither loses a change nor repeats one. On a
shop's first sweep of a new day, its open orders are handed on again, so those now due today
or late get their cards. ``poke`` sweeps a shop at once (Market's push notifications).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from sqlite_utils import Database

from bot.market.client import MarketClient
from bot.market.errors import MarketError
from bot.market.limits import utcnow
from bot.market.models import BusinessOrder, BusinessOrdersRequest, OrderDatesFilter
from bot.market.orders import FEED_STATUSES, OPEN, due_date
from storage import campaigns, feed
from storage.feed import FeedShop, SweptOrder
from storage.secrets import KeyBox

log = logging.getLogger(__name__)

OVERLAP = timedelta(seconds=5)
# With nothing new, the cursor still moves up to this far behind now: Market may show a change
# a little after its update time, and the window stays short.
IDLE_LAG = timedelta(seconds=60)
WINDOW = timedelta(days=30)
MAX_PAGES = 100
# A sweep hands on (and saves) a shop's changes this many at a time.
CHUNK_ORDERS = 1000
SHOPS_REFRESH = 30.0
# While Market pushes order events (within the last hour), sweep this many times less often.
PUSH_SLOWDOWN = 5
PUSH_MEMORY = 3600.0


@dataclass(frozen=True)
class OrderChange:
    """An order as Market shows it now, and as the feed saw it last (None: never)."""

    order: BusinessOrder
    before: BusinessOrder | None
    taken_by: int | None = None


class SinkDeferred(Exception):
    """The sink showed what it could and keeps the rest for later (a chat's message budget):
    the same changes are handed on again at the next sweep."""


class FeedSink(Protocol):
    async def orders_changed(self, campaign_id: int, changes: Sequence[OrderChange]) -> None:
        """Show the changes (cards, digests). Raising leaves them to be handed on again."""


class OrderFeed:
    """Sweeps every connected shop's orders; see the module docstring."""

    def __init__(
        self,
        db: Database,
        market: MarketClient,
        keybox: KeyBox,
        sink: FeedSink,
        *,
        interval: float,
        tz: tzinfo,
        busy: Callable[[int], bool] = lambda campaign_id: False,
        clock: Callable[[], datetime] = utcnow,
        max_parallel: int = 8,
        chunk_orders: int = CHUNK_ORDERS,
    ) -> None:
        self.db = db
        self.chunk_orders = chunk_orders
        self.market = market
        self.keybox = keybox
        self.sink = sink
        self.interval = interval
        self.tz = tz
        self.busy = busy
        self.clock = clock
        self._gate = asyncio.Semaphore(max_parallel)
        self._due: dict[int, float] = {}  # shop -> monotonic time of its next sweep
        self._running: dict[int, asyncio.Task[None]] = {}
        self._days: dict[int, date] = {}  # shop -> the local day of its last sweep
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self.requests = 0  # Market requests made, for benchmarks and metrics
        self._last_push = float("-inf")

    async def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name="order-feed")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        running = list(self._running.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def poke(self, campaign_id: int) -> None:
        """Sweep the shop as soon as it is not busy."""
        if campaign_id in self._due or campaign_id in self._running:
            self._due[campaign_id] = time.monotonic()
            self._wake.set()

    def pushed(self, campaign_id: int) -> None:
        """Market pushed an order event: sweep the shop now. While pushes come, polling is only
        the safety net and runs ``PUSH_SLOWDOWN`` times less often."""
        self._last_push = time.monotonic()
        self.poke(campaign_id)

    def _interval(self) -> float:
        pushing = time.monotonic() - self._last_push < PUSH_MEMORY
        return self.interval * PUSH_SLOWDOWN if pushing else self.interval

    # --- scheduling ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        refreshed = 0.0
        while not self._stopping:
            self._wake.clear()
            try:
                now = time.monotonic()
                if now - refreshed >= SHOPS_REFRESH:
                    self._refresh(now)
                    refreshed = now
                self._start_due(now)
            except Exception:
                log.exception("the order feed could not schedule its sweeps; trying again")
            timeout = max(0.05, min(SHOPS_REFRESH, self._next_in()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _refresh(self, now: float) -> None:
        """Pick up shops connected since (first sweep somewhere in the interval) and forget
        the disconnected ones."""
        known = {s.campaign_id for s in feed.shops(self.db)}
        for campaign_id in known - self._due.keys():
            self._due[campaign_id] = now + random.uniform(0, self.interval)
        for campaign_id in self._due.keys() - known:
            del self._due[campaign_id]

    def _start_due(self, now: float) -> None:
        for campaign_id, due in list(self._due.items()):
            if due > now or campaign_id in self._running:
                continue
            if self.busy(campaign_id):
                self._due[campaign_id] = now + 1.0  # people's commands first
                continue
            self._due[campaign_id] = now + self._interval()
            task = asyncio.create_task(self._guarded(campaign_id), name=f"sweep-{campaign_id}")
            self._running[campaign_id] = task

    def _next_in(self) -> float:
        now = time.monotonic()
        waiting = [due for cid, due in self._due.items() if cid not in self._running]
        return min(waiting, default=now + SHOPS_REFRESH) - now

    async def _guarded(self, campaign_id: int) -> None:
        try:
            async with self._gate:
                await self.sweep(campaign_id)
        except MarketError as exc:
            log.info("sweep of shop %s failed: %s; trying again later", campaign_id, exc)
        except SinkDeferred as exc:
            log.info("sweep of shop %s: %s; the rest at the next sweep", campaign_id, exc)
        except Exception:
            log.exception("sweep of shop %s failed; trying again later", campaign_id)
        finally:
            self._running.pop(campaign_id, None)
            self._wake.set()

    # --- one sweep ----------------------------------------------------------------------------

    async def sweep(self, campaign_id: int) -> int:
        """Sweep one shop now; returns how many orders changed. Raises MarketError."""
        shop = feed.shop(self.db, campaign_id)
        api_key = campaigns.api_key(self.db, self.keybox, campaign_id)
        if shop is None or shop.business_id is None or api_key is None:
            return 0
        started = self.clock()
        # A few pages at a time, so that memory does not grow with what changed (or, on a
        # shop's first sweep, with its open orders: beyond a chunk, it is introduced in parts).
        chunk = self.chunk_orders
        changed: set[int] = set()
        newest: datetime | None = None
        orders: list[BusinessOrder] = []
        async for page in self._pages(shop, api_key, started):
            orders += page
            dates = [d for d in (newest, *(o.update_date for o in page)) if d is not None]
            newest = max(dates, default=None)
            if len(orders) >= chunk:
                changed |= await self._hand_on(campaign_id, orders, started)
                orders = []
        if orders:
            changed |= await self._hand_on(campaign_id, orders, started)
        again = self._new_day(shop, started, changed)
        if again:
            await self.sink.orders_changed(campaign_id, again)
        cursor = max(c for c in (shop.cursor, newest, started - IDLE_LAG) if c is not None)
        feed.save_sweep(self.db, campaign_id, [], cursor=cursor, now=started)
        return len(changed) + len(again)

    async def _hand_on(
        self, campaign_id: int, orders: Sequence[BusinessOrder], now: datetime
    ) -> set[int]:
        """Hand on what changed among ``orders`` and save them; returns the changed ids. The
        cursor moves only once the whole sweep is saved: a sweep cut short is read again, and
        what it saved already is recognised and changes nothing."""
        seen = feed.seen_orders(self.db, campaign_id, (o.order_id for o in orders))
        changes = []
        swept = []
        for order in orders:
            before = seen.get(order.order_id)
            snapshot = order.model_dump(mode="json")
            if before is None or before.snapshot != snapshot:
                old = BusinessOrder.model_validate(before.snapshot) if before else None
                changes.append(OrderChange(order, old, before.taken_by if before else None))
                swept.append(_swept(order, snapshot))
        del seen
        if changes:
            await self.sink.orders_changed(campaign_id, changes)
        feed.save_sweep(self.db, campaign_id, swept, cursor=None, now=now)
        return {c.order.order_id for c in changes}

    async def _pages(
        self, shop: FeedShop, api_key: str, now: datetime
    ) -> AsyncIterator[list[BusinessOrder]]:
        if shop.cursor is None:
            # The first sweep: the orders open now (Market's default: created in 30 days).
            query = BusinessOrdersRequest(
                campaign_ids=[shop.campaign_id], program_types=["DBS"], statuses=list(OPEN)
            )
        else:
            since = max(shop.cursor - OVERLAP, now - WINDOW + timedelta(minutes=1))
            query = BusinessOrdersRequest(
                campaign_ids=[shop.campaign_id],
                program_types=["DBS"],
                statuses=list(FEED_STATUSES),
                dates=OrderDatesFilter(update_date_from=since),
            )
        token: str | None = None
        for _ in range(MAX_PAGES):
            assert shop.business_id is not None
            page, token = await self.market.business_orders(
                api_key, shop.business_id, query, page_token=token
            )
            self.requests += 1
            yield page
            if not token:
                break

    def _new_day(self, shop: FeedShop, now: datetime, changed: set[int]) -> list[OrderChange]:
        """On the shop's first sweep of a local day: its open orders, to re-check what is due."""
        today = now.astimezone(self.tz).date()
        last = self._days.get(shop.campaign_id)
        self._days[shop.campaign_id] = today
        if last is None or last == today:
            return []
        stored = feed.open_orders(self.db, shop.campaign_id, sorted(OPEN))
        return [
            OrderChange(order, order, row.taken_by)
            for row in stored
            if row.order_id not in changed
            for order in (BusinessOrder.model_validate(row.snapshot),)
        ]


def _swept(order: BusinessOrder, snapshot: dict[str, Any]) -> SweptOrder:
    return SweptOrder(order.order_id, order.status, due_date(order), order.update_date, snapshot)
