"""The fake Market API speaks the documented protocol, so tests built on it mean something."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

from tests.fakes.market import FakeMarket, Fault

KEY = "ACMA:fake-key-shop-one:0123456789abcdef"
OTHER_KEY = "ACMA:fake-key-shop-two:fedcba9876543210"
READ_ONLY_KEY = "ACMA:fake-key-read-only:0000000000000000"
BUSINESS = 1000
CAMPAIGN = 21000001
DISABLED_CAMPAIGN = 21000002
OTHER_CAMPAIGN = 31000001
ORDER = 5001
TODAY = datetime.date(2025, 3, 10)
DELIVERY = TODAY + datetime.timedelta(days=5)

TRACK = f"/v2/campaigns/{CAMPAIGN}/orders/{ORDER}/delivery/track"
DATE = f"/v2/campaigns/{CAMPAIGN}/orders/{ORDER}/delivery/date"
TRACK_BODY = {"trackCode": "RR123456789RU", "deliveryServiceId": 48}


def date_body(to_date: datetime.date | str, reason: str = "USER_MOVED_DELIVERY_DATES") -> Any:
    text = to_date if isinstance(to_date, str) else to_date.isoformat()
    return {"dates": {"toDate": text}, "reason": reason}


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert body["status"] == "ERROR"
    [error] = body["errors"]
    return response.status_code, error["code"], error["message"]


# Building an SSL context per client costs ~30 ms; the fake is plain HTTP, so share one.
_TLS = ssl.create_default_context()


def new_client(market: FakeMarket, *, key: str | None = KEY, timeout: float = 5) -> httpx.Client:
    headers = {"Api-Key": key} if key is not None else {}
    return httpx.Client(
        base_url=market.base_url,
        headers=headers,
        timeout=timeout,
        trust_env=False,
        verify=_TLS,
    )


def setup_shop(market: FakeMarket) -> None:
    market.add_campaign(CAMPAIGN, KEY, business_id=BUSINESS, domain="one.example")
    market.add_campaign(DISABLED_CAMPAIGN, KEY, business_id=BUSINESS, domain="sleepy.example")
    market.disable_api(DISABLED_CAMPAIGN)
    market.add_campaign(OTHER_CAMPAIGN, OTHER_KEY, business_id=2000, business_name="Other")
    market.add_campaign(OTHER_CAMPAIGN + 1, READ_ONLY_KEY, business_id=3000, scopes=("pricing",))
    market.add_order(CAMPAIGN, ORDER, delivery_date=DELIVERY)


@pytest.fixture
def market() -> Iterator[FakeMarket]:
    with FakeMarket(today=TODAY) as fake:
        setup_shop(fake)
        yield fake


@pytest.fixture
def client(market: FakeMarket) -> Iterator[httpx.Client]:
    with new_client(market) as http:
        yield http


# -- happy paths ---------------------------------------------------------------------------


def test_get_campaign_describes_campaign_and_business(client: httpx.Client) -> None:
    response = client.get(f"/v2/campaigns/{CAMPAIGN}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    campaign = response.json()["campaign"]
    assert campaign["id"] == CAMPAIGN
    assert campaign["domain"] == "one.example"
    assert campaign["business"] == {"id": BUSINESS, "name": "Shop"}
    assert campaign["placementType"] == "DBS"
    assert campaign["apiAvailability"] == "AVAILABLE"
    assert isinstance(campaign["clientId"], int)


def test_delivery_services_carry_russian_names(client: httpx.Client) -> None:
    response = client.get("/v2/delivery/services")

    assert response.status_code == 200
    services = {s["id"]: s["name"] for s in response.json()["result"]["deliveryService"]}
    assert services[51] == "СДЭК"
    assert services[48] == "Почта России"
    assert {52, 1003, 106, 107} <= services.keys()


def test_track_code_is_stored(market: FakeMarket, client: httpx.Client) -> None:
    response = client.post(TRACK, json=TRACK_BODY)

    assert response.status_code == 200
    assert response.json() == {"status": "OK"}
    assert market.order(CAMPAIGN, ORDER).track_codes == [("RR123456789RU", 48)]


@pytest.mark.parametrize("status", ["PROCESSING", "DELIVERY", "PICKUP"])
def test_track_code_allowed_statuses(market: FakeMarket, client: httpx.Client, status: str) -> None:
    market.add_order(CAMPAIGN, ORDER, status=status)

    assert client.post(TRACK, json=TRACK_BODY).status_code == 200


def test_delivery_date_moves_and_spends_one_edit(market: FakeMarket, client: httpx.Client) -> None:
    new_date = TODAY + datetime.timedelta(days=7)

    response = client.put(DATE, json=date_body(new_date, "PARTNER_MOVED_DELIVERY_DATES"))

    assert response.status_code == 200
    assert response.json() == {"status": "OK"}
    order = market.order(CAMPAIGN, ORDER)
    assert order.delivery_date == new_date
    assert order.edits_left == 2


def test_business_orders_lists_only_asked_orders_of_the_business(
    market: FakeMarket, client: httpx.Client
) -> None:
    market.add_order(CAMPAIGN, 5002, status="DELIVERY", substatus="DELIVERY_SERVICE_RECEIVED")
    market.add_order(OTHER_CAMPAIGN, 5003)

    response = client.post(
        f"/v1/businesses/{BUSINESS}/orders", json={"orderIds": [ORDER, 5002, 5003, 9999]}
    )

    assert response.status_code == 200
    orders = {o["orderId"]: o for o in response.json()["orders"]}
    assert orders.keys() == {ORDER, 5002}
    first = orders[ORDER]
    assert first["campaignId"] == CAMPAIGN
    assert (first["status"], first["substatus"]) == ("PROCESSING", "STARTED")
    assert first["programType"] == "DBS"
    assert first["fake"] is False
    assert first["delivery"]["dates"]["toDate"] == DELIVERY.isoformat()
    assert first["delivery"]["deliveryServiceId"] == 51
    assert first["delivery"]["serviceName"] == "СДЭК"
    assert orders[5002]["status"] == "DELIVERY"


@pytest.mark.parametrize("ids", [[], list(range(1, 52))], ids=["empty", "51-ids"])
def test_business_orders_need_one_to_fifty_ids(client: httpx.Client, ids: list[int]) -> None:
    response = client.post(f"/v1/businesses/{BUSINESS}/orders", json={"orderIds": ids})

    assert response.status_code == 400
    assert error_of(response)[1] == "BAD_REQUEST"


def test_business_orders_of_another_business_are_denied(client: httpx.Client) -> None:
    response = client.post("/v1/businesses/2000/orders", json={"orderIds": [ORDER]})

    assert error_of(response) == (403, "FORBIDDEN", "Access denied")


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v2/campaigns"), ("GET", TRACK), ("DELETE", f"/v2/campaigns/{CAMPAIGN}")],
)
def test_unknown_resource(client: httpx.Client, method: str, path: str) -> None:
    response = client.request(method, path)

    assert error_of(response) == (404, "NOT_FOUND", "Resource not found")


# -- authentication and access -------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "method", "path", "expected"),
    [
        ({}, "GET", f"/v2/campaigns/{CAMPAIGN}", (401, "Api-Key token is not specified")),
        (
            {"Authorization": f"Bearer {KEY}"},
            "POST",
            TRACK,
            (401, "Api-Key token prefix invalid"),
        ),
        ({"Api-Key": "ACMA:nope:nope"}, "POST", TRACK, (401, "Api-Key token is invalid")),
        (
            {"Api-Key": "ACMA:nope:nope"},
            "GET",
            "/v2/delivery/services",
            (401, "Api-Key token is invalid"),
        ),
        (
            {"Api-Key": READ_ONLY_KEY},
            "POST",
            f"/v2/campaigns/{OTHER_CAMPAIGN + 1}/orders/{ORDER}/delivery/track",
            (403, "Token does not have any of the scopes to access the API method"),
        ),
        ({"Api-Key": OTHER_KEY}, "POST", TRACK, (403, "Access denied")),
        ({"Api-Key": OTHER_KEY}, "GET", f"/v2/campaigns/{CAMPAIGN}", (403, "Access denied")),
        (
            {"Api-Key": KEY},
            "GET",
            f"/v2/campaigns/{DISABLED_CAMPAIGN}",
            (403, f"API for campaign '{DISABLED_CAMPAIGN}' disabled due to inactivity"),
        ),
        (
            {"Api-Key": KEY},
            "POST",
            "/v2/campaigns/77/orders/1/delivery/track",
            (404, "Campaign not found '77'"),
        ),
    ],
)
def test_auth_and_access_errors(
    market: FakeMarket,
    headers: dict[str, str],
    method: str,
    path: str,
    expected: tuple[int, str],
) -> None:
    codes = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND"}
    with new_client(market, key=None) as http:
        response = http.request(method, path, headers=headers, json=TRACK_BODY)

    status, message = expected
    assert error_of(response) == (status, codes[status], message)
    assert market.order(CAMPAIGN, ORDER).track_codes == []


def test_read_only_scope_still_reads(market: FakeMarket) -> None:
    with new_client(market, key=READ_ONLY_KEY) as http:
        response = http.get(f"/v2/campaigns/{OTHER_CAMPAIGN + 1}")

    assert response.status_code == 200


def test_revoked_key_is_refused(market: FakeMarket, client: httpx.Client) -> None:
    assert client.get(f"/v2/campaigns/{CAMPAIGN}").status_code == 200

    market.revoke_key(KEY)

    response = client.get(f"/v2/campaigns/{CAMPAIGN}")
    assert error_of(response) == (401, "UNAUTHORIZED", "Api-Key token is revoked")


# -- documented errors of the two writes ---------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "Required request body is missing"),
        (b'{"deliveryServiceId": 51}', "'trackCode' must not be null (rejected value: null)"),
        (
            b'{"trackCode": "RR1", "deliveryServiceId": null}',
            "'deliveryServiceId' must not be null (rejected value: null)",
        ),
        (b'{"trackCode": "RR1", "deliveryServiceId": "abc"}', "Type mismatch: 'abc'"),
        (b'{"trackCode": 12, "deliveryServiceId": 51}', "Type mismatch: '12'"),
    ],
)
def test_track_validation(client: httpx.Client, content: bytes, message: str) -> None:
    response = client.post(TRACK, content=content, headers={"Content-Type": "application/json"})

    assert error_of(response) == (400, "BAD_REQUEST", message)


def test_track_malformed_json(client: httpx.Client) -> None:
    response = client.post(
        TRACK, content=b"{not json", headers={"Content-Type": "application/json"}
    )

    status, code, message = error_of(response)
    assert (status, code) == (400, "BAD_REQUEST")
    assert message.startswith("JSON: ")


def test_track_unknown_order(client: httpx.Client) -> None:
    response = client.post(f"/v2/campaigns/{CAMPAIGN}/orders/999/delivery/track", json=TRACK_BODY)

    assert error_of(response) == (
        404,
        "NOT_FOUND",
        f"Campaign '{CAMPAIGN}' has no order id '999'",
    )


@pytest.mark.parametrize(
    ("status", "substatus"),
    [("DELIVERED", "DELIVERY_SERVICE_DELIVERED"), ("CANCELLED", "USER_CHANGED_MIND")],
)
def test_track_not_allowed_for_status(
    market: FakeMarket, client: httpx.Client, status: str, substatus: str
) -> None:
    market.add_order(CAMPAIGN, ORDER, status=status, substatus=substatus)

    response = client.post(TRACK, json=TRACK_BODY)

    assert error_of(response) == (
        400,
        "BAD_REQUEST",
        f"Action is not allowed for order '{ORDER}' with status '{status}' "
        f"and substatus '{substatus}'",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"reason": "USER_MOVED_DELIVERY_DATES"},
            "'dates' must not be null (rejected value: null)",
        ),
        (
            {"dates": {}, "reason": "USER_MOVED_DELIVERY_DATES"},
            "'toDate' must not be null (rejected value: null)",
        ),
        ({"dates": {"toDate": "2025-03-12"}}, "'reason' must not be null (rejected value: null)"),
        (date_body("12-03-2025"), "Type mismatch: '12-03-2025'"),
        (date_body("2025-02-30"), "Type mismatch: '2025-02-30'"),
        (date_body(TODAY, "BECAUSE"), "Type mismatch: 'BECAUSE'"),
    ],
)
def test_date_validation(client: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = client.put(DATE, json=body)

    assert error_of(response) == (400, "BAD_REQUEST", message)


def test_date_unknown_order(client: httpx.Client) -> None:
    response = client.put(
        f"/v2/campaigns/{CAMPAIGN}/orders/999/delivery/date", json=date_body(TODAY)
    )

    assert error_of(response) == (404, "NOT_FOUND", "Order not found: '999'")


def test_date_not_allowed_at_pickup(market: FakeMarket, client: httpx.Client) -> None:
    market.add_order(CAMPAIGN, ORDER, status="PICKUP", substatus="PICKUP_SERVICE_RECEIVED")

    response = client.put(DATE, json=date_body(TODAY))

    assert error_of(response) == (
        400,
        "BAD_REQUEST",
        f"Action is not allowed for order '{ORDER}' with status 'PICKUP' "
        "and substatus 'PICKUP_SERVICE_RECEIVED'",
    )


def test_date_same_as_current(client: httpx.Client) -> None:
    response = client.put(DATE, json=date_body(DELIVERY))

    assert error_of(response) == (
        400,
        "BAD_REQUEST",
        "New delivery dates are the same as the current!",
    )


def test_date_edits_run_out_after_three(market: FakeMarket, client: httpx.Client) -> None:
    for days in (6, 7, 8):
        target = TODAY + datetime.timedelta(days=days)
        assert client.put(DATE, json=date_body(target)).status_code == 200

    response = client.put(DATE, json=date_body(TODAY + datetime.timedelta(days=9)))

    assert error_of(response) == (
        400,
        "BAD_REQUEST",
        "Exceeded the number of edits of delivery dates! limit is: '3'",
    )
    assert market.order(CAMPAIGN, ORDER).delivery_date == TODAY + datetime.timedelta(days=8)


@pytest.mark.parametrize("days_limit", [30, 60])
def test_date_too_far(market: FakeMarket, client: httpx.Client, days_limit: int) -> None:
    market.add_order(CAMPAIGN, ORDER, delivery_date=DELIVERY, days_limit=days_limit)
    last_allowed = TODAY + datetime.timedelta(days=days_limit)

    response = client.put(DATE, json=date_body(last_allowed + datetime.timedelta(days=1)))

    assert error_of(response) == (
        400,
        "BAD_REQUEST",
        f"Exceeded the number of days to edit delivery dates! limit is: '{days_limit}' days",
    )
    assert client.put(DATE, json=date_body(last_allowed)).status_code == 200


# -- limits --------------------------------------------------------------------------------


def burst(market: FakeMarket, count: int) -> list[httpx.Response]:
    """Send ``count`` track requests for one campaign at the same moment."""
    start = threading.Barrier(count)
    with new_client(market) as http:

        def one(_: int) -> httpx.Response:
            start.wait()
            return http.post(TRACK, json=TRACK_BODY)

        with ThreadPoolExecutor(max_workers=count) as pool:
            return list(pool.map(one, range(count)))


def test_parallel_limit_refuses_the_fifth_request() -> None:
    with FakeMarket(parallel_limit=4, latency=0.3, today=TODAY) as market:
        setup_shop(market)

        responses = burst(market, 8)

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 4 + [420] * 4
        refused = [r for r in responses if r.status_code == 420]
        assert error_of(refused[0]) == (
            420,
            "LIMIT_EXCEEDED",
            f"Hit rate limit of '4' parallel requests for campaign '{CAMPAIGN}'",
        )
        until = parsedate_to_datetime(refused[0].headers["X-RateLimit-Resource-Until"])
        assert until > datetime.datetime.now(datetime.UTC)
        assert market.max_in_flight[CAMPAIGN] == 4
        assert market.parallel_rejections == 4
        assert len(market.order(CAMPAIGN, ORDER).track_codes) == 4

        # Refused requests must not have kept their slots.
        assert [r.status_code for r in burst(market, 4)] == [200] * 4


def test_no_parallel_limit_lets_all_through() -> None:
    with FakeMarket(parallel_limit=None, latency=0.3, today=TODAY) as market:
        setup_shop(market)

        responses = burst(market, 8)

        assert [r.status_code for r in responses] == [200] * 8
        assert market.max_in_flight[CAMPAIGN] == 8
        assert market.parallel_rejections == 0


def test_slot_is_free_when_the_answer_arrives() -> None:
    with FakeMarket(parallel_limit=1, today=TODAY) as market, new_client(market) as http:
        setup_shop(market)

        statuses = [http.get(f"/v2/campaigns/{CAMPAIGN}").status_code for _ in range(30)]

        assert statuses == [200] * 30


def test_hourly_limit_headers_and_refusal() -> None:
    with FakeMarket(hourly_limit=2, today=TODAY) as market, new_client(market) as http:
        setup_shop(market)
        path = f"/v2/campaigns/{CAMPAIGN}"

        first, second, third = (http.get(path) for _ in range(3))

        assert first.headers["X-RateLimit-Resource-Limit"] == "2"
        assert first.headers["X-RateLimit-Resource-Remaining"] == "1"
        assert second.headers["X-RateLimit-Resource-Remaining"] == "0"
        until = parsedate_to_datetime(first.headers["X-RateLimit-Resource-Until"])
        ahead = until - datetime.datetime.now(datetime.UTC)
        assert datetime.timedelta(minutes=59) < ahead <= datetime.timedelta(hours=1, seconds=1)
        assert error_of(third) == (
            420,
            "LIMIT_EXCEEDED",
            f"Hit rate limit of '2' requests per '1h' for resource 'getCampaign' "
            f"for campaign '{CAMPAIGN}'",
        )
        assert third.headers["X-RateLimit-Resource-Remaining"] == "0"
        # Each operation has its own counter.
        assert http.post(TRACK, json=TRACK_BODY).status_code == 200


def test_hourly_limit_counts_4xx_but_not_5xx() -> None:
    with FakeMarket(hourly_limit=10, today=TODAY) as market, new_client(market) as http:
        setup_shop(market)
        market.fail_next(ORDER, Fault.server_error(), Fault.server_error(503))

        remaining = [
            http.post(TRACK, json=TRACK_BODY).headers["X-RateLimit-Resource-Remaining"],
            http.post(TRACK, json=TRACK_BODY).headers["X-RateLimit-Resource-Remaining"],
            http.post(TRACK, json={}).headers["X-RateLimit-Resource-Remaining"],
            http.post(TRACK, json=TRACK_BODY).headers["X-RateLimit-Resource-Remaining"],
        ]

        assert remaining == ["10", "10", "9", "8"]


def test_no_rate_headers_without_hourly_limit(client: httpx.Client) -> None:
    response = client.get(f"/v2/campaigns/{CAMPAIGN}")

    assert "X-RateLimit-Resource-Remaining" not in response.headers


# -- scripted faults -----------------------------------------------------------------------


def test_faults_are_consumed_in_order(market: FakeMarket, client: httpx.Client) -> None:
    until = datetime.datetime(2025, 3, 10, 12, 0, 5, tzinfo=datetime.UTC)
    market.fail_next(
        ORDER,
        Fault.server_error(503),
        Fault.rate_limited(until=until, kind="hourly"),
        Fault.custom(400, "Illegal input at 'trackCode'"),
    )

    first = client.post(TRACK, json=TRACK_BODY)
    second = client.put(DATE, json=date_body(TODAY))
    third = client.post(TRACK, json=TRACK_BODY)
    fourth = client.post(TRACK, json=TRACK_BODY)

    assert error_of(first) == (
        503,
        "OTHER",
        "Service temporarily unavailable. Please, try again later",
    )
    assert error_of(second) == (
        420,
        "LIMIT_EXCEEDED",
        "Hit rate limit of '10000' requests per '1h' for resource 'setOrderDeliveryDate' "
        f"for campaign '{CAMPAIGN}'",
    )
    assert second.headers["X-RateLimit-Resource-Until"] == "Mon, 10 Mar 2025 12:00:05 GMT"
    assert error_of(third) == (400, "BAD_REQUEST", "Illegal input at 'trackCode'")
    assert fourth.status_code == 200
    assert market.order(CAMPAIGN, ORDER).track_codes == [("RR123456789RU", 48)]
    assert market.order(CAMPAIGN, ORDER).delivery_date == DELIVERY


def test_faults_belong_to_their_order(market: FakeMarket, client: httpx.Client) -> None:
    market.add_order(CAMPAIGN, 5002)
    market.fail_next(5002, Fault.server_error())

    assert client.post(TRACK, json=TRACK_BODY).status_code == 200
    path = f"/v2/campaigns/{CAMPAIGN}/orders/5002/delivery/track"
    assert client.post(path, json=TRACK_BODY).status_code == 500


def test_parallel_rate_limit_fault(market: FakeMarket, client: httpx.Client) -> None:
    until = datetime.datetime(2025, 3, 10, 12, 0, 1, tzinfo=datetime.UTC)
    market.fail_next(ORDER, Fault.rate_limited(until=until))

    response = client.post(TRACK, json=TRACK_BODY)

    assert error_of(response) == (
        420,
        "LIMIT_EXCEEDED",
        f"Hit rate limit of '4' parallel requests for campaign '{CAMPAIGN}'",
    )
    assert response.headers["X-RateLimit-Resource-Until"] == "Mon, 10 Mar 2025 12:00:01 GMT"


def test_non_json_error_page(market: FakeMarket, client: httpx.Client) -> None:
    market.fail_next(ORDER, Fault.non_json())

    response = client.post(TRACK, json=TRACK_BODY)

    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<html>")
    with pytest.raises(ValueError):
        response.json()


def test_slow_fault_then_normal_answer(market: FakeMarket, client: httpx.Client) -> None:
    market.fail_next(ORDER, Fault.slow(0.2))

    began = time.monotonic()
    response = client.post(TRACK, json=TRACK_BODY)

    assert time.monotonic() - began >= 0.2
    assert response.status_code == 200
    assert market.order(CAMPAIGN, ORDER).track_codes == [("RR123456789RU", 48)]


def wait_for(condition: Any, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_client_timeout_does_not_break_the_server(market: FakeMarket) -> None:
    market.fail_next(ORDER, Fault.slow(0.4))

    with new_client(market, timeout=0.1) as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.post(TRACK, json=TRACK_BODY)
    # The slow request still finishes on the server and finds its client gone.
    wait_for(lambda: len(market.requests_for("setOrderDeliveryTrackCode")) == 1)
    time.sleep(0.05)

    with new_client(market) as http:
        assert http.post(TRACK, json=TRACK_BODY).status_code == 200
    assert len(market.order(CAMPAIGN, ORDER).track_codes) == 2


def test_faulted_request_counts_in_flight() -> None:
    with FakeMarket(parallel_limit=1, today=TODAY) as market, new_client(market) as http:
        setup_shop(market)
        market.fail_next(ORDER, Fault.slow(0.3))

        with ThreadPoolExecutor(max_workers=1) as pool:
            slow = pool.submit(http.post, TRACK, json=TRACK_BODY)
            wait_for(lambda: market.max_in_flight.get(CAMPAIGN) == 1)
            refused = http.get(f"/v2/campaigns/{CAMPAIGN}")

        assert slow.result().status_code == 200
        assert refused.status_code == 420


def test_stop_is_prompt_with_slow_requests_pending() -> None:
    market = FakeMarket(today=TODAY).start()
    setup_shop(market)
    market.fail_next(ORDER, Fault.slow(30))
    errors: list[BaseException] = []

    def send() -> None:
        with new_client(market, timeout=10) as http:
            try:
                http.post(TRACK, json=TRACK_BODY)
            except httpx.HTTPError as exc:
                errors.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    wait_for(lambda: market.max_in_flight.get(CAMPAIGN) == 1)

    began = time.monotonic()
    market.stop()
    sender.join(timeout=5)

    assert time.monotonic() - began < 2
    assert not sender.is_alive()
    assert len(errors) == 1


# -- records -------------------------------------------------------------------------------


def test_records_describe_requests_without_the_key(
    market: FakeMarket, client: httpx.Client
) -> None:
    client.post(TRACK, json=TRACK_BODY)
    client.get(f"/v2/campaigns/{CAMPAIGN}", headers={"Api-Key": ""})
    with new_client(market, key=None) as http:
        http.get(f"/v2/campaigns/{CAMPAIGN}", headers={"Authorization": f"Bearer {KEY}"})

    track, no_key, bearer = market.records
    assert track.method == "POST"
    assert track.path == TRACK
    assert (track.campaign_id, track.order_id) == (CAMPAIGN, ORDER)
    assert track.operation == "setOrderDeliveryTrackCode"
    assert track.body == TRACK_BODY
    assert track.api_key_seen is True
    assert track.status == 200
    assert track.started <= track.finished
    assert (no_key.operation, no_key.api_key_seen, no_key.status) == ("getCampaign", False, 401)
    assert (bearer.api_key_seen, bearer.status, bearer.body) == (False, 401, None)
    dump = repr(market.records)
    assert KEY not in dump
    assert KEY.split(":")[1] not in dump


def test_requests_for_and_reset(market: FakeMarket, client: httpx.Client) -> None:
    client.get(f"/v2/campaigns/{CAMPAIGN}")
    client.post(TRACK, json=TRACK_BODY)
    client.post(TRACK, json=TRACK_BODY)

    assert len(market.requests_for("setOrderDeliveryTrackCode")) == 2
    assert len(market.requests_for("getCampaign")) == 1
    assert market.max_in_flight[CAMPAIGN] == 1

    market.reset_records()

    assert market.records == []
    assert market.max_in_flight == {}
    assert market.parallel_rejections == 0
