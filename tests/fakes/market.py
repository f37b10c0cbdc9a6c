"""A fake Yandex Market Partner API served over real HTTP on 127.0.0.1.

Operations (DBS model), with the documented error envelope
``{"status": "ERROR", "errors": [{"code", "message"}]}`` and the documented messages verbatim
(``tests/data/error-messages.json``); where the docs give no wording, the fake's own is marked:

- getCampaign ``GET /v2/campaigns/{campaignId}``, getDeliveryServices ``GET /v2/delivery/services``;
- getAuthTokenInfo ``POST /v2/auth/token``: the key's name and scopes (ApiKeyScopeType);
- getBusinessOrders ``POST /v1/businesses/{businessId}/orders?pageToken=&limit=``: filters,
  30-day windows, paging (``tests/fakes/market_orders.py``, ``OrderQuery``);
- the writes: setOrderDeliveryTrackCode ``POST .../orders/{orderId}/delivery/track``,
  setOrderDeliveryDate ``PUT .../delivery/date``, updateOrderStatus ``PUT .../status`` (the DBS
  status model) and acceptOrderCancellation ``PUT .../cancellation/accept``.

Order of checks for each request, mirroring a gateway in front of the service:

1. route (unknown path or method -> 404 "Resource not found");
2. parallel limit: ``parallel_limit`` (4) per campaign for ``/v2/campaigns/{id}...`` paths,
   ``business_parallel_limit`` (6) per business for getBusinessOrders (-> 420, not counted in
   flight);
3. hourly limit per (campaign | business | whole API, operation) (-> 420);
4. ``latency_for[operation]`` (for the writes, ``latency`` by default), then for the writes the
   next scripted ``Fault`` for the order, if any;
5. authentication and access (401 / 403 / 404 campaign);
6. the operation itself (validation 400, order 404, order-state 400, 200).

Orders change as on Market: every change, through the API or through ``create_order`` /
``change_order``, sets the order's update time to the fake's clock (``now``) truncated to the
second, never backwards; successive changes within one second share that second.

Keys belong to a business, as Market keys do: a key registered through ``add_campaign`` opens
every campaign of that business and nothing else. Only the standard library is used, so the
benchmark script can import the fake without test dependencies.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import socket
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from tests.fakes.market_orders import (
    EDITS_LIMIT,
    MSK,
    BadRequest,
    FakeAddress,
    FakeItem,
    FakeOrder,
    OrderQuery,
    StatusChange,
    answer_cancellation,
    business_order,
    get_order_shape,
    json_text,
    not_allowed,
    parse_cancellation,
    parse_date,
    require,
)

__all__ = [
    "DOCUMENTED_HOURLY_LIMITS",
    "MSK",
    "FakeAddress",
    "FakeItem",
    "FakeMarket",
    "FakeOrder",
    "Fault",
    "ManualClock",
    "Recorded",
]

_UTC = datetime.UTC

WRITE_SCOPES = frozenset({"all-methods", "inventory-and-order-processing"})
READ_SCOPES = frozenset(
    {
        "all-methods",
        "all-methods:read-only",
        "settings-management",
        "finance-and-accounting",
        "offers-and-cards-management",
        "offers-and-cards-management:read-only",
        "pricing",
        "pricing:read-only",
        "inventory-and-order-processing",
        "inventory-and-order-processing:read-only",
        "promotion",
        "promotion:read-only",
        "communication",
        "supplies-management:read-only",
    }
)
ORDER_READ_SCOPES = frozenset(
    {
        "all-methods",
        "all-methods:read-only",
        "inventory-and-order-processing",
        "inventory-and-order-processing:read-only",
        "finance-and-accounting",
    }
)

# Scopes per operation as listed in the spec's x-auth-scopes.
_SCOPES: dict[str, frozenset[str]] = {
    "getCampaign": READ_SCOPES,
    "getDeliveryServices": READ_SCOPES,
    "getAuthTokenInfo": READ_SCOPES,
    "getBusinessOrders": ORDER_READ_SCOPES,
    "setOrderDeliveryTrackCode": WRITE_SCOPES,
    "setOrderDeliveryDate": WRITE_SCOPES,
    "updateOrderStatus": WRITE_SCOPES,
    "acceptOrderCancellation": WRITE_SCOPES,
}

# Requests per hour in the spec's x-resource-limit-config; pass as ``hourly_limits`` to enforce.
DOCUMENTED_HOURLY_LIMITS: dict[str, int] = {
    "getCampaign": 5_000,
    "getDeliveryServices": 5_000,
    "getAuthTokenInfo": 100,
    "getBusinessOrders": 10_000,
    "setOrderDeliveryTrackCode": 10_000,
    "setOrderDeliveryDate": 10_000,
    "updateOrderStatus": 10_000,
    "acceptOrderCancellation": 500,
}

_WRITES = frozenset(
    {
        "setOrderDeliveryTrackCode",
        "setOrderDeliveryDate",
        "updateOrderStatus",
        "acceptOrderCancellation",
    }
)
_TRACK_STATUSES = frozenset({"PROCESSING", "DELIVERY", "PICKUP"})
_DATE_STATUSES = frozenset({"PROCESSING", "DELIVERY"})
_REASONS = frozenset({"USER_MOVED_DELIVERY_DATES", "PARTNER_MOVED_DELIVERY_DATES"})
# FakeOrder fields that change_order may not touch: identity and the two clocks.
_FIXED_FIELDS = frozenset({"campaign_id", "order_id", "created_at", "updated_at"})

_DISABLED_MESSAGES = {
    "DISABLED_BY_INACTIVITY": "API for campaign '{cid}' disabled due to inactivity",
    "DISABLED_BY_NO_ACTIVE_CONTRACT": (
        "API for campaign '{cid}' disabled because there are no active contracts with Market"
    ),
    "MANUALLY_DISABLED": "API for campaign '{cid}' manually disabled",
    "DISABLED_BY_NO_PLACEMENT_TYPE": (
        "API for campaign '{cid}' disabled because it has no placement program"
    ),
}

DEFAULT_DELIVERY_SERVICES: tuple[tuple[int, str], ...] = (
    (48, "Почта России"),
    (51, "СДЭК"),
    (52, "Boxberry"),
    (106, "Яндекс Доставка"),
    (107, "Яндекс Go"),
    (1003, "DPD"),
)
_UNKNOWN_SERVICE_NAME = "Собственная служба"

_ORDER_PATH = r"^/v2/campaigns/(?P<cid>\d+)/orders/(?P<oid>\d+)"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("GET", re.compile(r"^/v2/campaigns/(?P<cid>\d+)$"), "getCampaign"),
    ("POST", re.compile(_ORDER_PATH + r"/delivery/track$"), "setOrderDeliveryTrackCode"),
    ("PUT", re.compile(_ORDER_PATH + r"/delivery/date$"), "setOrderDeliveryDate"),
    ("PUT", re.compile(_ORDER_PATH + r"/status$"), "updateOrderStatus"),
    ("PUT", re.compile(_ORDER_PATH + r"/cancellation/accept$"), "acceptOrderCancellation"),
    ("GET", re.compile(r"^/v2/delivery/services$"), "getDeliveryServices"),
    ("POST", re.compile(r"^/v2/auth/token$"), "getAuthTokenInfo"),
    ("POST", re.compile(r"^/v1/businesses/(?P<bid>\d+)/orders$"), "getBusinessOrders"),
)
_CAMPAIGN_PATH = re.compile(r"^/v2/campaigns/(\d+)(?:/|$)")

_HTML_ERROR_PAGE = (
    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def http_date(moment: datetime.datetime) -> str:
    """Format an aware (or naive, taken as UTC) datetime as an HTTP date in GMT."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return format_datetime(moment.astimezone(_UTC), usegmt=True)


def error_body(code: str, message: str) -> dict[str, Any]:
    """Return Market's error envelope with one error."""
    return {"status": "ERROR", "errors": [{"code": code, "message": message}]}


def api_scope(scope: str) -> str:
    """A method-page scope name as ApiKeyScopeType: "pricing:read-only" -> "PRICING_READ_ONLY"."""
    return scope.replace(":", "_").replace("-", "_").upper()


def _ceil_to_second(moment: datetime.datetime) -> datetime.datetime:
    # HTTP dates drop sub-second precision; rounding up keeps "until" from lying early.
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + datetime.timedelta(seconds=1)
    return moment


@dataclass(frozen=True)
class Fault:
    """A scripted answer for one write request.

    ``delay`` seconds pass first (the request counts in flight meanwhile). A ``slow`` fault then
    lets the request proceed normally; any other fault answers ``status`` with ``body`` (a dict is
    sent as JSON, a str as is, None as an empty body) and ``headers``. In dict bodies the tokens
    ``{campaign_id}``, ``{order_id}`` and ``{operation}`` inside messages are filled in when served.
    """

    status: int
    body: str | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    passthrough: bool = False
    after_applying: bool = False

    @classmethod
    def rate_limited(
        cls,
        *,
        until: datetime.datetime,
        kind: Literal["parallel", "hourly"] = "parallel",
        limit: int | None = None,
    ) -> Fault:
        """A 420 with the documented message and ``X-RateLimit-Resource-Until: <until>``.

        ``limit`` defaults to 4 for ``parallel`` and 10000 for ``hourly``; a naive ``until`` is
        taken as UTC.
        """
        if kind == "parallel":
            n = 4 if limit is None else limit
            message = f"Hit rate limit of '{n}' parallel requests for campaign '{{campaign_id}}'"
        else:
            n = 10_000 if limit is None else limit
            message = (
                f"Hit rate limit of '{n}' requests per '1h' for resource '{{operation}}' "
                "for campaign '{campaign_id}'"
            )
        return cls(
            status=420,
            body=error_body("LIMIT_EXCEEDED", message),
            headers={"X-RateLimit-Resource-Until": http_date(until)},
        )

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """A Market failure: 503 carries the documented message, other statuses a generic one."""
        if status == 503:
            body = error_body("OTHER", "Service temporarily unavailable. Please, try again later")
        else:
            body = error_body("INTERNAL_ERROR", "Internal server error")
        return cls(status=status, body=body)

    @classmethod
    def non_json(cls, status: int = 502) -> Fault:
        """An HTML error page, as a proxy in front of Market sends it."""
        return cls(
            status=status,
            body=_HTML_ERROR_PAGE.format(status=status),
            headers={"Content-Type": "text/html"},
        )

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Wait ``seconds``, then answer normally (longer than a client timeout = a timeout)."""
        return cls(status=0, delay=seconds, passthrough=True)

    @classmethod
    def custom(cls, status: int, message: str, code: str = "BAD_REQUEST") -> Fault:
        """Any status with the Market error envelope carrying ``code`` and ``message``."""
        return cls(status=status, body=error_body(code, message))

    @classmethod
    def ok_body(cls, body: str | dict[str, Any] | None, content_type: str | None = None) -> Fault:
        """A 200 with ``body`` instead of the real answer; the write is not applied.

        For answers a client must not trust on the status alone: ``{"status": "ERROR"}``, an
        empty body, an HTML page (``content_type="text/html"``).
        """
        headers = {} if content_type is None else {"Content-Type": content_type}
        return cls(status=200, body=body, headers=headers)

    @classmethod
    def answer_lost(
        cls, body: str | dict[str, Any] | None = "<html>502</html>", status: int = 200
    ) -> Fault:
        """The write IS applied, then answered with ``status`` and ``body`` instead of Market's
        answer: a proxy garbling the reply, an answer lost on the way back."""
        return cls(status=status, body=body, after_applying=True)


class ManualClock:
    """A clock for ``FakeMarket(now=...)`` that moves only when told (same-second changes)."""

    def __init__(self, moment: datetime.datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime.datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += datetime.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Recorded:
    """One request as the fake saw it. The Api-Key itself is never kept, only whether it came."""

    method: str
    path: str
    campaign_id: int | None
    order_id: int | None
    operation: str
    body: dict[str, Any] | None
    api_key_seen: bool
    status: int
    started: float
    finished: float


@dataclass
class _Campaign:
    campaign_id: int
    domain: str
    business_id: int
    business_name: str
    placement_type: str
    api_availability: str


@dataclass
class _Key:
    business_id: int
    scopes: frozenset[str]
    name: str
    revoked: bool = False


@dataclass
class _Window:
    count: int
    until: datetime.datetime


@dataclass
class _Answer:
    status: int
    body: str | dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


class _Rejected(Exception):
    """Raised inside request processing to answer early with an error."""

    def __init__(self, answer: _Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _reject(status: int, code: str, message: str) -> _Rejected:
    return _Rejected(_Answer(status, error_body(code, message)))


class FakeMarket:
    """A fake Market Partner API on ``base_url`` (``http://127.0.0.1:<port>``).

    ``parallel_limit``: requests allowed in flight per campaign (None = unlimited).
    ``business_parallel_limit``: getBusinessOrders requests in flight per business (None =
    unlimited); counted apart from the campaign limit.
    ``latency``: seconds every write request waits, counted in flight, before answering.
    ``latency_for``: seconds per operation name (e.g. ``{"getBusinessOrders": 0.5}``), for any
    operation; for a write it replaces ``latency``.
    ``hourly_limit``: requests per hour per (campaign | business | whole API, operation)
    (None = unlimited, and then no ``X-RateLimit-*`` headers are sent); ``hourly_limits`` sets it
    per operation name (e.g. ``DOCUMENTED_HOURLY_LIMITS``) and wins over ``hourly_limit``.
    ``now``: the fake's clock, returning an aware datetime; or ``today``: a fixed day at the real
    time of day. Default: the real time. It stamps order changes and is "today" for the date rules
    (days limit of setOrderDeliveryDate, realDeliveryDate, the 30 days of getBusinessOrders).
    """

    def __init__(
        self,
        *,
        parallel_limit: int | None = 4,
        business_parallel_limit: int | None = 6,
        latency: float = 0.0,
        latency_for: dict[str, float] | None = None,
        hourly_limit: int | None = None,
        hourly_limits: dict[str, int] | None = None,
        today: datetime.date | None = None,
        now: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.parallel_limit = parallel_limit
        self.business_parallel_limit = business_parallel_limit
        self.latency = latency
        self.latency_for: dict[str, float] = dict(latency_for or {})
        self.hourly_limit = hourly_limit
        self.hourly_limits: dict[str, int] = dict(hourly_limits or {})
        self.delivery_services: list[tuple[int, str]] = list(DEFAULT_DELIVERY_SERVICES)
        self.records: list[Recorded] = []
        self.max_in_flight: dict[int, int] = {}
        self.max_in_flight_business: dict[int, int] = {}
        self.parallel_rejections = 0
        self.late_without_real_date: list[tuple[int, int]] = []
        self.base_url = ""
        self._day = today
        self._clock = now
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._campaigns: dict[int, _Campaign] = {}
        self._keys: dict[str, _Key] = {}
        self._orders: dict[tuple[int, int], FakeOrder] = {}
        self._faults: dict[int, deque[Fault]] = {}
        self._in_flight: dict[tuple[str, int], int] = {}
        self._windows: dict[tuple[str, int | None, str], _Window] = {}
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeMarket:
        """Bind an ephemeral port on 127.0.0.1 and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeMarket is already started")
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.market = self
        self._server = server
        host, port = server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits up to one interval
            name="fake-market",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes requests still sleeping and cuts open connections. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        # Cut connections before waking sleeping requests, so that their clients see the
        # server go away rather than a late answer.
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def __enter__(self) -> FakeMarket:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- clock -----------------------------------------------------------------------------

    def now(self) -> datetime.datetime:
        """The fake's current time, in Moscow time."""
        if self._clock is not None:
            return self._clock().astimezone(MSK)
        moment = datetime.datetime.now(MSK)
        if self._day is not None:
            moment = datetime.datetime.combine(self._day, moment.timetz())
        return moment

    @property
    def today(self) -> datetime.date:
        """The fake's current day in Moscow."""
        return self.now().date()

    # -- set-up ----------------------------------------------------------------------------

    def add_campaign(
        self,
        campaign_id: int,
        api_key: str,
        *,
        domain: str = "shop.example",
        business_id: int = 1000,
        business_name: str = "Shop",
        placement_type: str = "DBS",
        api_availability: str = "AVAILABLE",
        scopes: tuple[str, ...] = ("inventory-and-order-processing",),
        key_name: str = "Ключ для бота",
    ) -> None:
        """Register a campaign and a key of its business (the key's scopes and name are replaced).

        ``scopes`` are written as on the method pages (``all-methods``, ``pricing:read-only``);
        getAuthTokenInfo serves them as ApiKeyScopeType (``ALL_METHODS``, ``PRICING_READ_ONLY``).
        Raises ValueError if ``api_key`` is already registered for another business.
        """
        with self._lock:
            known = self._keys.get(api_key)
            if known is not None and known.business_id != business_id:
                raise ValueError("this key already belongs to another business")
            self._campaigns[campaign_id] = _Campaign(
                campaign_id, domain, business_id, business_name, placement_type, api_availability
            )
            revoked = known.revoked if known is not None else False
            self._keys[api_key] = _Key(business_id, frozenset(scopes), key_name, revoked)

    def revoke_key(self, api_key: str) -> None:
        """Later calls with this key get 401 "Api-Key token is revoked"."""
        with self._lock:
            self._keys[api_key].revoked = True

    def disable_api(self, campaign_id: int) -> None:
        """The campaign's API becomes DISABLED_BY_INACTIVITY: its endpoints answer 403."""
        with self._lock:
            self._campaigns[campaign_id].api_availability = "DISABLED_BY_INACTIVITY"

    def create_order(
        self,
        campaign_id: int,
        order_id: int,
        *,
        created_at: datetime.datetime | None = None,
        **details: Any,
    ) -> FakeOrder:
        """Place (or replace) an order as Market would; returns the live order.

        ``details`` are ``FakeOrder`` fields: ``status``, ``substatus``, ``items`` (``FakeItem``),
        ``total``, ``delivery_date``, ``delivery_from``, ``delivery_time``, ``delivery_type``,
        ``service_id``, ``address`` (``FakeAddress``), ``track_codes``, ``cancel_requested``,
        ``fake``, ``edits_left``, ``days_limit``. ``created_at`` (aware) defaults to now; the
        update time starts at it, to the second.
        """
        moment = self.now() if created_at is None else created_at
        if moment.tzinfo is None:
            raise ValueError("created_at must be an aware datetime")
        order = FakeOrder(campaign_id, order_id, moment, moment.replace(microsecond=0), **details)
        with self._lock:
            self._orders[campaign_id, order_id] = order
        return order

    def add_order(self, campaign_id: int, order_id: int, **details: Any) -> None:
        """Create (or replace) an order of a campaign: ``create_order`` without the result."""
        self.create_order(campaign_id, order_id, **details)

    def change_order(
        self,
        campaign_id: int,
        order_id: int,
        *,
        track: tuple[str, int] | None = None,
        **changes: Any,
    ) -> FakeOrder:
        """Change an order as Market would (buyer, courier, support); bumps its update time.

        ``changes`` are ``FakeOrder`` fields (``status``, ``substatus``, ``delivery_date``,
        ``cancel_requested``, ``real_delivery_date``, ...); ``track`` adds a (trackCode,
        deliveryServiceId) pair. Raises KeyError for an unknown order and TypeError for a field
        that does not exist or never changes (ids, creation and update times).
        """
        unknown = changes.keys() - ({f.name for f in fields(FakeOrder)} - _FIXED_FIELDS)
        if unknown:
            raise TypeError(f"change_order() cannot change {sorted(unknown)}")
        with self._lock:
            order = self._orders[campaign_id, order_id]
            for name, value in changes.items():
                setattr(order, name, value)
            if track is not None:
                order.track_codes.append(track)
            order.touch(self.now())
        return order

    def order(self, campaign_id: int, order_id: int) -> FakeOrder:
        """The live state of an order. Raises KeyError if it was never added."""
        with self._lock:
            return self._orders[campaign_id, order_id]

    def fail_next(self, order_id: int, *faults: Fault) -> None:
        """Queue faults: each next write request for ``order_id`` consumes one, in order.

        Writes are setOrderDeliveryTrackCode, setOrderDeliveryDate, updateOrderStatus and
        acceptOrderCancellation.
        """
        with self._lock:
            self._faults.setdefault(order_id, deque()).extend(faults)

    # -- observation -----------------------------------------------------------------------

    def requests_for(self, operation: str) -> list[Recorded]:
        """Recorded requests of one operation, e.g. "setOrderDeliveryTrackCode"."""
        with self._lock:
            return [r for r in self.records if r.operation == operation]

    def reset_records(self) -> None:
        """Forget records, in-flight maxima, ``parallel_rejections`` and
        ``late_without_real_date`` (not hourly counters)."""
        with self._lock:
            self.records.clear()
            self.max_in_flight.clear()
            self.max_in_flight_business.clear()
            self.parallel_rejections = 0
            self.late_without_real_date.clear()

    # -- request processing (called from handler threads) ----------------------------------

    def _sleep(self, seconds: float) -> None:
        # An Event wait rather than time.sleep so that stop() wakes pending requests.
        if seconds > 0:
            self._stopping.wait(seconds)

    def _enter(self, kind: Literal["campaign", "business"], entity_id: int) -> _Answer | None:
        """Take an in-flight slot of the campaign or business; a 420 answer when none is free."""
        limit = self.parallel_limit if kind == "campaign" else self.business_parallel_limit
        maxima = self.max_in_flight if kind == "campaign" else self.max_in_flight_business
        with self._lock:
            now_in = self._in_flight.get((kind, entity_id), 0) + 1
            if limit is not None and now_in > limit:
                self.parallel_rejections += 1
                until = _ceil_to_second(datetime.datetime.now(_UTC) + datetime.timedelta(seconds=1))
                message = f"Hit rate limit of '{limit}' parallel requests for {kind} '{entity_id}'"
                return _Answer(
                    420,
                    error_body("LIMIT_EXCEEDED", message),
                    {"X-RateLimit-Resource-Until": http_date(until)},
                )
            self._in_flight[kind, entity_id] = now_in
            maxima[entity_id] = max(maxima.get(entity_id, 0), now_in)
            return None

    def _leave(self, kind: str, entity_id: int) -> None:
        with self._lock:
            self._in_flight[kind, entity_id] -= 1

    def _hourly_limit_for(self, operation: str) -> int | None:
        return self.hourly_limits.get(operation, self.hourly_limit)

    def _hourly_key(
        self, operation: str, campaign_id: int | None, business_id: int | None
    ) -> tuple[str, int | None, str]:
        if campaign_id is not None:
            return ("campaign", campaign_id, operation)
        if business_id is not None:
            return ("business", business_id, operation)
        return ("user", None, operation)

    def _hourly_take(self, key: tuple[str, int | None, str]) -> _Answer | None:
        """Reserve one request in the hourly window; a 420 answer when the window is spent."""
        kind, entity_id, operation = key
        limit = self._hourly_limit_for(operation)
        if limit is None:
            return None
        now = datetime.datetime.now(_UTC)
        with self._lock:
            window = self._windows.get(key)
            if window is None or now >= window.until:
                # The window starts at the first request, so tests never straddle an hour edge.
                window = _Window(0, _ceil_to_second(now + datetime.timedelta(hours=1)))
                self._windows[key] = window
            if window.count >= limit:
                entity = f"{kind} '{entity_id}'" if entity_id is not None else kind
                message = (
                    f"Hit rate limit of '{limit}' requests per '1h' for resource "
                    f"'{operation}' for {entity}"
                )
                return _Answer(420, error_body("LIMIT_EXCEEDED", message))
            window.count += 1
            return None

    def _hourly_settle(self, key: tuple[str, int | None, str], status: int, taken: bool) -> None:
        with self._lock:
            window = self._windows[key]
            if taken and status >= 500:
                window.count -= 1  # Market does not charge its own failures.

    def _hourly_headers(self, key: tuple[str, int | None, str], limit: int) -> dict[str, str]:
        with self._lock:
            window = self._windows[key]
            remaining = max(0, limit - window.count)
            until = window.until
        return {
            "X-RateLimit-Resource-Limit": str(limit),
            "X-RateLimit-Resource-Remaining": str(remaining),
            "X-RateLimit-Resource-Until": http_date(until),
        }

    def _next_fault(self, order_id: int) -> Fault | None:
        with self._lock:
            queue = self._faults.get(order_id)
            return queue.popleft() if queue else None

    def _authenticate(self, headers: Any, operation: str) -> _Key:
        api_key = headers.get("Api-Key")
        if not api_key:
            if headers.get("Authorization", "").startswith("Bearer "):
                raise _reject(401, "UNAUTHORIZED", "Api-Key token prefix invalid")
            raise _reject(401, "UNAUTHORIZED", "Api-Key token is not specified")
        with self._lock:
            key = self._keys.get(api_key)
        if key is None:
            raise _reject(401, "UNAUTHORIZED", "Api-Key token is invalid")
        if key.revoked:
            raise _reject(401, "UNAUTHORIZED", "Api-Key token is revoked")
        if not key.scopes & _SCOPES[operation]:
            raise _reject(
                403, "FORBIDDEN", "Token does not have any of the scopes to access the API method"
            )
        return key

    def _campaign_for(self, key: _Key, campaign_id: int) -> _Campaign:
        with self._lock:
            campaign = self._campaigns.get(campaign_id)
        if campaign is None:
            raise _reject(404, "NOT_FOUND", f"Campaign not found '{campaign_id}'")
        if campaign.business_id != key.business_id:
            raise _reject(403, "FORBIDDEN", "Access denied")
        disabled = _DISABLED_MESSAGES.get(campaign.api_availability)
        if disabled is not None:
            raise _reject(403, "FORBIDDEN", disabled.format(cid=campaign_id))
        return campaign

    def _dispatch(
        self,
        operation: str,
        params: dict[str, int],
        query: dict[str, list[str]],
        headers: Any,
        raw_body: bytes,
        body: Any,
    ) -> _Answer:
        key = self._authenticate(headers, operation)
        if operation == "getAuthTokenInfo":
            scopes = sorted(api_scope(scope) for scope in key.scopes)
            api_key = {"name": key.name, "authScopes": scopes}
            return _Answer(200, {"status": "OK", "result": {"apiKey": api_key}})
        if operation == "getDeliveryServices":
            with self._lock:
                services = [{"id": i, "name": n} for i, n in self.delivery_services]
            return _Answer(200, {"result": {"deliveryService": services}})
        if operation == "getBusinessOrders":
            return self._get_business_orders(key, params["bid"], query, raw_body, body)
        campaign = self._campaign_for(key, params["cid"])
        if operation == "getCampaign":
            return _Answer(
                200,
                {
                    "campaign": {
                        "id": campaign.campaign_id,
                        "domain": campaign.domain,
                        "clientId": campaign.business_id * 10 + 7,
                        "business": {"id": campaign.business_id, "name": campaign.business_name},
                        "placementType": campaign.placement_type,
                        "apiAvailability": campaign.api_availability,
                    }
                },
            )
        write = {
            "setOrderDeliveryTrackCode": self._set_track,
            "setOrderDeliveryDate": self._set_date,
            "updateOrderStatus": self._update_status,
            "acceptOrderCancellation": self._accept_cancellation,
        }[operation]
        return write(params["cid"], params["oid"], self._require_object(raw_body, body))

    @staticmethod
    def _require_object(raw_body: bytes, body: Any) -> dict[str, Any]:
        if not raw_body.strip():
            raise BadRequest("Required request body is missing")
        if body is _UNPARSEABLE:
            raise BadRequest(f"JSON: {_json_error(raw_body)}")
        if not isinstance(body, dict):
            raise BadRequest(f"Type mismatch: '{json_text(body)}'")
        return body

    def _find(self, cid: int, oid: int, missing: str) -> FakeOrder:
        """The order (call with the lock held), or 404 with the operation's ``missing`` text."""
        order = self._orders.get((cid, oid))
        if order is None:
            raise _reject(404, "NOT_FOUND", missing)
        return order

    def _service_name(self, service_id: int) -> str:
        """The delivery service's name (call with the lock held)."""
        return dict(self.delivery_services).get(service_id, _UNKNOWN_SERVICE_NAME)

    def _set_track(self, cid: int, oid: int, data: dict[str, Any]) -> _Answer:
        track = require(data, "trackCode")
        if not isinstance(track, str):
            raise BadRequest(f"Type mismatch: '{json_text(track)}'")
        service = require(data, "deliveryServiceId")
        if isinstance(service, bool) or not isinstance(service, int):
            raise BadRequest(f"Type mismatch: '{json_text(service)}'")
        with self._lock:
            order = self._find(cid, oid, f"Campaign '{cid}' has no order id '{oid}'")
            if order.status not in _TRACK_STATUSES:
                raise not_allowed(order)
            order.track_codes.append((track, service))
            order.touch(self.now())
        return _Answer(200, {"status": "OK"})

    def _set_date(self, cid: int, oid: int, data: dict[str, Any]) -> _Answer:
        dates = require(data, "dates")
        if not isinstance(dates, dict):
            raise BadRequest(f"Type mismatch: '{json_text(dates)}'")
        to_date = parse_date(require(dates, "toDate"))
        reason = require(data, "reason")
        if reason not in _REASONS:
            raise BadRequest(f"Type mismatch: '{json_text(reason)}'")
        with self._lock:
            order = self._find(cid, oid, f"Order not found: '{oid}'")
            if order.status not in _DATE_STATUSES:
                raise not_allowed(order)
            if order.delivery_date == to_date:
                raise BadRequest("New delivery dates are the same as the current!")
            if order.edits_left <= 0:
                raise BadRequest(
                    f"Exceeded the number of edits of delivery dates! limit is: '{EDITS_LIMIT}'"
                )
            if to_date > self.today + datetime.timedelta(days=order.days_limit):
                raise BadRequest(
                    "Exceeded the number of days to edit delivery dates! "
                    f"limit is: '{order.days_limit}' days"
                )
            order.delivery_date, order.delivery_from = to_date, None
            order.edits_left -= 1
            order.touch(self.now())
        return _Answer(200, {"status": "OK"})

    def _update_status(self, cid: int, oid: int, data: dict[str, Any]) -> _Answer:
        change = StatusChange.parse(data)
        with self._lock:
            order = self._find(cid, oid, f"Order not found: '{oid}'")
            if change.apply(order, self.now()):
                self.late_without_real_date.append((cid, oid))
            shape = get_order_shape(order, self._service_name(order.service_id))
        return _Answer(200, {"order": shape})

    def _accept_cancellation(self, cid: int, oid: int, data: dict[str, Any]) -> _Answer:
        accepted = parse_cancellation(data)
        with self._lock:
            answer_cancellation(
                self._find(cid, oid, f"Order not found: '{oid}'"), accepted, self.now()
            )
        return _Answer(200, {"status": "OK"})

    def _get_business_orders(
        self,
        key: _Key,
        business_id: int,
        query: dict[str, list[str]],
        raw_body: bytes,
        body: Any,
    ) -> _Answer:
        if key.business_id != business_id:
            raise _reject(403, "FORBIDDEN", "Access denied")
        request = OrderQuery.parse(self._require_object(raw_body, body), query, self.now())
        with self._lock:
            programs = {
                c.campaign_id: c.placement_type
                for c in self._campaigns.values()
                if c.business_id == business_id
            }
            page, token = request.page(
                (order, programs[cid])
                for (cid, _), order in self._orders.items()
                if cid in programs
            )
            orders = [
                business_order(order, program, self._service_name(order.service_id))
                for order, program in page
            ]
        paging = {} if token is None else {"nextPageToken": token}
        return _Answer(200, {"orders": orders, "paging": paging})

    def _serve(
        self,
        handler: _Handler,
        operation: str,
        params: dict[str, int],
        query: dict[str, list[str]],
        raw_body: bytes,
        body: Any,
    ) -> _Answer:
        default_latency = self.latency if operation in _WRITES else 0.0
        self._sleep(self.latency_for.get(operation, default_latency))
        if operation in _WRITES:
            fault = self._next_fault(params["oid"])
            if fault is not None:
                self._sleep(fault.delay)
                if fault.after_applying:
                    with contextlib.suppress(_Rejected, BadRequest):
                        self._dispatch(operation, params, query, handler.headers, raw_body, body)
                if not fault.passthrough:
                    return _Answer(
                        fault.status,
                        _fill(fault.body, params, operation),
                        dict(fault.headers),
                    )
        try:
            return self._dispatch(operation, params, query, handler.headers, raw_body, body)
        except _Rejected as rejected:
            return rejected.answer
        except BadRequest as exc:
            return _Answer(400, error_body("BAD_REQUEST", str(exc)))

    def _handle(self, handler: _Handler) -> None:
        """Answer one request: gates, faults, the operation, then record and write."""
        started = time.monotonic()
        method = handler.command
        path, _, query_text = handler.path.partition("?")
        query = urllib.parse.parse_qs(query_text)
        raw_body = _read_body(handler)
        body = _parse(raw_body)
        operation, params = _route(method, path)
        path_campaign = _CAMPAIGN_PATH.match(path)
        campaign_id = int(path_campaign.group(1)) if path_campaign else None
        gate: tuple[Literal["campaign", "business"], int] | None = None
        if operation == "getBusinessOrders":
            gate = ("business", params["bid"])
        elif operation != "unknown" and campaign_id is not None:
            gate = ("campaign", campaign_id)

        entered = False
        try:
            answer: _Answer | None = None
            hourly_key: tuple[str, int | None, str] | None = None
            hourly_taken = False
            if operation == "unknown":
                answer = _Answer(404, error_body("NOT_FOUND", "Resource not found"))
            elif gate is not None:
                answer = self._enter(*gate)
                entered = answer is None
            if answer is None:
                hourly_key = self._hourly_key(operation, params.get("cid"), params.get("bid"))
                answer = self._hourly_take(hourly_key)
                hourly_taken = answer is None
            if answer is None:
                answer = self._serve(handler, operation, params, query, raw_body, body)
            limit = self._hourly_limit_for(operation)
            if hourly_key is not None and limit is not None:
                self._hourly_settle(hourly_key, answer.status, hourly_taken)
                answer.headers = {**self._hourly_headers(hourly_key, limit), **answer.headers}
            with self._lock:
                self.records.append(
                    Recorded(
                        method=method,
                        path=path,
                        campaign_id=campaign_id,
                        order_id=params.get("oid"),
                        operation=operation,
                        body=body if isinstance(body, dict) else None,
                        api_key_seen=bool(handler.headers.get("Api-Key")),
                        status=answer.status,
                        started=started,
                        finished=time.monotonic(),
                    )
                )
        finally:
            # Leave before writing, so a client that sends its next request as soon as it reads
            # this answer is not refused for a slot that is, from its side, already free.
            if entered and gate is not None:
                self._leave(*gate)
        _write(handler, answer)


def _route(method: str, path: str) -> tuple[str, dict[str, int]]:
    """The operation and path parameters of a request; ("unknown", {}) when no route matches."""
    for route_method, pattern, operation in _ROUTES:
        match = pattern.match(path)
        if match is not None and route_method == method:
            return operation, {k: int(v) for k, v in match.groupdict().items()}
    return "unknown", {}


_UNPARSEABLE = object()


def _parse(raw_body: bytes) -> Any:
    if not raw_body.strip():
        return None
    try:
        return json.loads(raw_body)
    except ValueError:
        return _UNPARSEABLE


def _json_error(raw_body: bytes) -> str:
    try:
        json.loads(raw_body)
    except ValueError as exc:
        return str(exc)
    return "invalid JSON"


def _fill(
    body: str | dict[str, Any] | None, params: dict[str, int], operation: str
) -> str | dict[str, Any] | None:
    if not isinstance(body, dict):
        return body
    text = json.dumps(body, ensure_ascii=False)
    text = text.replace("{campaign_id}", str(params.get("cid", "")))
    text = text.replace("{order_id}", str(params.get("oid", "")))
    text = text.replace("{operation}", operation)
    filled: dict[str, Any] = json.loads(text)
    return filled


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailer section ends with an empty line.
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _write(handler: BaseHTTPRequestHandler, answer: _Answer) -> None:
    headers = dict(answer.headers)
    if answer.body is None:
        payload = b""
    elif isinstance(answer.body, str):
        payload = answer.body.encode()
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    else:
        payload = json.dumps(answer.body, ensure_ascii=False).encode()
        headers.setdefault("Content-Type", "application/json")
    handler.send_response(answer.status)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)
    handler.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Bursts of concurrent clients must all connect at once; a short backlog drops SYNs and
    # turns a burst into a trickle paced by TCP retransmits.
    request_queue_size = 128
    market: FakeMarket


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive like the real API, so clients pool as they would in prod.
    protocol_version = "HTTP/1.1"
    # An idle kept-alive connection frees its thread after this many seconds.
    timeout = 10
    # Headers and body go out in separate writes; Nagle plus delayed ACK would add 40 ms to each.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.market._lock:
            self.server.market._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.market._lock:
            self.server.market._connections.discard(self.connection)
        super().finish()

    def handle(self) -> None:
        # The client may have gone (timed out, or stop() cut the connection): not an error here.
        try:
            super().handle()
        except OSError:
            self.close_connection = True

    def _any(self) -> None:
        self.server.market._handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing: tests and benchmarks read ``records`` instead."""
