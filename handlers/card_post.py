"""Posting and editing order cards and digests: what the order feed and the buttons share.

A card is recorded (``storage.feed`` cards) as soon as it is sent, with a digest of what it
shows (``CardView.shown``), so an edit goes out only when something changed and no order ever
gets two cards in one chat. A digest lists orders with a button each; an order only listed
is recorded too (its card comes when it needs more than it did, or when its button is
pressed). A chat's cards are in the language its binder (a group) or its owner (private) chose
with ``/language``, else Russian.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

from sqlite_utils import Database
from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError

from bot.market.models import BusinessOrder
from bot.market.orders import OPEN, needs, urgency
from handlers import card_buttons, card_view
from handlers.card_view import CardView
from handlers.messaging import clip, send
from handlers.shopnames import shop_of
from handlers.texts import Lang
from storage import bindings, feed, members, people, prefs
from storage.feed import CardRow, DigestRow

log = logging.getLogger(__name__)


class Transient(Exception):
    """Telegram could not take a message now (flood limit, network): try again later."""


def chat_language(db: Database, chat_id: int) -> Lang:
    """The language of a chat's cards: its binder's (a group) or its person's choice."""
    if chat_id > 0:
        person: int | None = chat_id
    else:
        binding = bindings.binding_of(db, chat_id)
        person = binding.bound_by if binding else None
    chosen = prefs.get_prefs(db, person).language if person else None
    return "en" if chosen == "en" else "ru"


def targets(db: Database, campaign_id: int) -> list[int]:
    """The chats that get the shop's cards: bound groups, else owners; those with the feed on."""
    chats = feed.bound_chats(db, campaign_id) or [
        m.user_id for m in members.members_of(db, campaign_id) if m.role == "owner"
    ]
    return [chat for chat in chats if feed.chat_enabled(db, chat)]


def taker_names(db: Database, taken: dict[int, int | None]) -> dict[int, str]:
    """Order id -> the name of who took it (orders nobody took are left out)."""
    ids = {user for user in taken.values() if user is not None}
    names = people.names_of(db, ids)
    return {
        order_id: names[user].name if user in names else f"id {user}"
        for order_id, user in taken.items()
        if user is not None
    }


def view_for(
    db: Database, chat_id: int, order: BusinessOrder, taken: str | None, today: date
) -> CardView:
    """The card of ``order`` as chat ``chat_id`` sees it (the shop named in private chats)."""
    shop = shop_of(db, order.campaign_id) if chat_id > 0 else None
    lang = chat_language(db, chat_id)
    return card_view.card(order, lang=lang, today=today, taken_name=taken, shop=shop)


def transient(exc: TelegramError) -> bool:
    return isinstance(exc, RetryAfter) or (
        isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
    )


async def post_card(
    bot: Bot,
    db: Database,
    chat_id: int,
    order: BusinessOrder,
    view: CardView,
    now: datetime,
    *,
    thread_id: int | None = None,
) -> Message:
    """Send the card and record it at once. Raises TelegramError when Telegram refuses."""
    markup = card_buttons.card_markup(view, order.campaign_id, order.order_id)
    sent = await send(bot, chat_id, view.text, thread_id=thread_id, markup=markup)
    feed.save_card(
        db,
        chat_id=chat_id,
        campaign_id=order.campaign_id,
        order_id=order.order_id,
        message_id=sent.message_id,
        thread_id=thread_id,
        shown=view.shown,
        now=now,
    )
    return sent


async def edit_card(bot: Bot, db: Database, row: CardRow, view: CardView, now: datetime) -> None:
    """Show ``view`` on the card ``row``. Raises Transient when Telegram cannot take it now;
    a card that is gone is left as it is (and not tried again)."""
    assert row.message_id is not None
    markup = card_buttons.card_markup(view, row.campaign_id, row.order_id)
    try:
        await bot.edit_message_text(
            chat_id=row.chat_id,
            message_id=row.message_id,
            text=clip(view.text),
            reply_markup=markup,
        )
    except TelegramError as exc:
        if transient(exc):
            raise Transient(str(exc)) from exc
        if "not modified" not in str(exc).lower():
            log.info("card of order %s in chat %s not edited: %s", row.order_id, row.chat_id, exc)
    feed.save_card(
        db,
        chat_id=row.chat_id,
        campaign_id=row.campaign_id,
        order_id=row.order_id,
        message_id=row.message_id,
        thread_id=row.thread_id,
        shown=view.shown,
        now=now,
    )


def digest_page(
    db: Database, row: DigestRow, page: int, today: date, known: dict[int, BusinessOrder]
) -> tuple[str, InlineKeyboardMarkup]:
    """The text and buttons of a digest's ``page``; orders not in ``known`` are read from
    what the feed saw (an order it has not saved yet is shown by its id)."""
    ids = row.ids
    page = min(max(page, 0), card_buttons.pages(len(ids)) - 1)
    on_page = card_buttons.page_of(ids, page)
    missing = [i for i in on_page if i not in known]
    stored = feed.seen_orders(db, row.campaign_id, missing)
    orders = {**known, **{i: BusinessOrder.model_validate(s.snapshot) for i, s in stored.items()}}
    lang: Lang = "en" if row.lang == "en" else "ru" if row.lang else chat_language(db, row.chat_id)
    first_seen = row.kind == "new"
    lines = [
        card_view.order_line(orders[i], lang, today, first_seen=first_seen)
        if i in orders
        else str(i)
        for i in on_page
    ]
    labels = [(card_view.order_label(orders[i]) if i in orders else str(i), i) for i in on_page]
    shop = shop_of(db, row.campaign_id) if row.chat_id > 0 else None
    text = card_view.digest_text(
        row.kind,
        lines,
        total=len(ids),
        page=page,
        pages=card_buttons.pages(len(ids)),
        lang=lang,
        shop=shop,
    )
    return text, card_buttons.digest_markup(row.id, labels, page, len(ids))


async def post_digest(
    bot: Bot,
    db: Database,
    chat_id: int,
    orders: Sequence[BusinessOrder],
    *,
    kind: str,
    campaign_id: int,
    today: date,
    now: datetime,
    reply_to: int | None = None,
    thread_id: int | None = None,
    list_cards: bool = True,
    lang: Lang | None = None,
) -> Message:
    """Send a digest of ``orders`` (first page). With ``list_cards`` every order without a
    card in the chat is recorded as listed (its card comes when it needs more). Raises
    TelegramError when Telegram refuses."""
    ids = [o.order_id for o in orders]
    row = feed.save_digest(db, chat_id, campaign_id, ids, now, kind, lang)
    text, markup = digest_page(db, row, 0, today, {o.order_id: o for o in orders})
    sent = await send(bot, chat_id, text, reply_to=reply_to, thread_id=thread_id, markup=markup)
    feed.set_digest_message(db, row.id, sent.message_id)
    if list_cards:
        for order in orders:
            if feed.card(db, chat_id, campaign_id, order.order_id) is None:
                marker = card_view.listed_marker(needs(order, today, first_seen=kind == "new"))
                feed.save_card(
                    db,
                    chat_id=chat_id,
                    campaign_id=campaign_id,
                    order_id=order.order_id,
                    message_id=None,
                    thread_id=thread_id,
                    shown=marker,
                    now=now,
                )
    return sent


def stored_open(db: Database, campaign_id: int) -> list[BusinessOrder]:
    """The shop's open orders as the feed last saw them."""
    rows = feed.open_orders(db, campaign_id, sorted(OPEN))
    return [BusinessOrder.model_validate(row.snapshot) for row in rows]


def needing_action(orders: Sequence[BusinessOrder], today: date) -> list[BusinessOrder]:
    """The orders that need action now, most urgent first."""
    return sorted((o for o in orders if needs(o, today)), key=lambda o: urgency(o, today))


async def introduce(
    bot: Bot,
    db: Database,
    chat_id: int,
    campaign_id: int,
    orders: Sequence[BusinessOrder],
    today: date,
    now: datetime,
) -> None:
    """The chat's first look at the shop: one digest of the open orders that need action
    (none when no order does). Raises TelegramError when Telegram refuses."""
    found = needing_action(orders, today)
    if found:
        await post_digest(
            bot, db, chat_id, found, kind="intro", campaign_id=campaign_id, today=today, now=now
        )
    feed.mark_introduced(db, chat_id)


async def refresh_cards(
    bot: Bot, db: Database, campaign_id: int, order_id: int, today: date, now: datetime
) -> None:
    """Show the order as the feed last saw it (and who took it) on every card of it now."""
    seen = feed.seen_orders(db, campaign_id, [order_id]).get(order_id)
    if seen is None:
        return
    order = BusinessOrder.model_validate(seen.snapshot)
    name = taker_names(db, {order_id: seen.taken_by}).get(order_id)
    for row in feed.cards_of_order(db, campaign_id, order_id):
        if row.message_id is None:
            continue
        view = view_for(db, row.chat_id, order, name, today)
        if view.shown == row.shown:
            continue
        try:
            await edit_card(bot, db, row, view, now)
        except Transient as exc:
            log.info("card of order %s in chat %s not refreshed: %s", order_id, row.chat_id, exc)
