"""MarketClient against the fake Market (a real local HTTP server): every error class."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from bot.market.client import MarketClient
from bot.market.errors import (
    DeliveryDateRejected,
    HourlyBudgetExhausted,
    MarketAPIError,
    MarketBadRequest,
    MarketForbidden,
    MarketNetworkError,
    MarketNotFound,
    MarketRateLimited,
    MarketServerError,
    MarketTimeoutError,
    MarketUnauthorized,
    OrderStateConflict,
)
from tests.fakes.market import FakeMarket, Fault

KEY = "ACMA:client-test-key-000000000:cccccccc"
CID = 31000001


@pytest.fixture
def market() -> AsyncIterator[FakeMarket]:
    fake = FakeMarket(parallel_limit=4)
    fake.add_campaign(CID, KEY, domain="tea.example", business_id=900, business_name="Tea")
    fake.add_order(CID, 1)
    fake.add_order(CID, 2, status="CANCELLED", substatus="USER_CHANGED_MIND")
    fake.add_order(CID, 3, delivery_date=date.today() + timedelta(days=3))
    with fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
async def client(market: FakeMarket) -> AsyncIterator[MarketClient]:
    async with MarketClient(market.base_url, timeout=1.0) as c:
        yield c


async def test_get_campaign_reads_the_shop(client: MarketClient) -> None:
    campaign = await client.get_campaign(KEY, CID)
    assert campaign.id == CID
    assert campaign.domain == "tea.example"
    assert campaign.business is not None and campaign.business.id == 900
    assert campaign.placement_type == "DBS"


async def test_track_code_is_sent_with_api_key_header(
    client: MarketClient, market: FakeMarket
) -> None:
    await client.set_order_delivery_track_code(KEY, CID, 1, "RR456", 51)
    assert market.order(CID, 1).track_codes == [("RR456", 51)]
    recorded = market.requests_for("setOrderDeliveryTrackCode")[-1]
    assert recorded.api_key_seen
    assert recorded.body == {"trackCode": "RR456", "deliveryServiceId": 51}


async def test_delivery_date_is_sent(client: MarketClient, market: FakeMarket) -> None:
    new = date.today() + timedelta(days=5)
    await client.set_order_delivery_date(KEY, CID, 1, new, "USER_MOVED_DELIVERY_DATES")
    assert market.order(CID, 1).delivery_date == new
    body = market.requests_for("setOrderDeliveryDate")[-1].body
    assert body == {"dates": {"toDate": new.isoformat()}, "reason": "USER_MOVED_DELIVERY_DATES"}


async def test_delivery_services_and_business_orders(client: MarketClient) -> None:
    services = await client.get_delivery_services(KEY)
    assert any(s.id == 51 for s in services)
    orders = await client.get_business_orders(KEY, 900, [1, 2])
    assert {o.order_id: o.status for o in orders} == {1: "PROCESSING", 2: "CANCELLED"}


async def test_twenty_concurrent_calls_never_exceed_four_in_flight() -> None:
    fake = FakeMarket(parallel_limit=4, latency=0.05)
    fake.add_campaign(CID, KEY)
    for order in range(1, 21):
        fake.add_order(CID, order)
    with fake:
        async with MarketClient(fake.base_url, parallel_limit=4) as client:
            await asyncio.gather(
                *(
                    client.set_order_delivery_track_code(KEY, CID, order, f"T{order}", 51)
                    for order in range(1, 21)
                )
            )
    assert fake.max_in_flight[CID] == 4
    assert fake.parallel_rejections == 0
    assert all(fake.order(CID, order).track_codes for order in range(1, 21))


async def test_420_carries_the_retry_time(client: MarketClient, market: FakeMarket) -> None:
    until = (datetime.now(UTC) + timedelta(seconds=30)).replace(microsecond=0)
    market.fail_next(1, Fault.rate_limited(until=until, kind="parallel"))
    with pytest.raises(MarketRateLimited) as caught:
        await client.set_order_delivery_track_code(KEY, CID, 1, "RR1", 51)
    assert caught.value.transient
    assert caught.value.kind == "parallel"
    assert caught.value.retry_at == until
    assert "parallel" in caught.value.message


async def test_hourly_420_spends_the_local_budget(client: MarketClient, market: FakeMarket) -> None:
    until = (datetime.now(UTC) + timedelta(minutes=20)).replace(microsecond=0)
    market.fail_next(1, Fault.rate_limited(until=until, kind="hourly"))
    with pytest.raises(MarketRateLimited) as caught:
        await client.set_order_delivery_track_code(KEY, CID, 1, "RR1", 51)
    assert caught.value.kind == "hourly"
    before = len(market.records)
    with pytest.raises(HourlyBudgetExhausted) as waiting:
        await client.set_order_delivery_track_code(KEY, CID, 1, "RR1", 51)
    assert waiting.value.retry_at == until
    assert len(market.records) == before  # Market was not asked again


async def test_hourly_budget_is_kept_locally() -> None:
    fake = FakeMarket(parallel_limit=None)
    fake.add_campaign(CID, KEY)
    fake.add_order(CID, 1)
    with fake:
        async with MarketClient(fake.base_url, hourly_limit=2) as client:
            await client.set_order_delivery_track_code(KEY, CID, 1, "A", 51)
            await client.set_order_delivery_track_code(KEY, CID, 1, "B", 51)
            with pytest.raises(HourlyBudgetExhausted) as caught:
                await client.set_order_delivery_track_code(KEY, CID, 1, "C", 51)
    assert caught.value.transient
    assert caught.value.retry_at > datetime.now(UTC) + timedelta(minutes=59)
    assert len(fake.requests_for("setOrderDeliveryTrackCode")) == 2


async def test_remaining_header_corrects_the_budget() -> None:
    fake = FakeMarket(parallel_limit=None, hourly_limit=1)
    fake.add_campaign(CID, KEY)
    fake.add_order(CID, 1)
    with fake:
        async with MarketClient(fake.base_url, hourly_limit=100) as client:
            await client.set_order_delivery_track_code(KEY, CID, 1, "A", 51)
            # Market said 0 remain: the next call waits instead of earning a 420.
            with pytest.raises(HourlyBudgetExhausted):
                await client.set_order_delivery_track_code(KEY, CID, 1, "B", 51)
    assert len(fake.requests_for("setOrderDeliveryTrackCode")) == 1


async def test_500_is_transient_and_keeps_the_message(
    client: MarketClient, market: FakeMarket
) -> None:
    market.fail_next(1, Fault.server_error(500))
    with pytest.raises(MarketServerError) as caught:
        await client.set_order_delivery_track_code(KEY, CID, 1, "RR1", 51)
    assert caught.value.transient
    assert caught.value.status == 500


async def test_503_is_transient(client: MarketClient, market: FakeMarket) -> None:
    market.fail_next(1, Fault.server_error(503))
    with pytest.raises(MarketServerError) as caught:
        await client.set_order_delivery_track_code(KEY, CID, 1, "RR1", 51)
    assert caught.value.message == "Service temporarily unavailable. Please, try again later"


async def test_timeout_is_transient(market: FakeMarket) -> None:
    market.fail_next(1, Fault.slow(2.0))
    async with MarketClient(market.base_url, timeout=0.3) as client:
        started = time.monotonic()
        with pytest.raises(MarketTimeoutError) as caught:
            await client.set_order_delivery_track_code(KEY, CID, 1, "RR1", 51)
    assert caught.value.transient
    assert time.monotonic() - started < 1.5


async def test_network_failure_is_transient() -> None:
    async with MarketClient("http://127.0.0.1:9", timeout=1.0) as client:
        with pytest.raises(MarketNetworkError) as caught:
            await client.get_campaign(KEY, CID)
    assert caught.value.transient
    assert KEY not in str(caught.value)


async def test_non_json_error_body_keeps_the_raw_text(
    client: MarketClient, market: FakeMarket
) -> None:
    market.fail_next(1, Fault.non_json(502))
    with pytest.raises(MarketServerError) as caught:
        await client.set_order_delivery_track_code(KEY, CID, 1, "RR1", 51)
    assert caught.value.errors == []
    assert caught.value.raw_text
    assert len(caught.value.raw_text) <= 501


async def test_404_is_permanent_with_markets_words(client: MarketClient) -> None:
    with pytest.raises(MarketNotFound) as caught:
        await client.set_order_delivery_track_code(KEY, CID, 999, "RR1", 51)
    assert not caught.value.transient
    assert caught.value.message == f"Campaign '{CID}' has no order id '999'"
    with pytest.raises(MarketNotFound) as by_date:
        await client.set_order_delivery_date(
            KEY, CID, 999, date.today() + timedelta(days=1), "USER_MOVED_DELIVERY_DATES"
        )
    assert by_date.value.message == "Order not found: '999'"


async def test_order_state_400_is_permanent_and_parsed(client: MarketClient) -> None:
    with pytest.raises(OrderStateConflict) as caught:
        await client.set_order_delivery_track_code(KEY, CID, 2, "RR1", 51)
    error = caught.value
    assert not error.transient
    assert error.status == 400
    assert error.order_status == "CANCELLED"
    assert error.order_substatus == "USER_CHANGED_MIND"
    assert error.message == (
        "Action is not allowed for order '2' with status 'CANCELLED' and substatus "
        "'USER_CHANGED_MIND'"
    )


async def test_same_date_is_a_date_rejection(client: MarketClient) -> None:
    with pytest.raises(DeliveryDateRejected) as caught:
        await client.set_order_delivery_date(
            KEY, CID, 3, date.today() + timedelta(days=3), "PARTNER_MOVED_DELIVERY_DATES"
        )
    assert caught.value.kind == "same_date"
    assert caught.value.message == "New delivery dates are the same as the current!"


async def test_other_400_is_bad_request(client: MarketClient, market: FakeMarket) -> None:
    market.fail_next(1, Fault.custom(400, "Type mismatch: 'x'"))
    with pytest.raises(MarketBadRequest) as caught:
        await client.set_order_delivery_track_code(KEY, CID, 1, "RR1", 51)
    assert type(caught.value) is MarketBadRequest
    assert caught.value.message == "Type mismatch: 'x'"


async def test_unknown_key_is_unauthorized(client: MarketClient) -> None:
    with pytest.raises(MarketUnauthorized) as caught:
        await client.get_campaign("ACMA:wrong:key", CID)
    assert caught.value.message == "Api-Key token is invalid"
    assert not caught.value.transient
    assert "ACMA:wrong:key" not in str(caught.value)


async def test_revoked_key_and_missing_scope(market: FakeMarket) -> None:
    market.add_campaign(CID + 1, "ACMA:read-only:0000", business_id=901, scopes=("offers",))
    market.add_order(CID + 1, 7)
    market.revoke_key(KEY)
    async with MarketClient(market.base_url) as client:
        with pytest.raises(MarketUnauthorized) as revoked:
            await client.get_campaign(KEY, CID)
        with pytest.raises(MarketForbidden) as scope:
            await client.set_order_delivery_track_code("ACMA:read-only:0000", CID + 1, 7, "R", 51)
    assert revoked.value.message == "Api-Key token is revoked"
    assert "scopes" in scope.value.message


async def test_disabled_api_is_forbidden(client: MarketClient, market: FakeMarket) -> None:
    market.disable_api(CID)
    with pytest.raises(MarketForbidden) as caught:
        await client.get_campaign(KEY, CID)
    assert "disabled" in caught.value.message


async def test_injected_transport_is_used() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "OK"})

    async with MarketClient("https://market.invalid", transport=httpx.MockTransport(handler)) as c:
        await c.set_order_delivery_track_code(KEY, CID, 5, "RR5", 51)
    assert seen[0].headers["Api-Key"] == KEY
    assert seen[0].url.path == f"/v2/campaigns/{CID}/orders/5/delivery/track"


async def test_unexpected_success_body_is_an_api_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="<html>oops"))
    async with MarketClient("https://market.invalid", transport=transport) as client:
        with pytest.raises(MarketAPIError) as caught:
            await client.get_campaign(KEY, CID)
    assert "oops" in caught.value.message
