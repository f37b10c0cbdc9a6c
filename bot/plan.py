"""The morning plan: every day at each shop's time, its plan for the day goes out once.

Each shop has a time (``storage.feed``: "HH:MM" in the bot's time zone, "09:00" by default, or
"off"). Every ``every`` seconds the job looks at the shops whose time has come today and whose
plan has not gone out today, and hands each to the ``PlanSink`` (the words and the chats are
the handlers'). A plan is recorded as sent *before* it is posted, so that it never goes out
twice on one day, also across a restart; a post that fails is recorded as not sent again and
tried at the next look. A plan more than ``grace`` late (the bot was down all morning) waits
for the next day rather than arrive in the evening.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Protocol

from sqlite_utils import Database

from bot.background import BackgroundJob
from bot.market.limits import utcnow
from storage import feed
from storage.feed import FeedShop

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 30.0
GRACE = timedelta(hours=3)
_TIME = re.compile(r"([01]?[0-9]|2[0-3])[:.]([0-5][0-9])")


def plan_time(text: str) -> time | None:
    """A plan time as people type it ("8:30", "08.30"), or None when it is not one."""
    match = _TIME.fullmatch(text.strip())
    return time(int(match[1]), int(match[2])) if match else None


class PlanSink(Protocol):
    async def post_plan(self, campaign_id: int, day: date) -> None:
        """Post the shop's plan for ``day`` (its local date). Raising means "not posted"."""


def due(shop: FeedShop, now: datetime, grace: timedelta = GRACE) -> bool:
    """Whether the shop's plan for ``now``'s day (``now`` local) should go out now."""
    at = plan_time(shop.plan_at)
    if at is None:
        return False  # "off", or a time this version cannot read
    today = now.date()
    if shop.plan_sent_on == today.isoformat():
        return False
    start = datetime.combine(today, at, tzinfo=now.tzinfo)
    return start <= now < start + grace


class MorningPlan(BackgroundJob):
    """Posts each shop's plan once a day at its time; see the module docstring."""

    task_name = "morning-plan"

    def __init__(
        self,
        db: Database,
        sink: PlanSink,
        *,
        tz: tzinfo,
        clock: Callable[[], datetime] = utcnow,
        every: float = CHECK_EVERY_SECONDS,
        grace: timedelta = GRACE,
    ) -> None:
        self.db = db
        self.sink = sink
        self.tz = tz
        self.clock = clock
        self.every = every
        self.grace = grace

    async def tick(self) -> list[int]:
        """Post every plan due now; returns the shops whose plan went out."""
        now = self.clock().astimezone(self.tz)
        posted = []
        for shop in feed.shops(self.db):
            if not due(shop, now, self.grace):
                continue
            # Recorded first: a crash while posting loses one plan rather than sending two.
            feed.plan_sent(self.db, shop.campaign_id, now.date())
            try:
                await self.sink.post_plan(shop.campaign_id, now.date())
            except Exception:
                previous = date.fromisoformat(shop.plan_sent_on) if shop.plan_sent_on else None
                feed.plan_sent(self.db, shop.campaign_id, previous)
                log.exception("the plan of shop %s was not posted; trying again", shop.campaign_id)
                continue
            posted.append(shop.campaign_id)
        return posted

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # a busy database, say: look again next time
                log.exception("could not look for morning plans")
            await asyncio.sleep(self.every)
