"""Orders of the fake Market: their state, the shapes Market serves them in, and the order rules.

``FakeMarket`` (``tests/fakes/market.py``) owns the orders and the lock; this module is pure
logic it calls into: the two served shapes (getBusinessOrders with YYYY-MM-DD dates, the getOrder
shape of updateOrderStatus with DD-MM-YYYY dates), the getBusinessOrders filters and paging, the
DBS status moves and the cancellation answer. Request errors raise ``BadRequest``, which the fake
serves as 400 ``BAD_REQUEST``. Messages are Market's documented ones where the docs have one; the
fake's own wording (marked below) is used where they have none. Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MSK", "BadRequest", "FakeAddress", "FakeItem", "FakeOrder"]

MSK = datetime.timezone(datetime.timedelta(hours=3), "MSK")
EDITS_LIMIT = 3
MAX_WINDOW = datetime.timedelta(days=30)
_DAY = datetime.timedelta(days=1)

STATUSES = frozenset(
    {
        "PLACING",
        "RESERVED",
        "UNPAID",
        "PROCESSING",
        "DELIVERY",
        "PICKUP",
        "DELIVERED",
        "CANCELLED",
        "PENDING",
        "PARTIALLY_RETURNED",
        "RETURNED",
        "UNKNOWN",
    }
)
PROGRAM_TYPES = frozenset({"FBY", "FBS", "DBS", "EXPRESS", "LAAS"})
CANCELLATION_REASONS = frozenset({"ORDER_DELIVERED", "ORDER_IN_DELIVERY"})
_HANDED_OVER = frozenset({"DELIVERY", "PICKUP"})
_ARRIVED = frozenset({"PICKUP", "DELIVERED"})
# Substatus a move gets when the request names none (PROCESSING and CANCELLED need one).
_DEFAULT_SUBSTATUS = {
    "DELIVERY": "DELIVERY_SERVICE_RECEIVED",
    "PICKUP": "PICKUP_SERVICE_RECEIVED",
    "DELIVERED": "DELIVERY_SERVICE_DELIVERED",
}
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


class BadRequest(ValueError):
    """A request Market refuses with 400 ``BAD_REQUEST`` and this message."""


def json_text(value: Any) -> str:
    """A value as Market quotes it in "Type mismatch: '<value>'"."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def require(body: dict[str, Any], name: str) -> Any:
    """``body[name]``, or the documented 400 for a missing or null field."""
    value = body.get(name)
    if value is None:
        raise BadRequest(f"'{name}' must not be null (rejected value: null)")
    return value


def parse_date(value: Any) -> datetime.date:
    """A strict YYYY-MM-DD date (the spec's ``format: date``)."""
    try:
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"Type mismatch: '{json_text(value)}'") from None


def parse_moment(value: Any) -> datetime.datetime:
    """An ISO 8601 date-time with an offset (the spec's ``format: date-time``)."""
    try:
        if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
            raise ValueError(value)
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"Type mismatch: '{json_text(value)}'") from None


@dataclass(frozen=True)
class FakeItem:
    """One line of an order: ``count`` units of ``name`` at ``price`` rubles each."""

    name: str
    count: int = 1
    price: float = 1000.0
    offer_id: str | None = None  # the shop's SKU; "SKU-<line number>" when None


@dataclass(frozen=True)
class FakeAddress:
    """Where a courier delivers (or, for a PICKUP order, the pickup point)."""

    city: str
    street: str
    house: str


@dataclass
class FakeOrder:
    """The fake's state of one order; ``FakeMarket.order`` returns the live object.

    ``delivery_date`` is the delivery interval's last day (``toDate``, the date
    setOrderDeliveryDate moves); ``delivery_from`` its first day (default: ``delivery_date``, or
    the creation day when there is none). ``track_codes`` are (trackCode, deliveryServiceId) pairs,
    served as ``delivery.tracks``. ``updated_at`` has one-second precision, as Market serves it.
    """

    campaign_id: int
    order_id: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    status: str = "PROCESSING"
    substatus: str = "STARTED"
    delivery_date: datetime.date | None = None
    delivery_from: datetime.date | None = None
    delivery_time: tuple[str, str] | None = None  # ("HH:MM", "HH:MM"), DELIVERY orders only
    real_delivery_date: datetime.date | None = None
    delivery_type: str = "DELIVERY"
    service_id: int = 51
    address: FakeAddress | None = None
    items: list[FakeItem] = field(default_factory=lambda: [FakeItem("Товар")])
    total: float | None = None  # the buyer's payment; the items' sum when None
    track_codes: list[tuple[str, int]] = field(default_factory=list)
    cancel_requested: bool = False
    fake: bool = False
    edits_left: int = EDITS_LIMIT
    days_limit: int = 30

    def touch(self, now: datetime.datetime) -> None:
        """Record a change at ``now``, truncated to the second; the time never goes back."""
        self.updated_at = max(self.updated_at, now.replace(microsecond=0))

    def items_total(self) -> float:
        return sum(item.price * item.count for item in self.items)


def not_allowed(order: FakeOrder) -> BadRequest:
    """The documented 400 for an action the order's status does not allow."""
    return BadRequest(
        f"Action is not allowed for order '{order.order_id}' with status '{order.status}' "
        f"and substatus '{order.substatus}'"
    )


# -- served shapes -------------------------------------------------------------------------


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(MSK).isoformat(timespec="seconds")


def _dmy(day: datetime.date) -> str:
    return day.strftime("%d-%m-%Y")


def _dmy_hms(moment: datetime.datetime) -> str:
    return moment.astimezone(MSK).strftime("%d-%m-%Y %H:%M:%S")


def _delivery_dates(order: FakeOrder, show: Callable[[datetime.date], str]) -> dict[str, str]:
    first = order.delivery_from or order.delivery_date or order.created_at.astimezone(MSK).date()
    dates = {"fromDate": show(first)}
    if order.delivery_date is not None:
        dates["toDate"] = show(order.delivery_date)
    if order.delivery_time is not None:
        dates["fromTime"], dates["toTime"] = order.delivery_time
    if order.real_delivery_date is not None:
        dates["realDeliveryDate"] = show(order.real_delivery_date)
    return dates


def _tracks(order: FakeOrder) -> dict[str, Any]:
    # The spec gives ``tracks`` minItems 1: an order without tracks has no such field.
    if not order.track_codes:
        return {}
    return {"tracks": [{"trackCode": t, "deliveryServiceId": s} for t, s in order.track_codes]}


def _address(order: FakeOrder) -> dict[str, str] | None:
    a = order.address
    return None if a is None else {"city": a.city, "street": a.street, "house": a.house}


def business_order(order: FakeOrder, program_type: str, service_name: str) -> dict[str, Any]:
    """One order of a getBusinessOrders answer (dates YYYY-MM-DD, times ISO 8601 with offset)."""
    rub = "RUR"
    delivery: dict[str, Any] = {
        "type": order.delivery_type,
        "serviceName": service_name,
        "deliveryServiceId": order.service_id,
        "deliveryPartnerType": "SHOP",
        "dates": _delivery_dates(order, datetime.date.isoformat),
        **_tracks(order),
    }
    address = _address(order)
    if address is not None:
        delivery["pickup" if order.delivery_type == "PICKUP" else "courier"] = {"address": address}
    total = order.items_total() if order.total is None else order.total
    return {
        "orderId": order.order_id,
        "campaignId": order.campaign_id,
        "programType": program_type,
        "status": order.status,
        "substatus": order.substatus,
        "creationDate": _iso(order.created_at),
        "updateDate": _iso(order.updated_at),
        "paymentType": "PREPAID",
        "paymentMethod": "YANDEX",
        "fake": order.fake,
        "items": [
            {
                "id": order.order_id * 100 + line,
                "offerId": item.offer_id or f"SKU-{line}",
                "offerName": item.name,
                "count": item.count,
                "prices": {"payment": {"value": item.price * item.count, "currencyId": rub}},
            }
            for line, item in enumerate(order.items, 1)
        ],
        "prices": {"payment": {"value": total, "currencyId": rub}},
        "delivery": delivery,
        "cancelRequested": order.cancel_requested,
    }


def get_order_shape(order: FakeOrder, service_name: str) -> dict[str, Any]:
    """The order as getOrder (and updateOrderStatus) serve it: dates DD-MM-YYYY."""
    items_total = order.items_total()
    total = items_total if order.total is None else order.total
    delivery: dict[str, Any] = {
        "type": order.delivery_type,
        "serviceName": service_name,
        "deliveryPartnerType": "SHOP",
        "deliveryServiceId": order.service_id,
        "dates": _delivery_dates(order, _dmy),
        **_tracks(order),
    }
    address = _address(order)
    if address is not None:
        delivery["address"] = address
    return {
        "id": order.order_id,
        "status": order.status,
        "substatus": order.substatus,
        "creationDate": _dmy_hms(order.created_at),
        "updatedAt": _dmy_hms(order.updated_at),
        "currency": "RUR",
        "itemsTotal": items_total,
        "deliveryTotal": max(total - items_total, 0),
        "buyerItemsTotalBeforeDiscount": items_total,
        "paymentType": "PREPAID",
        "paymentMethod": "YANDEX",
        "fake": order.fake,
        "items": [
            {
                "id": order.order_id * 100 + line,
                "offerId": item.offer_id or f"SKU-{line}",
                "offerName": item.name,
                "price": item.price,
                "buyerPrice": item.price,
                "buyerPriceBeforeDiscount": item.price,
                "count": item.count,
            }
            for line, item in enumerate(order.items, 1)
        ],
        "delivery": delivery,
        "buyer": {"type": "PERSON"},
        "taxSystem": "USN",
        "cancelRequested": order.cancel_requested,
    }


# -- getBusinessOrders ---------------------------------------------------------------------

# Array filters: name -> (largest allowed size, item check).
_ARRAYS: dict[str, tuple[int | None, Callable[[Any], bool]]] = {
    "orderIds": (50, lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "campaignIds": (50, lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
    "externalOrderIds": (50, lambda v: isinstance(v, str) and v != ""),
    "programTypes": (None, lambda v: v in PROGRAM_TYPES),
    "statuses": (None, lambda v: v in STATUSES),
    "substatuses": (None, lambda v: isinstance(v, str)),
    "sourcePlatforms": (None, lambda v: v in {"MARKET", "OZON", "WILDBERRIES", "OTHER"}),
}
_DATE_FIELDS = (
    "creationDateFrom",
    "creationDateTo",
    "shipmentDateFrom",
    "shipmentDateTo",
    "updateDateFrom",
    "updateDateTo",
)

SortKey = tuple[int, int, int]


def _sort_key(order: FakeOrder) -> SortKey:
    return (int(order.updated_at.timestamp()), order.order_id, order.campaign_id)


def _encode_token(key: SortKey) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_token(token: str) -> SortKey:
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not (isinstance(key, list) and len(key) == 3 and all(type(k) is int for k in key)):
            raise ValueError(token)
    except (ValueError, binascii.Error):
        raise BadRequest("Illegal input at 'pageToken'") from None
    return (key[0], key[1], key[2])


def _array(body: dict[str, Any], name: str) -> frozenset[Any] | None:
    value = body.get(name)
    if value is None:
        return None
    maximum, valid = _ARRAYS[name]
    if not isinstance(value, list):
        raise BadRequest(f"Type mismatch: '{json_text(value)}'")
    if not value or (maximum is not None and len(value) > maximum):
        raise BadRequest(f"Illegal input at '{name}'")
    for item in value:
        if not valid(item):
            raise BadRequest(f"Type mismatch: '{json_text(item)}'")
    return frozenset(value)


def _flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"Type mismatch: '{json_text(value)}'")
    return value


def _limit(query: dict[str, list[str]]) -> int:
    text = query.get("limit", ["50"])[-1]
    if not re.fullmatch(r"-?\d+", text):
        raise BadRequest(f"Type mismatch: '{text}'")
    if not 1 <= int(text) <= 50:
        raise BadRequest("Illegal input at 'limit'")
    return int(text)


def _day_window(
    dates: dict[str, Any], prefix: str, today: datetime.date
) -> tuple[datetime.date, datetime.date] | None:
    """[from, to) of creation or shipment dates; None when neither bound is given.

    Follows the spec: ``from`` defaults to 30 days before ``to``, ``to`` to today (and then today
    is included); a ``to`` equal to ``from`` means one day; at most 30 days apart.
    """
    low_text, high_text = dates.get(f"{prefix}From"), dates.get(f"{prefix}To")
    if low_text is None and high_text is None:
        return None
    high = today if high_text is None else parse_date(high_text)
    low = high - MAX_WINDOW if low_text is None else parse_date(low_text)
    if high < low:
        raise BadRequest(f"Illegal input at 'dates.{prefix}To'")  # the fake's wording
    if high - low > MAX_WINDOW:
        raise BadRequest(f"Illegal input at 'dates.{prefix}From'")  # the fake's wording
    return low, (high if high_text is not None and high > low else high + _DAY)


@dataclass(frozen=True)
class OrderQuery:
    """One getBusinessOrders request, validated: the body's filters and the query's paging.

    Date filters: creation dates are days [from, to) in Moscow time; update times are moments
    [from, to) compared with the order's ``updated_at`` (whole seconds). With no date filter at
    all, only orders created in the last 30 days (today included) match; once any date filter is
    sent, no creation default applies. Shipment dates are validated and otherwise ignored.
    """

    arrays: dict[str, frozenset[Any]]
    fake: bool | None
    waiting_for_cancellation: bool
    created: tuple[datetime.date, datetime.date] | None
    updated_from: datetime.datetime | None
    updated_to: datetime.datetime | None
    limit: int
    after: SortKey | None

    @classmethod
    def parse(
        cls, body: dict[str, Any], query: dict[str, list[str]], now: datetime.datetime
    ) -> OrderQuery:
        arrays = {name: found for name in _ARRAYS if (found := _array(body, name)) is not None}
        dates = body.get("dates") or {}
        if not isinstance(dates, dict):
            raise BadRequest(f"Type mismatch: '{json_text(dates)}'")
        today = now.astimezone(MSK).date()
        created = _day_window(dates, "creationDate", today)
        _day_window(dates, "shipmentDate", today)
        low, high = (dates.get(name) for name in ("updateDateFrom", "updateDateTo"))
        updated_from = None if low is None else parse_moment(low)
        updated_to = None if high is None else parse_moment(high)
        if updated_from is not None and updated_to is not None and updated_to < updated_from:
            raise BadRequest("Illegal input at 'dates.updateDateTo'")  # the fake's wording
        if updated_from is not None and (updated_to or now) - updated_from > MAX_WINDOW:
            raise BadRequest("Illegal input at 'dates.updateDateFrom'")  # the fake's wording
        if not any(dates.get(name) is not None for name in _DATE_FIELDS):
            created = (today - MAX_WINDOW, today + _DAY)
        token = query.get("pageToken", query.get("page_token", [None]))[-1]
        return cls(
            arrays=arrays,
            fake=_flag(body, "fake"),
            waiting_for_cancellation=bool(_flag(body, "waitingForCancellationApprove")),
            created=created,
            updated_from=updated_from,
            updated_to=updated_to,
            limit=_limit(query),
            after=None if token is None else _decode_token(token),
        )

    def matches(self, order: FakeOrder, program_type: str) -> bool:
        values = {
            "orderIds": order.order_id,
            "campaignIds": order.campaign_id,
            "programTypes": program_type,
            "statuses": order.status,
            "substatuses": order.substatus,
            "sourcePlatforms": "MARKET",
        }
        for name, allowed in self.arrays.items():
            if name == "externalOrderIds" or values[name] not in allowed:
                return False  # fake orders have no external ids
        if self.fake is not None and order.fake != self.fake:
            return False
        if self.waiting_for_cancellation and not (
            order.cancel_requested and order.status in _HANDED_OVER
        ):
            return False
        if self.created is not None:
            day = order.created_at.astimezone(MSK).date()
            if not self.created[0] <= day < self.created[1]:
                return False
        if self.updated_from is not None and order.updated_at < self.updated_from:
            return False
        return self.updated_to is None or order.updated_at < self.updated_to

    def page(
        self, orders: Iterable[tuple[FakeOrder, str]]
    ) -> tuple[list[tuple[FakeOrder, str]], str | None]:
        """The matching orders of this page, ordered by (updateDate, orderId), and the next token.

        The token holds the sort key of the page's last order, so an order changed between pages
        moves to the end and comes again rather than shifting the others out of sight.
        """
        found = sorted(
            (pair for pair in orders if self.matches(*pair)), key=lambda p: _sort_key(p[0])
        )
        if self.after is not None:
            found = [pair for pair in found if _sort_key(pair[0]) > self.after]
        page = found[: self.limit]
        more = len(found) > self.limit
        return page, _encode_token(_sort_key(page[-1][0])) if more else None


# -- updateOrderStatus and acceptOrderCancellation ------------------------------------------


@dataclass(frozen=True)
class StatusChange:
    """The body of updateOrderStatus, validated."""

    status: str
    substatus: str | None
    real_delivery_date: datetime.date | None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> StatusChange:
        order = require(body, "order")
        if not isinstance(order, dict):
            raise BadRequest(f"Type mismatch: '{json_text(order)}'")
        status = require(order, "status")
        substatus = order.get("substatus")
        for value in (status, substatus):
            if value is not None and (not isinstance(value, str) or value == ""):
                raise BadRequest(f"Type mismatch: '{json_text(value)}'")
        if status not in STATUSES:
            raise BadRequest(f"Type mismatch: '{json_text(status)}'")
        real = ((order.get("delivery") or {}).get("dates") or {}).get("realDeliveryDate")
        return cls(status, substatus, None if real is None else parse_date(real))

    def apply(self, order: FakeOrder, now: datetime.datetime) -> bool:
        """Move the order along the DBS status model; True if a late arrival had no date.

        Allowed: PROCESSING/STARTED -> PROCESSING/READY_TO_SHIP; PROCESSING -> DELIVERY,
        CANCELLED/SHOP_FAILED; DELIVERY -> PICKUP; DELIVERY or PICKUP -> DELIVERED. Anything else
        is the documented state 400. ``realDeliveryDate`` only with PICKUP/DELIVERED, never in the
        future, never before the creation day (the fake's wording for these three). Without it
        Market takes today; doing so after the delivery date is accepted but reported.
        """
        substatus = self.substatus or _DEFAULT_SUBSTATUS.get(self.status)
        if substatus is None:
            raise BadRequest("'substatus' must not be null (rejected value: null)")
        was = order.status
        allowed = {
            ("PROCESSING", "READY_TO_SHIP"): (was, order.substatus) == ("PROCESSING", "STARTED"),
            ("CANCELLED", "SHOP_FAILED"): was == "PROCESSING",
            ("DELIVERY", "DELIVERY_SERVICE_RECEIVED"): was == "PROCESSING",
            ("PICKUP", "PICKUP_SERVICE_RECEIVED"): was == "DELIVERY",
            ("DELIVERED", "DELIVERY_SERVICE_DELIVERED"): was in _HANDED_OVER,
        }
        if not allowed.get((self.status, substatus), False):
            raise not_allowed(order)
        today = now.astimezone(MSK).date()
        real = self.real_delivery_date
        if real is not None:
            if self.status not in _ARRIVED:
                raise BadRequest("realDeliveryDate is allowed only for statuses PICKUP, DELIVERED")
            if real > today:
                raise BadRequest(f"realDeliveryDate '{real}' is in the future")
            if real < order.created_at.astimezone(MSK).date():
                raise BadRequest(f"realDeliveryDate '{real}' is before the order was created")
        late_without_date = False
        if self.status in _ARRIVED:
            late_without_date = real is None and (
                order.delivery_date is not None and today > order.delivery_date
            )
            order.real_delivery_date = real or today
        order.status, order.substatus = self.status, substatus
        if self.status == "CANCELLED":
            order.cancel_requested = False
        order.touch(now)
        return late_without_date


def parse_cancellation(body: dict[str, Any]) -> bool:
    """The ``accepted`` of an acceptOrderCancellation body, validated with its ``reason``."""
    accepted = require(body, "accepted")
    if not isinstance(accepted, bool):
        raise BadRequest(f"Type mismatch: '{json_text(accepted)}'")
    reason = body.get("reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        raise BadRequest(f"Type mismatch: '{json_text(reason)}'")
    if not accepted and reason is None:
        raise BadRequest("'reason' must not be null (rejected value: null)")
    return accepted


def answer_cancellation(order: FakeOrder, accepted: bool, now: datetime.datetime) -> None:
    """Cancel the order (accepted) or keep it (refused); it must await the shop's answer."""
    if not (order.cancel_requested and order.status in _HANDED_OVER):
        raise not_allowed(order)
    if accepted:
        order.status, order.substatus = "CANCELLED", "USER_CHANGED_MIND"
    order.cancel_requested = False
    order.touch(now)
