"""What an order needs, read from Market's view of it (getBusinessOrders): pure, no I/O.

The order feed and the order cards agree through these functions on what needs action (a new
order, no track code, due today or late, a buyer's cancellation request), when an order is due,
and which actions it allows now (the buttons of its card).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from bot.market.models import BusinessOrder
from bot.market.writes import MoveKind, TrackKind

OPEN = frozenset({"PROCESSING", "DELIVERY", "PICKUP"})
# Every status an order passes through once the shop has it: a change made elsewhere (in the
# seller cabinet) reaches its card too.
FEED_STATUSES = ("PROCESSING", "DELIVERY", "PICKUP", "DELIVERED", "CANCELLED")


class Need(StrEnum):
    """Why an order needs someone's action now; the values are stable keys for texts."""

    NEW = "new"
    CANCEL_REQUEST = "cancel_request"
    LATE = "late"
    TODAY = "today"
    NO_TRACK = "no_track"


class Action(StrEnum):
    """What can be done to an order from its card; the values go into callback data."""

    TRACK = "t"
    MOVE = "m"
    SHIP = "s"
    DELIVER = "d"
    TAKE = "k"
    ACCEPT_CANCEL = "a"
    DECLINE_CANCEL = "x"


def due_date(order: BusinessOrder) -> date | None:
    """The day the order should reach the buyer (the end of its interval)."""
    dates = order.delivery.dates if order.delivery else None
    if dates is None:
        return None
    return dates.to_date or dates.from_date


def needs(order: BusinessOrder, today: date, *, first_seen: bool = False) -> list[Need]:
    """Why the order needs action now, most urgent first; empty when it needs none.

    ``first_seen``: the feed sees this order for the first time (a new order in PROCESSING).
    """
    found: list[Need] = []
    if order.cancel_requested and order.status in ("DELIVERY", "PICKUP"):
        found.append(Need.CANCEL_REQUEST)
    if order.status not in OPEN:
        return found
    due = due_date(order)
    if due is not None and due < today:
        found.append(Need.LATE)
    elif due == today:
        found.append(Need.TODAY)
    if order.status in TrackKind.statuses and not order.track_codes():
        found.append(Need.NO_TRACK)
    if first_seen and order.status == "PROCESSING":
        found.append(Need.NEW)
    return found


URGENCY = {need: rank for rank, need in enumerate(Need.__members__.values())}


def urgency(order: BusinessOrder, today: date) -> tuple[int, date, int]:
    """A sort key: cancellation requests, then late, then due today, then the rest by date."""
    found = needs(order, today)
    rank = min((URGENCY[n] for n in found if n is not Need.NEW), default=len(URGENCY))
    return rank, due_date(order) or date.max, order.order_id


def actions(order: BusinessOrder) -> list[Action]:
    """The actions the order allows now, in the order its card shows them."""
    status = order.status
    found: list[Action] = []
    if order.cancel_requested and status in ("DELIVERY", "PICKUP"):
        return [Action.ACCEPT_CANCEL, Action.DECLINE_CANCEL]
    if status in TrackKind.statuses and not order.track_codes():
        found.append(Action.TRACK)
    if status == "PROCESSING":
        found.append(Action.SHIP)
    if status in ("DELIVERY", "PICKUP"):
        found.append(Action.DELIVER)
    if status in MoveKind.statuses:
        found.append(Action.MOVE)
    if status in OPEN:
        found.append(Action.TAKE)
    return found
