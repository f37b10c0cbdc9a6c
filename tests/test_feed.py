"""The order feed on its own (bot.feed.OrderFeed) against the fake Market: cursors, paging,
changes made elsewhere, restarts, a sink that fails, a busy shop, a new day, Market's limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from sqlite_utils import Database

from bot.feed import OrderChange, OrderFeed
from bot.market.client import MarketClient
from storage import campaigns, feed
from storage.db import open_memory_database
from storage.secrets import KeyBox
from tests.conftest import API_KEY, CAMPAIGN, OTHER_CAMPAIGN, OTHER_KEY, OWNER
from tests.fakes.market import FakeMarket
from tests.openapi import validate_request

MOSCOW = ZoneInfo("Europe/Moscow")
READ = "getBusinessOrders"


@dataclass
class Sink:
    """A ``FeedSink`` that keeps what it was handed; ``fail`` makes the next call raise."""

    calls: list[tuple[int, list[OrderChange]]] = field(default_factory=list)
    fail: bool = False

    async def orders_changed(self, campaign_id: int, changes: Sequence[OrderChange]) -> None:
        if self.fail:
            self.fail = False
            raise RuntimeError("the chat refused")
        self.calls.append((campaign_id, list(changes)))

    def ids(self, index: int = -1) -> list[int]:
        return sorted(c.order.order_id for c in self.calls[index][1])


def connect(db: Database, keybox: KeyBox, campaign_id: int, api_key: str, business: int) -> None:
    campaigns.save_campaign(
        db,
        campaign_id=campaign_id,
        domain=f"{campaign_id}.example",
        business_id=business,
        business_name="Shop",
        placement_type="DBS",
        api_key_cipher=keybox.encrypt(api_key),
        connected_by=OWNER,
        now=datetime.now(UTC),
    )


@asynccontextmanager
async def feeder(
    market: FakeMarket, db: Database | None = None, **options: object
) -> AsyncIterator[tuple[OrderFeed, Sink, Database]]:
    db = db if db is not None else open_memory_database()
    keybox = KeyBox(Fernet.generate_key())
    connect(db, keybox, CAMPAIGN, API_KEY, 700)
    sink = Sink()
    async with MarketClient(market.base_url) as client:
        orders = OrderFeed(db, client, keybox, sink, interval=3600, tz=MOSCOW, **options)  # type: ignore[arg-type]
        yield orders, sink, db


@pytest.fixture
def market() -> FakeMarket:
    with FakeMarket() as fake:
        fake.add_campaign(CAMPAIGN, API_KEY, domain="flowers.example", business_id=700)
        fake.add_campaign(OTHER_CAMPAIGN, OTHER_KEY, domain="books.example", business_id=701)
        yield fake


async def test_the_first_sweep_hands_on_the_open_orders_and_saves_a_cursor(
    market: FakeMarket,
) -> None:
    market.create_order(CAMPAIGN, 1)
    market.create_order(CAMPAIGN, 2, status="DELIVERY", substatus="DELIVERY_SERVICE_RECEIVED")
    market.create_order(CAMPAIGN, 3, status="DELIVERED", substatus="DELIVERY_SERVICE_DELIVERED")
    market.create_order(OTHER_CAMPAIGN, 4)
    async with feeder(market) as (orders, sink, db):
        assert await orders.sweep(CAMPAIGN) == 2
    assert sink.ids() == [1, 2]
    assert all(c.before is None for c in sink.calls[0][1])
    shop = feed.shop(db, CAMPAIGN)
    assert shop is not None and shop.cursor is not None
    assert set(feed.seen_orders(db, CAMPAIGN, [1, 2, 3])) == {1, 2}
    [request] = market.requests_for(READ)
    validate_request(request.method, request.path, request.body)
    assert request.body is not None
    assert request.body["campaignIds"] == [CAMPAIGN] and request.body["programTypes"] == ["DBS"]


async def test_an_idle_sweep_is_one_request_and_hands_on_nothing(market: FakeMarket) -> None:
    market.create_order(CAMPAIGN, 1)
    async with feeder(market) as (orders, sink, _):
        await orders.sweep(CAMPAIGN)
        market.reset_records()
        assert await orders.sweep(CAMPAIGN) == 0
    assert len(sink.calls) == 1
    [request] = market.requests_for(READ)
    validate_request(request.method, request.path, request.body)
    assert request.body is not None and "updateDateFrom" in request.body["dates"]
    assert set(request.body["statuses"]) >= {"PROCESSING", "DELIVERED", "CANCELLED"}


async def test_changes_made_elsewhere_arrive_even_twice_in_one_second(market: FakeMarket) -> None:
    market.create_order(CAMPAIGN, 1)
    market.create_order(CAMPAIGN, 2)
    async with feeder(market) as (orders, sink, _):
        await orders.sweep(CAMPAIGN)
        market.change_order(CAMPAIGN, 1, track=("RR1", 51))
        market.change_order(CAMPAIGN, 2, status="DELIVERY", substatus="DELIVERY_SERVICE_RECEIVED")
        assert await orders.sweep(CAMPAIGN) == 2
        assert await orders.sweep(CAMPAIGN) == 0  # seen again through the overlap: no change
    changed = {c.order.order_id: c for c in sink.calls[-1][1]}
    assert changed[1].order.track_codes() == ["RR1"] and changed[1].before is not None
    assert changed[1].before.track_codes() == []
    assert changed[2].order.status == "DELIVERY"


async def test_a_restart_neither_loses_nor_repeats(market: FakeMarket) -> None:
    db = open_memory_database()
    market.create_order(CAMPAIGN, 1)
    async with feeder(market, db) as (orders, _, _):
        await orders.sweep(CAMPAIGN)
    market.change_order(CAMPAIGN, 1, track=("RR9", 51))
    market.create_order(CAMPAIGN, 2)
    async with feeder(market, db) as (again, sink2, _):
        assert await again.sweep(CAMPAIGN) == 2
        assert await again.sweep(CAMPAIGN) == 0
    assert sink2.ids(0) == [1, 2]


async def test_a_sink_that_fails_gets_the_same_changes_again(market: FakeMarket) -> None:
    market.create_order(CAMPAIGN, 1)
    async with feeder(market) as (orders, sink, db):
        sink.fail = True
        with pytest.raises(RuntimeError):
            await orders.sweep(CAMPAIGN)
        assert feed.seen_orders(db, CAMPAIGN, [1]) == {}
        assert await orders.sweep(CAMPAIGN) == 1
    assert sink.ids() == [1]


async def test_many_orders_are_read_page_by_page(market: FakeMarket) -> None:
    for order_id in range(1, 121):
        market.create_order(CAMPAIGN, order_id)
    async with feeder(market) as (orders, _, _):
        assert await orders.sweep(CAMPAIGN) == 120
    assert len(market.requests_for(READ)) == 3  # 50 + 50 + 20


async def test_many_changes_are_handed_on_and_saved_a_chunk_at_a_time(
    market: FakeMarket,
) -> None:
    for order_id in range(1, 121):
        market.create_order(CAMPAIGN, order_id)
    async with feeder(market, chunk_orders=50) as (orders, sink, db):
        assert await orders.sweep(CAMPAIGN) == 120
        assert [len(changes) for _, changes in sink.calls] == [50, 50, 20]
        shop = feed.shop(db, CAMPAIGN)
        assert shop is not None
        cursor = shop.cursor
        for order_id in range(1, 121):
            market.change_order(CAMPAIGN, order_id, track=(f"RR{order_id}", 51))
        sink.calls.clear()
        # The second chunk is refused: the first one stays saved, the cursor stays where it was.
        failing = FailOnCall(nth=2)
        orders.sink = failing
        with pytest.raises(RuntimeError):
            await orders.sweep(CAMPAIGN)
        assert [len(changes) for _, changes in failing.calls] == [50]
        shop = feed.shop(db, CAMPAIGN)
        assert shop is not None and shop.cursor == cursor
        # The next sweep hands on only what was not saved, in chunks, then moves the cursor.
        orders.sink = sink
        assert await orders.sweep(CAMPAIGN) == 70
        assert [len(changes) for _, changes in sink.calls] == [50, 20]
        handed = {c.order.order_id for call in (*failing.calls, *sink.calls) for c in call[1]}
        assert handed == set(range(1, 121))
        assert await orders.sweep(CAMPAIGN) == 0  # everything is saved


@dataclass
class FailOnCall(Sink):
    """A sink that refuses its ``nth`` call (1-based) and takes the others."""

    nth: int = 1
    seen: int = 0

    async def orders_changed(self, campaign_id: int, changes: Sequence[OrderChange]) -> None:
        self.seen += 1
        self.fail = self.seen == self.nth
        await super().orders_changed(campaign_id, changes)


async def test_a_new_day_hands_on_the_open_orders_again(market: FakeMarket) -> None:
    now = [datetime(2026, 11, 23, 20, 0, tzinfo=UTC)]
    market.create_order(CAMPAIGN, 1)
    async with feeder(market, clock=lambda: now[0]) as (orders, sink, _):
        await orders.sweep(CAMPAIGN)
        assert await orders.sweep(CAMPAIGN) == 0
        now[0] += timedelta(hours=6)  # past midnight in Moscow
        assert await orders.sweep(CAMPAIGN) == 1
        assert await orders.sweep(CAMPAIGN) == 0
    [again] = sink.calls[-1][1]
    assert again.order == again.before


async def test_the_loop_waits_for_a_busy_shop_and_sweeps_when_poked(market: FakeMarket) -> None:
    market.create_order(CAMPAIGN, 1)
    busy = [True]
    async with feeder(market, busy=lambda campaign_id: busy[0]) as (orders, sink, _):
        orders.interval = 0.2
        await orders.start()
        orders.poke(CAMPAIGN)
        await asyncio.sleep(0.6)
        assert sink.calls == []  # people's commands first
        busy[0] = False
        orders.poke(CAMPAIGN)
        for _ in range(50):
            if sink.calls:
                break
            await asyncio.sleep(0.05)
        await orders.stop()
    assert sink.ids(0) == [1]


async def test_sweeps_of_one_business_stay_within_six_in_flight() -> None:
    with FakeMarket(latency_for={READ: 0.1}) as market:
        db = open_memory_database()
        keybox = KeyBox(Fernet.generate_key())
        shops = [31_000_000 + i for i in range(12)]
        for campaign_id in shops:
            market.add_campaign(campaign_id, API_KEY, business_id=700)
            connect(db, keybox, campaign_id, API_KEY, 700)
        async with MarketClient(market.base_url) as client:
            orders = OrderFeed(db, client, keybox, Sink(), interval=3600, tz=MOSCOW)
            await asyncio.gather(*(orders.sweep(c) for c in shops))
    assert market.parallel_rejections == 0
    assert max(market.max_in_flight_business.values()) <= 6
