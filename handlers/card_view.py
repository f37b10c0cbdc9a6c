"""How order cards, digests and the day's plan read: pure text from Market's view of orders.

Nothing here talks to Telegram or storage. A card shows what a courier needs at the door and
what is still to do: the order id and its state, the delivery day or interval (and times), the
delivery service, the address's city and street when Market gives them, the items (name ×
count, shortened), the total, the track codes, why it needs action, and who took it. Its
buttons are named here as (label, action); ``handlers.card_buttons`` turns them into callback
data. Every value that comes from Market is passed through ``sanitize``: plain text, no
invisible characters, bounded length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from bot.market.models import BusinessOrder
from bot.market.orders import OPEN, Action, Need, actions, due_date, needs
from handlers.explain import status_words
from handlers.parsing import sanitize
from handlers.texts import Lang, t

ITEMS_SHOWN = 3
ITEM_NAME_LIMIT = 40
FIELD_LIMIT = 60
# Orders named in one line of the plan; the rest are counted.
PLAN_IDS_SHOWN = 10
CARD_STATES = ("PROCESSING", "DELIVERY", "PICKUP", "DELIVERED", "CANCELLED")
# The needs the plan and /orders count, in the order they are listed.
PLAN_NEEDS = (Need.CANCEL_REQUEST, Need.LATE, Need.TODAY, Need.NO_TRACK)


@dataclass(frozen=True)
class CardView:
    """A card as it should look now: its text and its buttons (label, action), in rows of two."""

    text: str
    buttons: tuple[tuple[str, Action], ...]

    @property
    def shown(self) -> str:
        """A digest of everything the card shows, so an edit is sent only when it changed."""
        parts = [self.text, *(f"{label}\x1f{action.value}" for label, action in self.buttons)]
        return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()[:24]


def listed_marker(found: Sequence[Need]) -> str:
    """What a card row records for an order only listed in a digest: the needs it had."""
    return "listed:" + ",".join(sorted(n.value for n in found if n is not Need.NEW))


def listed_needs(shown: str) -> set[str] | None:
    """The needs recorded by ``listed_marker``; None when the card was really shown."""
    if not shown.startswith("listed:"):
        return None
    return {value for value in shown.removeprefix("listed:").split(",") if value}


def card(
    order: BusinessOrder,
    *,
    lang: Lang,
    today: date,
    taken_name: str | None,
    shop: str | None = None,
) -> CardView:
    """The card of ``order``; ``shop`` is named in the title when given (private chats)."""
    lines = [_title(order, lang, shop)]
    delivery = order.delivery
    when = delivery_when(order, lang)
    if when:
        lines.append(t(lang, "card.when", when=when))
    service = sanitize(delivery.service_name or "", FIELD_LIMIT) if delivery else ""
    if service:
        lines.append(t(lang, "card.service", service=service))
    address = _address(order)
    if address:
        lines.append(t(lang, "card.address", address=address))
    items = _items(order, lang)
    if items:
        lines.append(t(lang, "card.items", items=items))
    total = money(order)
    if total:
        lines.append(t(lang, "card.total", total=total))
    codes = [sanitize(code, FIELD_LIMIT) for code in order.track_codes()]
    if codes:
        lines.append(t(lang, "card.track", codes=", ".join(codes)))
    found = [n for n in needs(order, today) if n is not Need.NEW]
    if found:
        lines.append(t(lang, "card.needs", needs=need_words(found, lang)))
    taken = order.status in OPEN and taken_name is not None
    if taken:
        lines.append(t(lang, "card.taken", name=taken_name))
    return CardView("\n".join(lines), _buttons(order, lang, taken=taken))


def _title(order: BusinessOrder, lang: Lang, shop: str | None) -> str:
    state = order.status if order.status in CARD_STATES else None
    words = t(lang, f"card.state.{state}") if state else status_words(order.status, lang)
    if order.cancel_requested and order.status in OPEN:
        words = t(lang, "card.state.cancel_requested")
    icon = t(lang, f"card.icon.{state or 'other'}")
    title = t(lang, "card.title", icon=icon, order_id=order.order_id, state=words)
    return f"{title} · {shop}" if shop else title


def delivery_when(order: BusinessOrder, lang: Lang) -> str:
    """The delivery day or interval, with its times when Market gives them ("" when none)."""
    dates = order.delivery.dates if order.delivery else None
    if dates is None:
        return ""
    first, last = dates.from_date, dates.to_date or dates.from_date
    if last is None:
        return ""
    when = day_words(last, lang)
    if first is not None and first != last:
        when = t(lang, "card.interval", start=f"{first:%d.%m}", end=when)
    if dates.from_time and dates.to_time:
        start, end = sanitize(dates.from_time, 5), sanitize(dates.to_time, 5)
        when += " " + t(lang, "card.times", start=start, end=end)
    if order.status == "DELIVERED" and dates.real_delivery_date:
        when += " " + t(lang, "card.delivered_on", day=day_words(dates.real_delivery_date, lang))
    return when


def day_words(day: date, lang: Lang) -> str:
    """``ср 25.12.2025``: the weekday helps people catch a wrong date."""
    return f"{t(lang, f'weekday.{day.weekday()}')} {day:%d.%m.%Y}"


def _address(order: BusinessOrder) -> str:
    courier = order.delivery.courier if order.delivery else None
    address = courier.address if courier else None
    if address is None:
        return ""
    parts = (address.city, address.street)
    return ", ".join(sanitize(p, FIELD_LIMIT) for p in parts if p and sanitize(p, FIELD_LIMIT))


def _items(order: BusinessOrder, lang: Lang) -> str:
    shown = [
        f"{sanitize(item.offer_name or '?', ITEM_NAME_LIMIT)} × {item.count}"
        for item in order.items[:ITEMS_SHOWN]
    ]
    more = len(order.items) - ITEMS_SHOWN
    if more > 0:
        shown.append(t(lang, "card.items_more", count=more))
    return ", ".join(shown)


def money(order: BusinessOrder) -> str:
    """The buyer's payment, ``4 500 ₽`` (kopecks only when there are any); "" when unknown."""
    payment = order.prices.payment if order.prices else None
    if payment is None:
        return ""
    value = payment.value
    text = f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"
    currency = "₽" if (payment.currency_id or "RUR") in ("RUR", "RUB") else payment.currency_id
    return f"{text.replace(',', ' ')} {currency}"


def need_words(found: Sequence[Need], lang: Lang) -> str:
    return ", ".join(t(lang, f"need.{n.value}") for n in found)


def _buttons(order: BusinessOrder, lang: Lang, *, taken: bool) -> tuple[tuple[str, Action], ...]:
    found = []
    for action in actions(order):
        key = "release" if action is Action.TAKE and taken else action.name.lower()
        found.append((t(lang, f"card.button.{key}"), action))
    return tuple(found)


def order_line(order: BusinessOrder, lang: Lang, today: date, *, first_seen: bool = False) -> str:
    """One order in a digest or a list: ``123456789 · ср 25.12 · без трека``."""
    parts = [str(order.order_id)]
    due = due_date(order)
    if due is not None:
        parts.append(f"{t(lang, f'weekday.{due.weekday()}')} {due:%d.%m}")
    found = needs(order, today, first_seen=first_seen)
    if found:
        parts.append(need_words(found, lang))
    return " · ".join(parts)


def order_label(order: BusinessOrder) -> str:
    """An order's button in a digest: its id and day."""
    due = due_date(order)
    return f"{order.order_id} · {due:%d.%m}" if due else str(order.order_id)


def digest_text(
    kind: str,
    lines: Sequence[str],
    *,
    total: int,
    page: int,
    pages: int,
    lang: Lang,
    shop: str | None = None,
) -> str:
    """A page of a digest of ``total`` orders: its title, the page's order ``lines``
    (``order_line``), and how to open one."""
    title = t(lang, f"digest.title.{kind}", count=total)
    if shop:
        title += f" · {shop}"
    text = [title]
    if pages > 1:
        text.append(t(lang, "digest.page", page=page + 1, pages=pages))
    text += [f"• {line}" for line in lines]
    text.append(t(lang, "digest.footer"))
    return "\n".join(text)


def plan_text(orders: Sequence[BusinessOrder], *, lang: Lang, today: date, shop: str) -> str:
    """Today's plan: per need, how many orders and which (most urgent first)."""
    lines = [t(lang, "plan.title", day=day_words(today, lang), shop=shop)]
    anything = False
    for need in PLAN_NEEDS:
        ids = [o.order_id for o in orders if need in needs(o, today)]
        if not ids:
            continue
        anything = True
        shown = ", ".join(str(i) for i in ids[:PLAN_IDS_SHOWN])
        if len(ids) > PLAN_IDS_SHOWN:
            shown += " " + t(lang, "plan.more", count=len(ids) - PLAN_IDS_SHOWN)
        lines.append(t(lang, f"plan.{need.value}", count=len(ids), orders=shown))
    if not anything:
        lines.append(t(lang, "plan.nothing"))
    return "\n".join(lines)


def plan_has_work(orders: Sequence[BusinessOrder], today: date) -> bool:
    return any(need in needs(o, today) for o in orders for need in PLAN_NEEDS)
