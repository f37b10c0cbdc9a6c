"""Pydantic models of every body the Market client sends and reads.

Field names follow ``openapi-subset.json`` (camelCase on the wire, snake_case in Python). Reads
ignore unknown fields and keep enum-like strings as plain ``str`` because Market documents that
"other values may appear".
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


# --- requests -------------------------------------------------------------------------------


class OrderDatesFilter(_Wire):
    update_date_from: datetime | None = None
    update_date_to: datetime | None = None
    creation_date_from: date | None = None
    creation_date_to: date | None = None


class BusinessOrdersRequest(_Wire):
    """getBusinessOrders filters; a filter left None is not sent (arrays need an item)."""

    order_ids: list[int] | None = Field(default=None, min_length=1, max_length=50)
    campaign_ids: list[int] | None = Field(default=None, min_length=1, max_length=50)
    program_types: list[str] | None = Field(default=None, min_length=1)
    statuses: list[str] | None = Field(default=None, min_length=1)
    dates: OrderDatesFilter | None = None
    waiting_for_cancellation_approve: bool | None = None

    def body(self) -> dict[str, object]:
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


# --- responses ------------------------------------------------------------------------------


class StatusResponse(_Wire):
    status: str


class OrderStatusResponse(_Wire):
    """updateOrderStatus answers with the whole order (getOrder's shape) and no ``status``."""

    order: dict[str, object] | None = None


class Business(_Wire):
    id: int | None = None
    name: str = ""


class Campaign(_Wire):
    # Every field is optional in the spec, and ``{}`` is a valid answer (see ``CampaignResponse``).
    id: int | None = None
    domain: str = ""
    client_id: int | None = None
    business: Business | None = None
    placement_type: str | None = None
    api_availability: str | None = None


class CampaignResponse(_Wire):
    campaign: Campaign | None = None

    def details(self) -> Campaign | None:
        """The campaign, or None when Market gave no details about it (``{}`` is spec-valid)."""
        if self.campaign is None or not self.campaign.model_fields_set:
            return None
        return self.campaign


class DeliveryService(_Wire):
    id: int
    name: str


class DeliveryServicesResult(_Wire):
    delivery_service: list[DeliveryService] = []


class DeliveryServicesResponse(_Wire):
    # ``result`` is optional in the spec: ``{}`` is a valid answer listing no services.
    result: DeliveryServicesResult = Field(default_factory=DeliveryServicesResult)


# The scopes (ApiKeyScopeType) that let a key send the writes the bot makes; the ``_READ_ONLY``
# variants do not.
ORDER_WRITE_SCOPES = frozenset({"ALL_METHODS", "INVENTORY_AND_ORDER_PROCESSING"})


class ApiKeyInfo(_Wire):
    """What a key may do (getAuthTokenInfo): its name and scopes, e.g. ``ALL_METHODS``."""

    name: str = ""
    auth_scopes: list[str]

    @property
    def can_process_orders(self) -> bool:
        return not ORDER_WRITE_SCOPES.isdisjoint(self.auth_scopes)


class AuthTokenResult(_Wire):
    api_key: ApiKeyInfo


class AuthTokenResponse(_Wire):
    result: AuthTokenResult


class OrderDeliveryDates(_Wire):
    from_date: date | None = None
    to_date: date | None = None
    from_time: str | None = None
    to_time: str | None = None
    real_delivery_date: date | None = None


class OrderAddress(_Wire):
    city: str | None = None
    street: str | None = None
    house: str | None = None


class OrderCourier(_Wire):
    address: OrderAddress | None = None


class Money(_Wire):
    value: float
    currency_id: str | None = None


class OrderPrices(_Wire):
    payment: Money | None = None


class OrderItem(_Wire):
    offer_name: str = ""
    count: int = 1


class OrderTrack(_Wire):
    track_code: str | None = None
    delivery_service_id: int | None = None


class OrderDelivery(_Wire):
    type: str | None = None
    service_name: str | None = None
    delivery_service_id: int | None = None
    dates: OrderDeliveryDates | None = None
    tracks: list[OrderTrack] | None = None
    courier: OrderCourier | None = None


class BusinessOrder(_Wire):
    order_id: int
    campaign_id: int
    status: str
    substatus: str | None = None
    program_type: str | None = None
    creation_date: datetime | None = None
    update_date: datetime | None = None
    items: list[OrderItem] = []
    prices: OrderPrices | None = None
    delivery: OrderDelivery | None = None
    cancel_requested: bool = False

    def track_codes(self) -> list[str]:
        """The track codes Market has for the order (none: the field is missing or empty)."""
        tracks = self.delivery.tracks if self.delivery else None
        return [t.track_code for t in tracks or () if t.track_code]


class Paging(_Wire):
    next_page_token: str | None = None


class BusinessOrdersResponse(_Wire):
    orders: list[BusinessOrder] = []
    paging: Paging | None = None
