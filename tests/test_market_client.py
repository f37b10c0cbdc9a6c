"""MarketClient over ``httpx.MockTransport``: how every answer is classified, the limits kept on
our side, and what is sent. (The worker and end-to-end tests run it against the fake Market.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.market.client import MarketClient
from bot.market.errors import (
    KEPT_HEADERS,
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
    MarketUnconfirmed,
    MarketUnreachable,
    OrderStateConflict,
)
from bot.market.limits import HOURLY_LIMITS, MarketLimits
from bot.market.writes import MarketCall, MoveKind, MovePayload, TrackKind, TrackPayload
from tests.openapi import validate_request, validate_response

KEY = "ACMA:client-test-key-000000000:cccccccc"
CID, OTHER_CID = 31000001, 31000002
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
UNTIL = "Wed, 01 Jan 2025 12:20:00 GMT"
UNTIL_AT = datetime(2025, 1, 1, 12, 20, tzinfo=UTC)
UNTIL_HEADER = {"X-RateLimit-Resource-Until": UNTIL}
STATE = "Action is not allowed for order '5' with status 'CANCELLED' and substatus 'SHOP_FAILED'"
OK = {"status": "OK"}

Handler = Callable[[httpx.Request], httpx.Response]
AsyncHandler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


def track(campaign_id: int = CID, order_id: int = 5) -> MarketCall:
    payload = TrackPayload(order_id=order_id, track_code="RR5", delivery_service_id=51)
    return TrackKind().call(campaign_id, payload)


def envelope(*messages: str) -> dict[str, Any]:
    return {"status": "ERROR", "errors": [{"code": "CODE", "message": m} for m in messages]}


def reply(
    status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None
) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


class Market:
    """A MockTransport handler that records requests and answers from a list, then with OK."""

    def __init__(self, *answers: Handler | BaseException) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else reply(200, OK)
        if isinstance(answer, BaseException):
            raise answer
        return answer(request)


def client(
    handler: Handler | AsyncHandler, *, hourly_limit: int = 100, clock: list[datetime] | None = None
) -> MarketClient:
    now = clock or [NOW]
    limits = MarketLimits(parallel_limit=4, hourly_limit=hourly_limit, clock=lambda: now[0])
    transport = httpx.MockTransport(handler)
    return MarketClient("https://market.invalid", transport=transport, limits=limits)


def assert_key_hidden(error: BaseException) -> None:
    assert KEY not in str(error)
    assert KEY not in repr(error)


def row(
    status: int,
    body: dict[str, Any] | str,
    cls: type[MarketAPIError],
    transient: bool,
    message: str | None = None,
    headers: dict[str, str] | None = None,
    retry_at: datetime | None = None,
) -> Any:
    """One answer → error case; the kept message defaults to Market's first one or the body."""
    kept = message or (body["errors"][0]["message"] if isinstance(body, dict) else body)
    values = (status, body, headers or {}, cls, transient, kept, retry_at)
    return pytest.param(*values, id=f"{status}-{cls.__name__}")


SAME_DATE = "New delivery dates are the same as the current!"
PARALLEL_420 = envelope("Hit rate limit of '4' parallel requests")
ERRORS = [
    row(400, envelope(STATE), OrderStateConflict, False),
    row(400, envelope(SAME_DATE), DeliveryDateRejected, False),
    row(400, envelope("Bad date", "Bad code"), MarketBadRequest, False, "Bad date; Bad code"),
    row(401, envelope("Api-Key token is invalid"), MarketUnauthorized, False),
    row(403, envelope("Access denied"), MarketForbidden, False, headers={"Set-Cookie": "s=1"}),
    row(404, envelope("Order not found: '5'"), MarketNotFound, False),
    row(409, envelope("Conflict"), MarketBadRequest, False),
    row(420, PARALLEL_420, MarketRateLimited, True, headers=UNTIL_HEADER, retry_at=UNTIL_AT),
    row(429, "Too Many Requests", MarketRateLimited, True),
    row(500, envelope("Internal Server Error"), MarketServerError, True),
    row(503, envelope("Unavailable"), MarketServerError, True, headers={"Retry-After": "120"}),
    row(502, "<h1>Bad\n Gateway</h1>", MarketServerError, True, "<h1>Bad Gateway</h1>"),
    row(499, "", MarketServerError, True, "HTTP 499 without a body"),
    row(302, "", MarketAPIError, False, "HTTP 302 without a body", {"Location": "/x"}),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "cls", "transient", "message", "retry_at"), ERRORS
)
async def test_error_answers_are_classified(
    status: int,
    body: dict[str, Any] | str,
    headers: dict[str, str],
    cls: type[MarketAPIError],
    transient: bool,
    message: str,
    retry_at: datetime | None,
) -> None:
    async with client(reply(status, body, headers)) as market:
        with pytest.raises(MarketAPIError) as caught:
            await market.write(KEY, track())
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.transient, error.message) == (status, transient, message)
    assert getattr(error, "retry_at", None) == retry_at
    # Only the limit headers are kept with an error, never anything else of the answer.
    assert error.headers == {k: v for k, v in headers.items() if k in KEPT_HEADERS}
    assert_key_hidden(error)


async def test_ok_http_with_an_error_envelope_keeps_markets_words() -> None:
    answer = reply(200, envelope("Order 5 is being processed by another request"))
    async with client(answer) as market:
        with pytest.raises(MarketAPIError) as caught:
            await market.write(KEY, track())
    assert (caught.value.status, caught.value.transient) == (200, False)
    assert caught.value.message == "Order 5 is being processed by another request"
    assert caught.value.codes == ["CODE"]


@pytest.mark.parametrize("body", ["<html>oops</html>", '{"result": 1}', ""])
async def test_ok_http_with_an_unreadable_body_is_unconfirmed(body: str) -> None:
    # The write may or may not have been applied: transient, and flagged so it is checked on
    # the order before it is sent again.
    async with client(reply(200, body)) as market:
        with pytest.raises(MarketUnconfirmed) as caught:
            await market.write(KEY, track())
    assert caught.value.transient and caught.value.uncertain
    assert body[:5] in caught.value.message


async def test_timeout_and_network_failures() -> None:
    request = httpx.Request("POST", "https://market.invalid/")
    market = Market(
        httpx.ReadTimeout("timed out", request=request),
        httpx.ConnectError("refused", request=request),
        httpx.RemoteProtocolError("reset", request=request),
        httpx.ConnectTimeout("slow to connect", request=request),
    )
    async with client(market) as c:
        with pytest.raises(MarketTimeoutError) as timeout:
            await c.write(KEY, track())
        with pytest.raises(MarketUnreachable) as refused:
            await c.get_campaign(KEY, CID)
        with pytest.raises(MarketNetworkError) as reset:
            await c.write(KEY, track())
        with pytest.raises(MarketUnreachable) as not_connected:
            await c.write(KEY, track())
    for caught in (timeout, refused, reset, not_connected):
        assert caught.value.transient
        assert isinstance(caught.value.__cause__, httpx.HTTPError)
        assert_key_hidden(caught.value)
    # Sent and then lost may have been applied; never connected was never sent.
    assert timeout.value.uncertain and reset.value.uncertain
    assert not refused.value.uncertain and not not_connected.value.uncertain


async def test_twenty_concurrent_calls_never_exceed_four_in_flight_per_campaign() -> None:
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        campaign = request.url.path.split("/")[3]
        in_flight[campaign] = in_flight.get(campaign, 0) + 1
        peak[campaign] = max(peak.get(campaign, 0), in_flight[campaign])
        await asyncio.sleep(0.02)
        in_flight[campaign] -= 1
        return httpx.Response(200, json=OK)

    calls = [track(CID, n) for n in range(1, 21)] + [track(OTHER_CID, n) for n in range(1, 9)]
    async with client(handler) as market:
        answers = await asyncio.gather(*(market.write(KEY, call) for call in calls))
    assert all(answer.model_dump() == OK for answer in answers)
    assert peak == {str(CID): 4, str(OTHER_CID): 4}
    assert in_flight == {str(CID): 0, str(OTHER_CID): 0}


async def test_spent_hourly_budget_stops_the_call_before_it_is_sent() -> None:
    market = Market()
    async with client(market, hourly_limit=2) as c:
        await c.write(KEY, track())
        await c.write(KEY, track())
        with pytest.raises(HourlyBudgetExhausted) as caught:
            await c.write(KEY, track())
        # The budget is per method and campaign.
        move = MovePayload(order_id=5, to_date=date(2025, 1, 9), reason="USER_MOVED_DELIVERY_DATES")
        await c.write(KEY, MoveKind().call(CID, move))
        await c.write(KEY, track(OTHER_CID))
    assert caught.value.transient
    assert caught.value.retry_at == NOW + timedelta(hours=1)
    assert_key_hidden(caught.value)
    assert len(market.requests) == 4


async def test_rate_limit_headers_correct_the_budget() -> None:
    clock = [NOW]
    market = Market(
        reply(200, OK, {"X-RateLimit-Resource-Remaining": "0", "X-RateLimit-Resource-Until": UNTIL})
    )
    async with client(market, clock=clock) as c:
        await c.write(KEY, track())
        with pytest.raises(HourlyBudgetExhausted) as caught:
            await c.write(KEY, track())
        assert caught.value.retry_at == UNTIL_AT
        clock[0] = UNTIL_AT  # Market's window is over: a fresh budget
        await c.write(KEY, track())
    assert len(market.requests) == 2


async def test_hourly_420_spends_the_budget_and_parallel_420_does_not() -> None:
    hourly = envelope("Hit rate limit of '10000' requests per '1h' for resource 'R'")
    parallel = envelope("Hit rate limit of '4' parallel requests")
    spent = {"X-RateLimit-Resource-Remaining": "0", "X-RateLimit-Resource-Until": UNTIL}
    market = Market(reply(420, parallel, spent), reply(420, hourly, spent))
    async with client(market) as c:
        with pytest.raises(MarketRateLimited) as first:
            await c.write(KEY, track())
        with pytest.raises(MarketRateLimited) as second:
            await c.write(KEY, track())  # sent: a parallel 420's headers say nothing hourly
        with pytest.raises(HourlyBudgetExhausted) as waiting:
            await c.write(KEY, track())
    assert (first.value.kind, second.value.kind) == ("parallel", "hourly")
    assert waiting.value.retry_at == UNTIL_AT
    assert len(market.requests) == 2


async def test_answers_market_does_not_count_give_the_budget_back() -> None:
    refused = httpx.ConnectError("refused", request=httpx.Request("POST", "https://m.invalid/"))
    market = Market(reply(500, envelope("Internal Server Error")), reply(503, "busy"), refused)
    async with client(market, hourly_limit=1) as c:
        for expected in (MarketServerError, MarketServerError, MarketUnreachable):
            with pytest.raises(expected):
                await c.write(KEY, track())
        await c.write(KEY, track())
    assert len(market.requests) == 4


async def test_writes_send_the_documented_requests_with_the_api_key() -> None:
    market = Market()
    move = MovePayload(order_id=7, to_date=date(2025, 1, 9), reason="PARTNER_MOVED_DELIVERY_DATES")
    async with client(market) as c:
        await c.write(KEY, track())
        await c.write(KEY, MoveKind().call(CID, move))
    sent = [(r.method, r.url.path, json.loads(r.content)) for r in market.requests]
    assert sent == [
        (
            "POST",
            f"/v2/campaigns/{CID}/orders/5/delivery/track",
            {"trackCode": "RR5", "deliveryServiceId": 51},
        ),
        (
            "PUT",
            f"/v2/campaigns/{CID}/orders/7/delivery/date",
            {"dates": {"toDate": "2025-01-09"}, "reason": "PARTNER_MOVED_DELIVERY_DATES"},
        ),
    ]
    for request in market.requests:
        assert request.headers["Api-Key"] == KEY
        assert request.headers["Accept"] == "application/json"
        assert request.url.host == "market.invalid"


async def test_reads_parse_markets_answers() -> None:
    campaign = {"id": CID, "domain": "tea.example", "business": {"id": 900}, "placementType": "DBS"}
    services = {"deliveryService": [{"id": 51, "name": "СДЭК"}]}
    orders = [{"orderId": 1, "campaignId": CID, "status": "PROCESSING", "extra": True}]
    market = Market(
        reply(200, {"campaign": campaign}),
        reply(200, {"status": "OK", "result": services}),
        reply(200, {"orders": orders}),
    )
    async with client(market) as c:
        shop = await c.get_campaign(KEY, CID)
        listed = await c.get_delivery_services(KEY, CID)
        found = await c.get_business_orders(KEY, 900, [1, 2])
    assert (shop.id, shop.domain, shop.placement_type) == (CID, "tea.example", "DBS")
    assert shop.business is not None and shop.business.id == 900
    assert [(s.id, s.name) for s in listed] == [(51, "СДЭК")]
    assert [(o.order_id, o.status) for o in found] == [(1, "PROCESSING")]
    sent = [(r.method, r.url.path) for r in market.requests]
    assert sent == [
        ("GET", f"/v2/campaigns/{CID}"),
        ("GET", "/v2/delivery/services"),
        ("POST", "/v1/businesses/900/orders"),
    ]
    assert json.loads(market.requests[2].content) == {"orderIds": [1, 2]}


def token_answer(*scopes: str) -> dict[str, Any]:
    return {"status": "OK", "result": {"apiKey": {"name": "Бот", "authScopes": list(scopes)}}}


async def test_auth_token_info_is_a_post_without_body_and_reads_the_scopes() -> None:
    read_only = token_answer("INVENTORY_AND_ORDER_PROCESSING_READ_ONLY", "PRICING")
    validate_response("POST", "/v2/auth/token", 200, read_only)
    market = Market(reply(200, read_only), reply(200, token_answer("ALL_METHODS")))
    async with client(market) as c:
        first = await c.get_auth_token_info(KEY)
        second = await c.get_auth_token_info(KEY)
        budgets = dict(c.limits._budgets)
    assert (first.name, first.auth_scopes) == (
        "Бот",
        ["INVENTORY_AND_ORDER_PROCESSING_READ_ONLY", "PRICING"],
    )
    assert not first.can_process_orders and second.can_process_orders
    for request in market.requests:
        assert (request.method, request.url.path, request.content) == (
            "POST",
            "/v2/auth/token",
            b"",
        )
        assert request.headers["Api-Key"] == KEY
        validate_request(request.method, request.url.path, None)
    # Its own budget of 100 an hour, per key; the key itself does not name the budget.
    [(scope, method)] = budgets
    assert method == "getAuthTokenInfo" and KEY not in scope and "client-test-key" not in scope
    assert (budgets[scope, method].limit, budgets[scope, method].remaining) == (100, 98)


def test_hourly_limits_per_method_follow_market_and_the_setting_caps_them() -> None:
    limits = MarketLimits()
    assert [limits.limit_for(m) for m in ("getCampaign", "getDeliveryServices")] == [5000, 5000]
    assert limits.limit_for("getAuthTokenInfo") == 100
    assert limits.limit_for("setOrderDeliveryTrackCode") == 10_000
    assert HOURLY_LIMITS["acceptOrderCancellation"] == 500
    assert limits.budget("campaign:1", "getCampaign").remaining == 5000
    capped = MarketLimits(hourly_limit=300)
    assert capped.limit_for("getCampaign") == 300 and capped.limit_for("getAuthTokenInfo") == 100
    tuned = MarketLimits(hourly_limit=20_000, method_limits={"getCampaign": 7})
    assert tuned.limit_for("getCampaign") == 7 and tuned.limit_for("getDeliveryServices") == 20_000


async def test_campaign_and_delivery_service_budgets_are_per_shop() -> None:
    services = {"result": {"deliveryService": [{"id": 51, "name": "СДЭК"}]}}
    campaign = {"campaign": {"id": CID, "domain": "tea.example"}}
    market = Market(*[reply(200, services)] * 2, *[reply(200, campaign)] * 2)
    limits = MarketLimits(
        hourly_limit=10_000,
        method_limits={"getDeliveryServices": 1, "getCampaign": 1},
        clock=lambda: NOW,
    )
    transport = httpx.MockTransport(market)
    async with MarketClient("https://market.invalid", transport=transport, limits=limits) as c:
        assert [s.id for s in await c.get_delivery_services(KEY, CID)] == [51]
        with pytest.raises(HourlyBudgetExhausted) as spent:
            await c.get_delivery_services(KEY, CID)
        assert [s.id for s in await c.get_delivery_services(KEY, OTHER_CID)] == [51]
        assert await c.get_campaign(KEY, CID) is not None
        with pytest.raises(HourlyBudgetExhausted):
            await c.get_campaign(KEY, CID)
        assert await c.get_campaign(KEY, OTHER_CID) is not None
    assert spent.value.retry_at == NOW + timedelta(hours=1)
    assert len(market.requests) == 4
    # The default client counts both at Market's 5,000 an hour, per shop.
    async with client(Market(reply(200, services), reply(200, campaign)), hourly_limit=10_000) as c:
        await c.get_delivery_services(KEY, CID)
        await c.get_campaign(KEY, CID)
        for method in ("getDeliveryServices", "getCampaign"):
            budget = c.limits.budget(f"campaign:{CID}", method)
            assert (budget.limit, budget.remaining) == (5000, 4999)
            assert c.limits.budget(f"campaign:{OTHER_CID}", method).remaining == 5000


@pytest.mark.parametrize("body", [{}, {"campaign": {}}, {"campaign": {"unknown": 1}}])
async def test_a_campaign_answer_without_details_is_none_not_an_error(body: Any) -> None:
    validate_response("GET", f"/v2/campaigns/{CID}", 200, body)
    async with client(reply(200, body)) as c:
        assert await c.get_campaign(KEY, CID) is None


async def test_spec_valid_sparse_answers_are_read_leniently() -> None:
    sparse = {"campaign": {"business": {"name": "Tea"}}}
    validate_response("GET", f"/v2/campaigns/{CID}", 200, sparse)
    validate_response("GET", "/v2/delivery/services", 200, {})
    async with client(Market(reply(200, sparse), reply(200, {}))) as c:
        shop = await c.get_campaign(KEY, CID)
        assert await c.get_delivery_services(KEY, CID) == []
    assert shop is not None and shop.id is None
    assert shop.business is not None and (shop.business.id, shop.business.name) == (None, "Tea")
