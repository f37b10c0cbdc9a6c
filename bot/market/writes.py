"""The Market writes the bot performs: one class per operation kind.

An operation kind holds everything about one write in one place: its name (stored with every
operation), its typed payload, the Market call it makes, the order statuses Market allows it in,
how a success reads, and how to see on an order that it has been applied already. The worker,
storage and the reporter look a kind up by name with ``kind_named``; nothing outside this module
branches on a kind's name.

A success is described as a ``Summary``: a text key and its values, so that the words stay with
the other texts (``handlers/texts``) while this module, which knows no Telegram and no language,
decides what is worth saying. Values are plain (str, int), dates, or ``Words`` to be translated.

To add a write: a payload model, a subclass of ``OperationKind`` and one line in ``KINDS``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.market.models import BusinessOrder, OrderStatusResponse, StatusResponse

INT64_MAX = 2**63 - 1

MoveReason = Literal["USER_MOVED_DELIVERY_DATES", "PARTNER_MOVED_DELIVERY_DATES"]
MOVE_REASONS: tuple[MoveReason, ...] = ("USER_MOVED_DELIVERY_DATES", "PARTNER_MOVED_DELIVERY_DATES")


class Payload(BaseModel):
    """What one operation needs to run; every write acts on one order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: int = Field(ge=1, le=INT64_MAX)


@dataclass(frozen=True)
class Words:
    """A value of a summary that is itself a text key, to be said in the reader's language."""

    key: str


SummaryValue = str | int | date | Words


@dataclass(frozen=True)
class Summary:
    """How a success reads: the text key and the values to fill in."""

    key: str
    values: dict[str, SummaryValue] = field(default_factory=dict)


@dataclass(frozen=True)
class MarketCall:
    """One request to Market: its operation name (for limits and logs) and what to send."""

    method: str
    http_method: str
    path: str
    campaign_id: int
    body: dict[str, Any] | None = None
    answer: type[BaseModel] = StatusResponse


PayloadT = TypeVar("PayloadT", bound=Payload)


class OperationKind(ABC, Generic[PayloadT]):
    """One kind of Market write. Subclasses set the class attributes and the two methods."""

    name: ClassVar[str]
    """Stored with every operation; never rename a kind that may have operations in storage."""
    payload_type: type[PayloadT]
    statuses: ClassVar[frozenset[str]]
    """The order statuses in which Market allows this write."""
    min_role: ClassVar[str] = "courier"
    """The least role (of ``storage.members.ROLES``) its sender must still have when it runs."""

    def payload(self, data: dict[str, Any]) -> PayloadT:
        """The typed payload of a stored operation. Raises ValueError when it does not fit."""
        try:
            return self.payload_type.model_validate(data)
        except ValidationError as exc:
            raise ValueError(f"a stored {self.name} payload does not fit: {exc}") from None

    @abstractmethod
    def call(self, campaign_id: int, payload: PayloadT) -> MarketCall:
        """The request that performs the write."""

    @abstractmethod
    def summary(self, payload: PayloadT) -> Summary:
        """How the success is told to people."""

    @abstractmethod
    def applied(self, order: BusinessOrder, payload: PayloadT) -> bool:
        """True when ``order`` (as Market shows it now) already has this write's effect."""


class TrackPayload(Payload):
    track_code: str = Field(min_length=1, max_length=64)
    delivery_service_id: int = Field(ge=1, le=INT64_MAX)
    service_name: str = ""


class TrackKind(OperationKind[TrackPayload]):
    """setOrderDeliveryTrackCode: the parcel's track number and its delivery service."""

    name = "track"
    payload_type = TrackPayload
    statuses = frozenset({"PROCESSING", "DELIVERY", "PICKUP"})

    def call(self, campaign_id: int, payload: TrackPayload) -> MarketCall:
        return MarketCall(
            "setOrderDeliveryTrackCode",
            "POST",
            f"/v2/campaigns/{campaign_id}/orders/{payload.order_id}/delivery/track",
            campaign_id,
            {"trackCode": payload.track_code, "deliveryServiceId": payload.delivery_service_id},
        )

    def summary(self, payload: TrackPayload) -> Summary:
        service = payload.service_name or f"#{payload.delivery_service_id}"
        return Summary(
            "result.track_ok",
            {"order_id": payload.order_id, "track_code": payload.track_code, "service": service},
        )

    def applied(self, order: BusinessOrder, payload: TrackPayload) -> bool:
        return payload.track_code in order.track_codes()


class MovePayload(Payload):
    to_date: date
    reason: MoveReason


class MoveKind(OperationKind[MovePayload]):
    """setOrderDeliveryDate: a new delivery date, because the buyer asked or the shop can't."""

    name = "move"
    payload_type = MovePayload
    statuses = frozenset({"PROCESSING", "DELIVERY"})

    def call(self, campaign_id: int, payload: MovePayload) -> MarketCall:
        return MarketCall(
            "setOrderDeliveryDate",
            "PUT",
            f"/v2/campaigns/{campaign_id}/orders/{payload.order_id}/delivery/date",
            campaign_id,
            {"dates": {"toDate": payload.to_date.isoformat()}, "reason": payload.reason},
        )

    def summary(self, payload: MovePayload) -> Summary:
        reason = "user" if payload.reason == "USER_MOVED_DELIVERY_DATES" else "partner"
        return Summary(
            "result.move_ok",
            {
                "order_id": payload.order_id,
                "date": payload.to_date,
                "reason": Words(f"reason.{reason}_short"),
            },
        )

    def applied(self, order: BusinessOrder, payload: MovePayload) -> bool:
        dates = order.delivery.dates if order.delivery else None
        return dates is not None and dates.to_date == payload.to_date


def _status_call(campaign_id: int, order_id: int, order: dict[str, Any]) -> MarketCall:
    return MarketCall(
        "updateOrderStatus",
        "PUT",
        f"/v2/campaigns/{campaign_id}/orders/{order_id}/status",
        campaign_id,
        {"order": order},
        OrderStatusResponse,
    )


class ShipKind(OperationKind[Payload]):
    """updateOrderStatus to DELIVERY: the courier has taken the order out for delivery."""

    name = "ship"
    payload_type = Payload
    statuses = frozenset({"PROCESSING"})

    def call(self, campaign_id: int, payload: Payload) -> MarketCall:
        return _status_call(campaign_id, payload.order_id, {"status": "DELIVERY"})

    def summary(self, payload: Payload) -> Summary:
        return Summary("result.ship_ok", {"order_id": payload.order_id})

    def applied(self, order: BusinessOrder, payload: Payload) -> bool:
        return order.status in ("DELIVERY", "PICKUP", "DELIVERED")


class DeliverPayload(Payload):
    real_delivery_date: date | None = None
    """The day it reached the buyer, when that is not the day the status is sent (never later)."""


class DeliverKind(OperationKind[DeliverPayload]):
    """updateOrderStatus to DELIVERED: the buyer has the order."""

    name = "deliver"
    payload_type = DeliverPayload
    statuses = frozenset({"DELIVERY", "PICKUP"})

    def call(self, campaign_id: int, payload: DeliverPayload) -> MarketCall:
        order: dict[str, Any] = {"status": "DELIVERED"}
        if payload.real_delivery_date is not None:
            day = payload.real_delivery_date.isoformat()
            order["delivery"] = {"dates": {"realDeliveryDate": day}}
        return _status_call(campaign_id, payload.order_id, order)

    def summary(self, payload: DeliverPayload) -> Summary:
        if payload.real_delivery_date is None:
            return Summary("result.deliver_ok", {"order_id": payload.order_id})
        return Summary(
            "result.deliver_on_ok",
            {"order_id": payload.order_id, "date": payload.real_delivery_date},
        )

    def applied(self, order: BusinessOrder, payload: DeliverPayload) -> bool:
        return order.status == "DELIVERED"


CancellationReason = Literal["ORDER_DELIVERED", "ORDER_IN_DELIVERY"]


class CancellationPayload(Payload):
    accepted: bool
    reason: CancellationReason | None = None
    """Required when declining: shown to the buyer."""


class CancellationKind(OperationKind[CancellationPayload]):
    """acceptOrderCancellation: agree to the buyer's cancellation request, or decline it."""

    name = "cancellation"
    payload_type = CancellationPayload
    statuses = frozenset({"DELIVERY", "PICKUP"})
    min_role = "manager"

    def call(self, campaign_id: int, payload: CancellationPayload) -> MarketCall:
        body: dict[str, Any] = {"accepted": payload.accepted}
        if payload.reason is not None:
            body["reason"] = payload.reason
        return MarketCall(
            "acceptOrderCancellation",
            "PUT",
            f"/v2/campaigns/{campaign_id}/orders/{payload.order_id}/cancellation/accept",
            campaign_id,
            body,
        )

    def summary(self, payload: CancellationPayload) -> Summary:
        key = "result.cancel_accepted_ok" if payload.accepted else "result.cancel_declined_ok"
        return Summary(key, {"order_id": payload.order_id})

    def applied(self, order: BusinessOrder, payload: CancellationPayload) -> bool:
        if payload.accepted:
            return order.status == "CANCELLED"
        return not order.cancel_requested


KINDS: dict[str, OperationKind[Any]] = {
    kind.name: kind
    for kind in (TrackKind(), MoveKind(), ShipKind(), DeliverKind(), CancellationKind())
}


def kind_named(name: str) -> OperationKind[Any] | None:
    """The kind stored under ``name``; None for a name this version does not know."""
    return KINDS.get(name)
