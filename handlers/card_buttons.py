"""The buttons of order cards and digests: the button family ``o``, built and parsed side by side.

Callback data (every id ASCII digits within int64, at most 52 bytes)::

    o:<action>:<campaign>:<order>        a card's button; the action is one of
                                         ``bot.market.orders.Action`` (t m s d k a x)
    o:y:<campaign>:<order>:<YYYYMMDD>    "yes, the buyer got it that day" (delivered)
    o:r:<campaign>:<order>:<d|c>         decline a cancellation: already delivered (d) or
                                         already with the courier (c)
    o:p:<digest>:<page>                  show that page of a digest
    o:c:<digest>:<order>                 post that order's card (a digest's order button)

Callback data is user input: ``parse`` takes nothing it did not build, and the presses are
handled (access first) by ``handlers.card_presses``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import get_args

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.market.orders import Action
from bot.market.writes import INT64_MAX, CancellationReason
from handlers.card_view import CardView
from handlers.texts import Lang, t

PREFIX = "o"
PATTERN = rf"^{PREFIX}:"
_ID = r"([0-9]{1,19})"
_CARD = re.compile(rf"{PREFIX}:([{''.join(a.value for a in Action)}]):{_ID}:{_ID}")
_DELIVERED = re.compile(rf"{PREFIX}:y:{_ID}:{_ID}:([0-9]{{8}})")
_DECLINE = re.compile(rf"{PREFIX}:r:{_ID}:{_ID}:([dc])")
_PAGE = re.compile(rf"{PREFIX}:p:{_ID}:([0-9]{{1,4}})")
_OPEN = re.compile(rf"{PREFIX}:c:{_ID}:{_ID}")
REASONS: dict[str, CancellationReason] = dict(zip("dc", get_args(CancellationReason), strict=True))
PER_PAGE = 8


@dataclass(frozen=True)
class CardPress:
    action: Action
    campaign_id: int
    order_id: int


@dataclass(frozen=True)
class DeliveredOn:
    campaign_id: int
    order_id: int
    day: date


@dataclass(frozen=True)
class DeclineReason:
    campaign_id: int
    order_id: int
    reason: CancellationReason


@dataclass(frozen=True)
class DigestPage:
    digest_id: int
    page: int


@dataclass(frozen=True)
class DigestOpen:
    digest_id: int
    order_id: int


Press = CardPress | DeliveredOn | DeclineReason | DigestPage | DigestOpen


def card_data(action: Action, campaign_id: int, order_id: int) -> str:
    return f"{PREFIX}:{action.value}:{campaign_id}:{order_id}"


def delivered_data(campaign_id: int, order_id: int, day: date) -> str:
    return f"{PREFIX}:y:{campaign_id}:{order_id}:{day:%Y%m%d}"


def decline_data(campaign_id: int, order_id: int, reason: CancellationReason) -> str:
    code = next(code for code, value in REASONS.items() if value == reason)
    return f"{PREFIX}:r:{campaign_id}:{order_id}:{code}"


def page_data(digest_id: int, page: int) -> str:
    return f"{PREFIX}:p:{digest_id}:{page}"


def open_data(digest_id: int, order_id: int) -> str:
    return f"{PREFIX}:c:{digest_id}:{order_id}"


def _ids(*texts: str) -> list[int] | None:
    values = [int(text) for text in texts]
    return values if all(0 < value <= INT64_MAX for value in values) else None


def parse(data: str) -> Press | None:
    """The press ``data`` stands for; None when it is not ours or is forged (an id beyond
    int64 or zero, a day that does not exist, an unknown action or reason)."""
    if match := _CARD.fullmatch(data):
        ids = _ids(match[2], match[3])
        return CardPress(Action(match[1]), ids[0], ids[1]) if ids else None
    if match := _DELIVERED.fullmatch(data):
        ids = _ids(match[1], match[2])
        try:
            day = date(int(match[3][:4]), int(match[3][4:6]), int(match[3][6:]))
        except ValueError:
            return None
        return DeliveredOn(ids[0], ids[1], day) if ids else None
    if match := _DECLINE.fullmatch(data):
        ids = _ids(match[1], match[2])
        return DeclineReason(ids[0], ids[1], REASONS[match[3]]) if ids else None
    if match := _PAGE.fullmatch(data):
        ids = _ids(match[1])
        return DigestPage(ids[0], int(match[2])) if ids else None
    if match := _OPEN.fullmatch(data):
        ids = _ids(match[1], match[2])
        return DigestOpen(ids[0], ids[1]) if ids else None
    return None


def _rows(
    buttons: Sequence[InlineKeyboardButton], per_row: int
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


def card_markup(view: CardView, campaign_id: int, order_id: int) -> InlineKeyboardMarkup | None:
    """The card's buttons, two a row; None when the order allows no action (they go)."""
    if not view.buttons:
        return None
    buttons = [
        InlineKeyboardButton(label, callback_data=card_data(action, campaign_id, order_id))
        for label, action in view.buttons
    ]
    return InlineKeyboardMarkup(_rows(buttons, 2))


def pages(count: int) -> int:
    return max(1, -(-count // PER_PAGE))


def page_of(ids: Sequence[int], page: int) -> list[int]:
    """The order ids on ``page`` (0-based; a page beyond the last is the last)."""
    page = min(max(page, 0), pages(len(ids)) - 1)
    return list(ids[page * PER_PAGE : (page + 1) * PER_PAGE])


def digest_markup(
    digest_id: int, labels: Sequence[tuple[str, int]], page: int, count: int
) -> InlineKeyboardMarkup:
    """One button per (label, order id) of the page, two a row, then ‹ › when there are
    other pages."""
    buttons = [
        InlineKeyboardButton(label, callback_data=open_data(digest_id, order_id))
        for label, order_id in labels
    ]
    rows = _rows(buttons, 2)
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("‹", callback_data=page_data(digest_id, page - 1)))
    if page + 1 < pages(count):
        nav.append(InlineKeyboardButton("›", callback_data=page_data(digest_id, page + 1)))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(rows)


def delivered_markup(
    lang: Lang, campaign_id: int, order_id: int, day: date
) -> InlineKeyboardMarkup:
    label = t(lang, "card.confirm_delivered_button", day=f"{day:%d.%m}")
    data = delivered_data(campaign_id, order_id, day)
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])


def decline_markup(lang: Lang, campaign_id: int, order_id: int) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            t(lang, f"card.decline.{reason}"),
            callback_data=decline_data(campaign_id, order_id, reason),
        )
        for reason in REASONS.values()
    ]
    return InlineKeyboardMarkup(_rows(buttons, 1))
