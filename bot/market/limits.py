"""Market's limits, kept on our side so that we rarely hear a 420.

* At most ``parallel_limit`` requests in flight per campaign (Market allows 4 for
  ``/campaigns/{id}/…`` paths). Extra calls wait for a free slot instead of failing.
* An hourly budget per (scope, method) of ``MarketLimits.limit_for(method)`` units: Market's own
  figure for the methods it limits lower (``HOURLY_LIMITS``), else ``hourly_limit`` (the
  ``MARKET_HOURLY_LIMIT`` setting, which also caps every method). The scope is the campaign for
  campaign paths and whatever the caller names otherwise (a business, a shop, a key). Every call
  takes one unit before it is sent; a 5xx answer gives it back (Market does not count those);
  ``X-RateLimit-Resource-Remaining`` and ``…-Until`` correct our count whenever Market sends
  them. When the budget is spent the call is not sent and the caller learns when it refills.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

WINDOW = timedelta(hours=1)

# Requests per hour of the methods Market limits below the general 10,000 (the spec's
# x-resource-limit-config of each method).
HOURLY_LIMITS: Mapping[str, int] = MappingProxyType(
    {
        "getCampaign": 5_000,
        "getDeliveryServices": 5_000,
        "getAuthTokenInfo": 100,
        "getOrderBuyerInfo": 3_000,
        "acceptOrderCancellation": 500,
    }
)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class HourlyBudget:
    """Units left in the current hour window for one method of one campaign."""

    limit: int
    remaining: int
    window_end: datetime | None = None

    def take(self, now: datetime) -> datetime | None:
        """Take one unit. Returns None when taken, else the time the budget refills."""
        if self.window_end is None or now >= self.window_end:
            self.window_end = now + WINDOW
            self.remaining = self.limit
        if self.remaining <= 0:
            return self.window_end
        self.remaining -= 1
        return None

    def give_back(self) -> None:
        self.remaining = min(self.limit, self.remaining + 1)

    def observe(self, remaining: int | None, until: datetime | None) -> None:
        """Correct the count with what Market says is left, and when its window ends."""
        if until is not None:
            self.window_end = until
        if remaining is not None:
            self.remaining = max(0, min(self.limit, remaining))

    def exhaust(self, until: datetime | None, now: datetime) -> None:
        self.remaining = 0
        self.window_end = until or (self.window_end if self.window_end else now + WINDOW)


@dataclass
class MarketLimits:
    """Parallel slots per campaign and hourly budgets per (scope, method).

    ``method_limits`` gives a method its own hourly limit (default ``HOURLY_LIMITS``); any
    other method gets ``hourly_limit``, and no method gets more than ``hourly_limit``.
    """

    parallel_limit: int = 4
    business_parallel_limit: int = 6
    hourly_limit: int = 10_000
    clock: Callable[[], datetime] = utcnow
    method_limits: Mapping[str, int] = field(default_factory=lambda: HOURLY_LIMITS)
    _slots: dict[tuple[str, int], asyncio.Semaphore] = field(default_factory=dict)
    _budgets: dict[tuple[str, str], HourlyBudget] = field(default_factory=dict)

    def limit_for(self, method: str) -> int:
        """Requests per hour allowed for ``method`` in one scope."""
        return min(self.method_limits.get(method, self.hourly_limit), self.hourly_limit)

    def budget(self, scope: str, method: str) -> HourlyBudget:
        key = (scope, method)
        budget = self._budgets.get(key)
        if budget is None:
            limit = self.limit_for(method)
            budget = HourlyBudget(limit=limit, remaining=limit)
            self._budgets[key] = budget
        return budget

    @asynccontextmanager
    async def slot(
        self, campaign_id: int | None, business_id: int | None = None
    ) -> AsyncIterator[None]:
        """Hold one of the campaign's parallel slots (Market allows 4 in flight per campaign),
        or, for a business path, one of the business's (6 for the order feed); no limit for
        other paths. Extra calls wait for a free slot."""
        if campaign_id is not None:
            key, limit = ("campaign", campaign_id), self.parallel_limit
        elif business_id is not None:
            key, limit = ("business", business_id), self.business_parallel_limit
        else:
            yield
            return
        slots = self._slots.get(key)
        if slots is None:
            slots = self._slots[key] = asyncio.Semaphore(limit)
        async with slots:
            yield
