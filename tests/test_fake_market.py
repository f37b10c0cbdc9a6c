"""The fake Market API keeps to the documented protocol, so tests built on it mean something.

Every JSON answer the tests receive is checked against the official schema (``tests/openapi.py``),
and every request the fake accepted with 200 must be valid by that schema too.
"""

from __future__ import annotations

import contextlib
import datetime
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from tests.fakes.market import MSK, FakeAddress, FakeItem, FakeMarket, Fault, ManualClock
from tests.openapi import validate_request, validate_response

KEY = "ACMA:fake-key-shop-one:0123456789abcdef"
OTHER_KEY = "ACMA:fake-key-shop-two:fedcba9876543210"
READ_ONLY_KEY = "ACMA:fake-key-read-only:0000000000000000"
BUSINESS, CAMPAIGN, FBS_CAMPAIGN, DISABLED_CAMPAIGN = 1000, 21000001, 21000003, 21000002
OTHER_CAMPAIGN, READ_ONLY_CAMPAIGN, ORDER = 31000001, 41000001, 5001
START = datetime.datetime(2025, 3, 10, 12, 0, 0, 250_000, tzinfo=MSK)
TODAY, DAY = START.date(), datetime.timedelta(days=1)
DELIVERY = TODAY + 5 * DAY
ORDERS = f"/v1/businesses/{BUSINESS}/orders"
TRACK_BODY = {"trackCode": "RR123456789RU", "deliveryServiceId": 48}
NOT_ALLOWED = "Action is not allowed for order '{}' with status '{}' and substatus '{}'"
NO_SCOPE = "Token does not have any of the scopes to access the API method"
STATE = {
    "STARTED": ("PROCESSING", "STARTED"),
    "READY": ("PROCESSING", "READY_TO_SHIP"),
    "DELIVERY": ("DELIVERY", "DELIVERY_SERVICE_RECEIVED"),
    "PICKUP": ("PICKUP", "PICKUP_SERVICE_RECEIVED"),
    "DELIVERED": ("DELIVERED", "DELIVERY_SERVICE_DELIVERED"),
}


def path(order: int, action: str) -> str:
    return f"/v2/campaigns/{CAMPAIGN}/orders/{order}/{action}"


def date_body(days: int) -> Any:
    to_date = (TODAY + days * DAY).isoformat()
    return {"dates": {"toDate": to_date}, "reason": "USER_MOVED_DELIVERY_DATES"}


def status_body(status: str, substatus: str | None = None, real: str | None = None) -> Any:
    order: dict[str, Any] = {"status": status, "substatus": substatus}
    order |= {"delivery": {"dates": {"realDeliveryDate": real}}} if real else {}
    return {"order": {k: v for k, v in order.items() if v is not None}}


def error_of(response: httpx.Response) -> tuple[int, str]:
    [error] = response.json()["errors"]
    return response.status_code, error["message"]


def null(name: str) -> str:
    return f"'{name}' must not be null (rejected value: null)"


# Building an SSL context per client costs ~30 ms; the fake is plain HTTP, so share one.
_TLS = ssl.create_default_context()


def _matches_spec(response: httpx.Response) -> None:
    response.read()
    if response.headers.get("Content-Type") == "application/json":
        request = response.request
        validate_response(request.method, request.url.path, response.status_code, response.json())


def new_client(market: FakeMarket, *, key: str | None = KEY) -> httpx.Client:
    """A client whose JSON answers must match the spec for their status."""
    return httpx.Client(
        base_url=market.base_url,
        headers={"Api-Key": key} if key is not None else {},
        timeout=5,
        trust_env=False,
        verify=_TLS,
        event_hooks={"response": [_matches_spec]},
    )


@contextlib.contextmanager
def shop(clock: ManualClock | None = None, **options: Any) -> Iterator[FakeMarket]:
    """A started fake with the shop set up; the requests it answered 200 must match the spec."""
    with FakeMarket(now=clock or ManualClock(START), **options) as market:
        market.add_campaign(CAMPAIGN, KEY, business_id=BUSINESS)
        market.add_campaign(FBS_CAMPAIGN, KEY, business_id=BUSINESS, placement_type="FBS")
        market.add_campaign(DISABLED_CAMPAIGN, KEY, business_id=BUSINESS)
        market.disable_api(DISABLED_CAMPAIGN)
        market.add_campaign(OTHER_CAMPAIGN, OTHER_KEY, business_id=2000)
        scopes = ("inventory-and-order-processing:read-only", "pricing")
        market.add_campaign(READ_ONLY_CAMPAIGN, READ_ONLY_KEY, business_id=3000, scopes=scopes)
        market.add_order(CAMPAIGN, ORDER, delivery_date=DELIVERY, created_at=START - DAY)
        yield market
        for r in market.records:
            if r.status == 200:
                validate_request(r.method, r.path, r.body)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def market(clock: ManualClock) -> Iterator[FakeMarket]:
    with shop(clock) as fake:
        yield fake


@pytest.fixture
def client(market: FakeMarket) -> Iterator[httpx.Client]:
    with new_client(market) as http:
        yield http


def order_ids(client: httpx.Client, body: Any, **params: Any) -> list[int]:
    return [o["orderId"] for o in client.post(ORDERS, json=body, params=params).json()["orders"]]


def served(client: httpx.Client, order_id: int) -> dict[str, Any]:
    [order] = client.post(ORDERS, json={"orderIds": [order_id]}).json()["orders"]
    return order


# -- the spec, reads, access ---------------------------------------------------------------


def test_spec_helper_has_teeth(client: httpx.Client) -> None:
    order = served(client, ORDER)
    order["delivery"]["tracks"] = None  # nullable in the spec
    validate_response("POST", ORDERS, 200, {"orders": [order]})
    order["delivery"]["dates"]["fromDate"] = "15-03-2025"
    with pytest.raises(AssertionError, match=r"\$\.orders\[0\]\.delivery\.dates\.fromDate"):
        validate_response("POST", ORDERS, 200, {"orders": [order]})
    with pytest.raises(AssertionError, match=r"\$\.order\.status: 'SHIPPED' is not one of"):
        validate_request("PUT", path(1, "status"), {"order": {"status": "SHIPPED"}})
    with pytest.raises(AssertionError, match="no such operation"):
        validate_request("GET", path(1, "nothing"), None)
    with pytest.raises(AssertionError, match="takes no request body"):
        validate_request("POST", "/v2/auth/token", {})


def test_reads(market: FakeMarket, client: httpx.Client) -> None:
    campaign = client.get(f"/v2/campaigns/{CAMPAIGN}").json()["campaign"]
    services = client.get("/v2/delivery/services").json()["result"]["deliveryService"]
    with new_client(market, key=READ_ONLY_KEY) as reader:
        token = reader.post("/v2/auth/token").json()
        assert reader.post("/v1/businesses/3000/orders", json={}).status_code == 200
        market.revoke_key(READ_ONLY_KEY)
        assert error_of(reader.post("/v2/auth/token")) == (401, "Api-Key token is revoked")

    assert (campaign["business"]["id"], campaign["placementType"]) == (BUSINESS, "DBS")
    assert {s["id"]: s["name"] for s in services}[51] == "СДЭК"
    scopes = ["INVENTORY_AND_ORDER_PROCESSING_READ_ONLY", "PRICING"]
    api_key = {"name": "Ключ для бота", "authScopes": scopes}
    assert token == {"status": "OK", "result": {"apiKey": api_key}}


@pytest.mark.parametrize(
    ("key", "method", "url", "expected"),
    [
        (None, "GET", f"/v2/campaigns/{CAMPAIGN}", (401, "Api-Key token is not specified")),
        ("Bearer", "POST", path(ORDER, "delivery/track"), (401, "Api-Key token prefix invalid")),
        ("ACMA:nope:nope", "POST", "/v2/auth/token", (401, "Api-Key token is invalid")),
        (READ_ONLY_KEY, "PUT", f"/v2/campaigns/{READ_ONLY_CAMPAIGN}/orders/1/status",
         (403, NO_SCOPE)),
        (READ_ONLY_KEY, "PUT", f"/v2/campaigns/{READ_ONLY_CAMPAIGN}/orders/1/cancellation/accept",
         (403, NO_SCOPE)),
        (OTHER_KEY, "POST", path(ORDER, "delivery/track"), (403, "Access denied")),
        (OTHER_KEY, "POST", ORDERS, (403, "Access denied")),
        (KEY, "GET", f"/v2/campaigns/{DISABLED_CAMPAIGN}",
         (403, f"API for campaign '{DISABLED_CAMPAIGN}' disabled due to inactivity")),
        (KEY, "PUT", "/v2/campaigns/77/orders/1/status", (404, "Campaign not found '77'")),
    ],
)  # fmt: skip
def test_auth_and_access_errors(
    market: FakeMarket, key: str | None, method: str, url: str, expected: Any
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"} if key == "Bearer" else {}
    with new_client(market, key=None if key == "Bearer" else key) as http:
        response = http.request(method, url, headers=headers, json={"orderIds": [1]})
    assert error_of(response) == expected


def test_unknown_resource(market: FakeMarket) -> None:
    with httpx.Client(base_url=market.base_url, trust_env=False) as http:  # not in the spec
        assert error_of(http.get(path(ORDER, "status"))) == (404, "Resource not found")


# -- getBusinessOrders ---------------------------------------------------------------------


@pytest.fixture
def feed(market: FakeMarket) -> FakeMarket:
    """Orders across the business: statuses, an FBS one, a test one, an old one, a stranger."""
    for order_id, campaign, details in [
        (101, CAMPAIGN, {"created_at": START - DAY}),
        (102, CAMPAIGN, {"status": "DELIVERY", "substatus": "DELIVERY_SERVICE_RECEIVED",
                         "cancel_requested": True}),
        (103, CAMPAIGN, {"status": "PICKUP", "substatus": "PICKUP_SERVICE_RECEIVED"}),
        (104, FBS_CAMPAIGN, {"substatus": "READY_TO_SHIP"}),
        (105, CAMPAIGN, {"status": "CANCELLED", "substatus": "USER_CHANGED_MIND", "fake": True}),
        (106, CAMPAIGN, {"status": "DELIVERED", "created_at": START - 40 * DAY}),
        (107, OTHER_CAMPAIGN, {}),
    ]:  # fmt: skip
        market.create_order(campaign, order_id, **details)
    return market


def test_business_order_looks_like_markets(market: FakeMarket, client: httpx.Client) -> None:
    market.create_order(
        CAMPAIGN, 9, items=[FakeItem("Чайник", 2, 2490.0, "KETTLE-1")], total=5280.0,
        delivery_date=DELIVERY, delivery_time=("09:00", "18:00"), service_id=48,
        address=FakeAddress("Москва", "Тверская", "1"), track_codes=[("RR1", 48)],
    )  # fmt: skip

    order = served(client, 9)

    assert order["updateDate"] == order["creationDate"] == "2025-03-10T12:00:00+03:00"
    assert order["items"] == [
        {"id": 901, "offerId": "KETTLE-1", "offerName": "Чайник", "count": 2,
         "prices": {"payment": {"value": 4980.0, "currencyId": "RUR"}}}
    ]  # fmt: skip
    assert (order["prices"]["payment"]["value"], order["cancelRequested"]) == (5280.0, False)
    assert order["delivery"] == {
        "type": "DELIVERY", "serviceName": "Почта России", "deliveryServiceId": 48,
        "deliveryPartnerType": "SHOP",
        "dates": {"fromDate": "2025-03-15", "toDate": "2025-03-15",
                  "fromTime": "09:00", "toTime": "18:00"},
        "courier": {"address": {"city": "Москва", "street": "Тверская", "house": "1"}},
        "tracks": [{"trackCode": "RR1", "deliveryServiceId": 48}],
    }  # fmt: skip
    assert "tracks" not in served(client, ORDER)["delivery"]  # minItems 1: absent when none


def created(low: str, high: str | None = None) -> dict[str, str]:
    return {"creationDateFrom": low} | ({} if high is None else {"creationDateTo": high})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [101, ORDER, 102, 103, 104, 105]),  # created in the last 30 days; by updateDate, id
        ({"campaignIds": [FBS_CAMPAIGN]}, [104]),
        ({"statuses": ["DELIVERY", "PICKUP"]}, [102, 103]),
        ({"substatuses": ["READY_TO_SHIP"]}, [104]),
        ({"fake": True}, [105]),
        ({"waitingForCancellationApprove": True}, [102]),
        ({"orderIds": [101, 106, 107]}, [101]),  # 106 is older than 30 days, 107 not ours
        ({"orderIds": [106], "dates": created("2025-01-25", "2025-02-20")}, [106]),
        ({"dates": created("2025-03-09", "2025-03-09")}, [101, ORDER]),  # one day
        ({"dates": created("2025-03-09", "2025-03-10")}, [101, ORDER]),  # "to" excluded
        ({"dates": created("2025-03-10")}, [102, 103, 104, 105]),
        ({"dates": {"shipmentDateFrom": "2025-03-01"}}, [106, 101, ORDER, 102, 103, 104, 105]),
    ],
)
def test_business_order_filters(
    feed: FakeMarket, client: httpx.Client, body: Any, expected: Any
) -> None:
    assert order_ids(client, body) == expected


@pytest.mark.parametrize(
    ("body", "params", "message"),
    [
        ({"orderIds": []}, {}, "Illegal input at 'orderIds'"),
        ({"orderIds": list(range(1, 52))}, {}, "Illegal input at 'orderIds'"),
        ({"campaignIds": []}, {}, "Illegal input at 'campaignIds'"),
        ({"dates": created("10.03.2025")}, {}, "Type mismatch: '10.03.2025'"),
        ({"dates": {"updateDateFrom": "2025-03-10T12:00:00"}}, {},
         "Type mismatch: '2025-03-10T12:00:00'"),  # no offset
        ({"dates": created("2025-01-01", "2025-02-01")}, {},
         "Illegal input at 'dates.creationDateFrom'"),  # 31 days
        ({"dates": {"updateDateFrom": "2025-02-07T12:00:00+03:00"}}, {},
         "Illegal input at 'dates.updateDateFrom'"),  # 30 days and 0.25 s before now
        ({"dates": {"updateDateFrom": "2025-03-09T12:00:00+03:00",
                    "updateDateTo": "2025-03-09T08:59:59Z"}}, {},
         "Illegal input at 'dates.updateDateTo'"),  # "to" before "from"
        ({}, {"limit": 51}, "Illegal input at 'limit'"),
        ({}, {"pageToken": "not-a-token"}, "Illegal input at 'pageToken'"),
        (None, {}, "Required request body is missing"),
    ],
)  # fmt: skip
def test_business_orders_validation(
    client: httpx.Client, body: Any, params: Any, message: str
) -> None:
    assert error_of(client.post(ORDERS, json=body, params=params)) == (400, message)


def test_business_orders_pages(feed: FakeMarket, clock: ManualClock, client: httpx.Client) -> None:
    clock.advance(5)
    feed.change_order(CAMPAIGN, 101, substatus="READY_TO_SHIP")  # 101 moves to the end
    pages, token = [], None
    while not pages or token:
        params = {"limit": 2} | ({"pageToken": token} if token else {})
        answer = client.post(ORDERS, json={}, params=params).json()
        pages.append([o["orderId"] for o in answer["orders"]])
        token = answer["paging"].get("nextPageToken")
    assert pages == [[ORDER, 102], [103, 104], [105, 101]]

    first = client.post(ORDERS, json={}, params={"limit": 2}).json()
    clock.advance(1)
    feed.change_order(CAMPAIGN, ORDER, cancel_requested=False)
    # An order changed between pages comes again at the end rather than pushing others out.
    rest = order_ids(client, {}, pageToken=first["paging"]["nextPageToken"])
    assert rest == [103, 104, 105, 101, ORDER]


def test_update_windows_at_one_second_precision(
    market: FakeMarket, clock: ManualClock, client: httpx.Client
) -> None:
    market.create_order(CAMPAIGN, 2, created_at=START - DAY)
    market.change_order(CAMPAIGN, ORDER, cancel_requested=True)  # 12:00:00.250
    clock.advance(0.6)
    market.change_order(CAMPAIGN, 2, track=("RR2", 51))  # 12:00:00.850
    market.change_order(CAMPAIGN, ORDER, cancel_requested=False)  # twice within the second
    clock.advance(-3600)
    market.change_order(CAMPAIGN, 2, status="DELIVERY")  # a clock going back moves nothing
    clock.advance(7200)

    def ids(low: str, high: str | None = None) -> list[int]:
        window = {"updateDateFrom": low} | ({} if high is None else {"updateDateTo": high})
        return order_ids(client, {"dates": window})

    assert served(client, ORDER)["updateDate"] == "2025-03-10T12:00:00+03:00"
    assert served(client, 2)["updateDate"] == "2025-03-10T12:00:00+03:00"
    assert ids("2025-03-10T12:00:00+03:00") == ids("2025-03-10T09:00:00Z") == [2, ORDER]
    assert ids("2025-03-10T12:00:00.5+03:00") == []
    assert ids("2025-03-10T11:00:00+03:00", "2025-03-10T12:00:00+03:00") == []
    assert ids("2025-03-10T11:00:00+03:00", "2025-03-10T12:00:01+03:00") == [2, ORDER]
    with pytest.raises(TypeError, match="updated_at"):
        market.change_order(CAMPAIGN, ORDER, updated_at=START)  # times move only by changes


@pytest.mark.parametrize(
    ("state", "method", "action", "body"),
    [
        ("STARTED", "POST", "delivery/track", TRACK_BODY),
        ("STARTED", "PUT", "delivery/date", date_body(6)),
        ("DELIVERY", "PUT", "status", status_body("DELIVERED")),
        ("DELIVERY", "PUT", "cancellation/accept", {"accepted": True}),
    ],
)
def test_every_write_bumps_the_update_time(
    market: FakeMarket, clock: ManualClock, client: httpx.Client, state: str, method: str,
    action: str, body: Any,
) -> None:  # fmt: skip
    market.change_order(CAMPAIGN, ORDER, status=STATE[state][0], cancel_requested=True)
    clock.advance(3.9)
    assert client.request(method, path(ORDER, action), json=body).status_code == 200
    assert served(client, ORDER)["updateDate"] == "2025-03-10T12:00:04+03:00"


# -- the four writes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "content", "message"),
    [
        ("delivery/track", b"", "Required request body is missing"),
        ("delivery/track", b'{"deliveryServiceId": 51}', null("trackCode")),
        ("delivery/track", b'{"trackCode": "R", "deliveryServiceId": "abc"}',
         "Type mismatch: 'abc'"),
        ("delivery/date", b'{"reason": "USER_MOVED_DELIVERY_DATES"}', null("dates")),
        ("delivery/date", b'{"dates": {"toDate": "2025-02-30"}, "reason": "X"}',
         "Type mismatch: '2025-02-30'"),
        ("status", b'{"status": "DELIVERY"}', null("order")),
        ("status", b'{"order": {"status": "SHIPPED"}}', "Type mismatch: 'SHIPPED'"),
        ("status", b'{"order": {"status": "CANCELLED"}}', null("substatus")),
        ("status", b"{not json", "JSON: Expecting property name enclosed in double quotes: "
                                 "line 1 column 2 (char 1)"),
        ("cancellation/accept", b"{}", null("accepted")),
        ("cancellation/accept", b'{"accepted": false}', null("reason")),
        ("cancellation/accept", b'{"accepted": false, "reason": "LATE"}', "Type mismatch: 'LATE'"),
    ],
)  # fmt: skip
def test_write_validation(client: httpx.Client, action: str, content: bytes, message: str) -> None:
    method = "POST" if action == "delivery/track" else "PUT"
    headers = {"Content-Type": "application/json"}
    response = client.request(method, path(ORDER, action), content=content, headers=headers)
    assert error_of(response) == (400, message)


@pytest.mark.parametrize(
    ("method", "action", "body", "message"),
    [
        ("POST", "delivery/track", TRACK_BODY, f"Campaign '{CAMPAIGN}' has no order id '999'"),
        ("PUT", "delivery/date", date_body(6), "Order not found: '999'"),
        ("PUT", "status", status_body("DELIVERY"), "Order not found: '999'"),
        ("PUT", "cancellation/accept", {"accepted": True}, "Order not found: '999'"),
    ],
)
def test_unknown_order(
    client: httpx.Client, method: str, action: str, body: Any, message: str
) -> None:
    assert error_of(client.request(method, path(999, action), json=body)) == (404, message)


@pytest.mark.parametrize(
    ("state", "method", "action", "body"),
    [
        ("DELIVERED", "POST", "delivery/track", TRACK_BODY),
        ("PICKUP", "PUT", "delivery/date", date_body(0)),
        ("READY", "PUT", "status", status_body("PROCESSING", "READY_TO_SHIP")),
        ("STARTED", "PUT", "status", status_body("PICKUP")),
        ("STARTED", "PUT", "status", status_body("DELIVERY", "COURIER_SEARCH")),
        ("DELIVERY", "PUT", "status", status_body("CANCELLED", "SHOP_FAILED")),
        ("DELIVERY", "PUT", "cancellation/accept", {"accepted": True}),  # nothing requested
        ("STARTED", "PUT", "cancellation/accept", {"accepted": True}),  # requested, PROCESSING
    ],
)
def test_action_not_allowed_in_state(
    market: FakeMarket, client: httpx.Client, state: str, method: str, action: str, body: Any
) -> None:
    status, substatus = STATE[state]
    market.add_order(
        CAMPAIGN, ORDER, status=status, substatus=substatus, cancel_requested=state == "STARTED"
    )
    response = client.request(method, path(ORDER, action), json=body)
    assert error_of(response) == (400, NOT_ALLOWED.format(ORDER, status, substatus))


def test_date_rules(market: FakeMarket, client: httpx.Client) -> None:
    def move(days: int) -> httpx.Response:
        return client.put(path(ORDER, "delivery/date"), json=date_body(days))

    assert error_of(move(5)) == (400, "New delivery dates are the same as the current!")
    too_far = "Exceeded the number of days to edit delivery dates! limit is: '30' days"
    assert error_of(move(31)) == (400, too_far)
    assert [move(days).json() for days in (6, 7, 30)] == [{"status": "OK"}] * 3
    spent = "Exceeded the number of edits of delivery dates! limit is: '3'"
    assert error_of(move(9)) == (400, spent)
    assert served(client, ORDER)["delivery"]["dates"]["toDate"] == "2025-04-09"


def test_status_walks_the_dbs_model(market: FakeMarket, client: httpx.Client) -> None:
    market.create_order(CAMPAIGN, 2)
    market.change_order(CAMPAIGN, ORDER, track=("RR1", 51))
    steps = ["READY", "DELIVERY", "PICKUP", "DELIVERED"]
    bodies = [client.put(path(ORDER, "status"), json=status_body(*STATE[s])).json() for s in steps]
    failed = client.put(path(2, "status"), json=status_body("CANCELLED", "SHOP_FAILED")).json()

    assert all(body.keys() == {"order"} for body in bodies)  # no "status": "OK" here
    assert [(b["order"]["status"], b["order"]["substatus"]) for b in bodies] == [
        STATE[s] for s in steps
    ]
    last = bodies[-1]["order"]
    assert last["delivery"]["dates"] == {
        "fromDate": "15-03-2025", "toDate": "15-03-2025", "realDeliveryDate": "10-03-2025"
    }  # fmt: skip
    assert last["delivery"]["tracks"] == [{"trackCode": "RR1", "deliveryServiceId": 51}]
    assert (last["creationDate"], last["updatedAt"]) == (
        "09-03-2025 12:00:00",
        "10-03-2025 12:00:00",
    )
    assert (failed["order"]["status"], market.late_without_real_date) == ("CANCELLED", [])


@pytest.mark.parametrize(
    ("state", "status", "real", "message"),
    [
        ("STARTED", "DELIVERY", "2025-03-10",
         "realDeliveryDate is allowed only for statuses PICKUP, DELIVERED"),
        ("DELIVERY", "DELIVERED", "2025-03-11", "realDeliveryDate '2025-03-11' is in the future"),
        ("DELIVERY", "DELIVERED", "2025-03-08",
         "realDeliveryDate '2025-03-08' is before the order was created"),
        ("PICKUP", "DELIVERED", "2025-03-09", None),
        ("DELIVERY", "PICKUP", "2025-03-10", None),
        ("DELIVERY", "DELIVERED", None, None),  # late without a date: today, and noted
    ],
)  # fmt: skip
def test_real_delivery_date_rules(
    market: FakeMarket, client: httpx.Client, state: str, status: str, real: Any, message: Any
) -> None:
    market.change_order(CAMPAIGN, ORDER, status=STATE[state][0], delivery_date=TODAY - DAY)

    response = client.put(path(ORDER, "status"), json=status_body(status, real=real))

    if message is not None:
        assert error_of(response) == (400, message)
        return
    assert market.order(CAMPAIGN, ORDER).real_delivery_date == (
        TODAY if real is None else datetime.date.fromisoformat(real)
    )
    assert market.late_without_real_date == ([(CAMPAIGN, ORDER)] if real is None else [])


@pytest.mark.parametrize(
    ("body", "state"),
    [
        ({"accepted": True}, ("CANCELLED", "USER_CHANGED_MIND")),
        ({"accepted": False, "reason": "ORDER_DELIVERED"}, STATE["PICKUP"]),
    ],
)
def test_cancellation_answer(
    market: FakeMarket, client: httpx.Client, body: Any, state: Any
) -> None:
    status, substatus = STATE["PICKUP"]
    market.change_order(CAMPAIGN, ORDER, status=status, substatus=substatus, cancel_requested=True)

    first = client.put(path(ORDER, "cancellation/accept"), json=body)
    again = client.put(path(ORDER, "cancellation/accept"), json=body)

    assert first.json() == {"status": "OK"}
    order = market.order(CAMPAIGN, ORDER)
    assert (order.status, order.substatus, order.cancel_requested) == (*state, False)
    assert error_of(again) == (400, NOT_ALLOWED.format(ORDER, *state))


# -- limits --------------------------------------------------------------------------------


def burst(market: FakeMarket, requests: list[tuple[str, str, Any]]) -> list[httpx.Response]:
    """Send all ``requests`` at the same moment; answers in the same order."""
    start = threading.Barrier(len(requests))
    with new_client(market) as http, ThreadPoolExecutor(max_workers=len(requests)) as pool:

        def one(request: tuple[str, str, Any]) -> httpx.Response:
            start.wait()
            return http.request(request[0], request[1], json=request[2])

        return list(pool.map(one, requests))


def test_parallel_limits_per_campaign_and_per_business_for_orders() -> None:
    with shop(latency=0.3, latency_for={"getBusinessOrders": 0.3}) as market:
        track = ("POST", path(ORDER, "delivery/track"), TRACK_BODY)
        answers = burst(market, [track] * 8 + [("POST", ORDERS, {})] * 8)

        codes = [r.status_code for r in answers]
        assert (sorted(codes[:8]), sorted(codes[8:])) == (
            [200] * 4 + [420] * 4,
            [200] * 6 + [420] * 2,
        )
        assert {error_of(r)[1] for r in answers if r.status_code == 420} == {
            f"Hit rate limit of '4' parallel requests for campaign '{CAMPAIGN}'",
            f"Hit rate limit of '6' parallel requests for business '{BUSINESS}'",
        }
        until = answers[codes.index(420)].headers["X-RateLimit-Resource-Until"]
        assert parsedate_to_datetime(until) > datetime.datetime.now(datetime.UTC)
        assert (market.max_in_flight, market.max_in_flight_business) == (
            {CAMPAIGN: 4},
            {BUSINESS: 6},
        )
        assert market.parallel_rejections == 6
        # Refused requests must not have kept their slots.
        again = burst(market, [("GET", f"/v2/campaigns/{CAMPAIGN}", None)] * 4)
        assert [r.status_code for r in again] == [200] * 4


def test_hourly_limits_count_4xx_not_5xx_per_operation() -> None:
    with shop(hourly_limit=3, hourly_limits={"acceptOrderCancellation": 1}) as market:
        market.fail_next(ORDER, Fault.server_error(), Fault.server_error(503))
        with new_client(market) as http:
            bodies = (TRACK_BODY, TRACK_BODY, {}, TRACK_BODY, TRACK_BODY)
            tracks = [http.post(path(ORDER, "delivery/track"), json=body) for body in bodies]
            cancel = [http.put(path(ORDER, "cancellation/accept"), json={}) for _ in range(2)]

    left = [r.headers["X-RateLimit-Resource-Remaining"] for r in tracks]
    assert left == ["3", "3", "2", "1", "0"]
    assert cancel[0].headers["X-RateLimit-Resource-Limit"] == "1"
    assert error_of(cancel[1]) == (
        420,
        "Hit rate limit of '1' requests per '1h' for resource "
        f"'acceptOrderCancellation' for campaign '{CAMPAIGN}'",
    )
    until = parsedate_to_datetime(cancel[1].headers["X-RateLimit-Resource-Until"])
    ahead = until - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=59) < ahead <= datetime.timedelta(hours=1, seconds=1)


# -- scripted faults and records ----------------------------------------------------------


def test_faults_hit_every_write_in_order(market: FakeMarket, client: httpx.Client) -> None:
    until = datetime.datetime(2025, 3, 10, 12, 0, 5, tzinfo=datetime.UTC)
    market.fail_next(
        ORDER,
        Fault.server_error(503),
        Fault.rate_limited(until=until, kind="hourly"),
        Fault.ok_body({"status": "ERROR"}),
        Fault.ok_body("<html>OK</html>", content_type="text/html"),
        Fault.slow(0.1),
    )
    writes = [
        ("POST", "delivery/track", TRACK_BODY),
        ("PUT", "delivery/date", date_body(6)),
        ("PUT", "cancellation/accept", {"accepted": True}),
        ("PUT", "status", status_body("DELIVERY")),
        ("PUT", "status", status_body("DELIVERY")),  # slow, then served for real
    ]
    answers = [client.request(method, path(ORDER, a), json=body) for method, a, body in writes]

    assert error_of(answers[0]) == (503, "Service temporarily unavailable. Please, try again later")
    hourly = "Hit rate limit of '10000' requests per '1h' for resource 'setOrderDeliveryDate'"
    assert error_of(answers[1]) == (420, f"{hourly} for campaign '{CAMPAIGN}'")
    assert answers[1].headers["X-RateLimit-Resource-Until"] == "Mon, 10 Mar 2025 12:00:05 GMT"
    assert (answers[2].status_code, answers[2].json()) == (200, {"status": "ERROR"})
    assert (answers[3].status_code, answers[3].text) == (200, "<html>OK</html>")
    assert answers[4].json()["order"]["status"] == "DELIVERY"
    order = market.order(CAMPAIGN, ORDER)
    assert (order.track_codes, order.delivery_date, order.cancel_requested) == ([], DELIVERY, False)


def test_records_describe_requests_without_the_key(
    market: FakeMarket, client: httpx.Client
) -> None:
    client.post(path(ORDER, "delivery/track"), json=TRACK_BODY)
    client.post(ORDERS, json={}, params={"limit": 5})
    with new_client(market, key=None) as http:
        http.get(f"/v2/campaigns/{CAMPAIGN}", headers={"Authorization": f"Bearer {KEY}"})

    track, orders, bearer = market.records
    assert (track.method, track.path, track.campaign_id, track.order_id, track.operation) == (
        "POST", path(ORDER, "delivery/track"), CAMPAIGN, ORDER, "setOrderDeliveryTrackCode"
    )  # fmt: skip
    assert (track.body, track.status, track.api_key_seen) == (TRACK_BODY, 200, True)
    assert (orders.path, orders.campaign_id, orders.operation) == (
        ORDERS,
        None,
        "getBusinessOrders",
    )
    assert (bearer.api_key_seen, bearer.status, bearer.body) == (False, 401, None)
    assert KEY.split(":")[1] not in repr(market.records)
    assert "X-RateLimit-Resource-Remaining" not in client.post(ORDERS, json={}).headers
    market.reset_records()
    assert (market.records, market.max_in_flight, market.max_in_flight_business) == ([], {}, {})
