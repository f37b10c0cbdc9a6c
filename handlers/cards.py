"""Order cards in the shop's chats: the order feed's ``FeedSink``.

Where: every group bound to the shop with the feed on (``/feed``); with no bound group, every
owner in private. What: a card for an order that needs action (``bot.market.orders.needs``:
new, no track code, due today or late, a buyer's cancellation request), one per order per chat,
ever (``storage.feed`` cards), edited in place when the order changes, whoever changed it; its
buttons are what the order allows now (``handlers.card_buttons``).

No flood. More than ``MAX_CARDS`` new orders for one chat in one sweep become one digest with a
button per order. Every chat has a budget of messages a minute (cards, digests and edits
together) well under Telegram's 20 a minute in a group, so people's own answers keep room.
What does not fit is deferred: ``orders_changed`` raises ``CardsDeferred`` after doing what
fits, the feed hands the same changes again next sweep, and what a card already shows is
recognised by its digest (``CardView.shown``) and not sent again.

First look: on a shop's first sweep, and for a chat not introduced yet (a group bound since),
the orders already open and needing action come as one digest per chat. Posting and editing
are ``handlers.card_post``'s.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, tzinfo

from sqlite_utils import Database
from telegram import Bot
from telegram.error import TelegramError

from bot.feed import OrderChange, SinkDeferred
from bot.market.limits import utcnow
from bot.market.orders import needs, urgency
from handlers import card_view
from handlers.card_post import (
    Transient,
    edit_card,
    introduce,
    needing_action,
    post_card,
    post_digest,
    stored_open,
    taker_names,
    targets,
    transient,
    view_for,
)
from handlers.card_view import CardView
from handlers.messaging import will_never_arrive
from storage import feed
from storage.feed import CardRow

log = logging.getLogger(__name__)


MAX_CARDS = 5
GROUP_BUDGET = 12  # messages a minute per group: Telegram allows about 20
PRIVATE_BUDGET = 30


class CardsDeferred(SinkDeferred):
    """Some cards or edits did not fit a chat's budget now: hand the changes again later."""


class _Chat:
    """One chat's share of one sweep: what it may still send this minute."""

    def __init__(self, chat_id: int, left: int) -> None:
        self.chat_id = chat_id
        self.left = left
        self.deferred = False

    def take(self) -> bool:
        if self.left <= 0:
            self.deferred = True
            return False
        self.left -= 1
        return True


class CardPublisher:
    """Posts and edits order cards and digests for the changes the order feed finds."""

    def __init__(
        self,
        bot: Bot,
        db: Database,
        tz: tzinfo,
        *,
        clock: Callable[[], datetime] = utcnow,
        group_budget: int = GROUP_BUDGET,
        private_budget: int = PRIVATE_BUDGET,
        max_cards: int = MAX_CARDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.db = db
        self.tz = tz
        self.clock = clock
        self.group_budget = group_budget
        self.private_budget = private_budget
        self.max_cards = max_cards
        self.monotonic = monotonic
        self._sent: dict[int, deque[float]] = {}  # chat -> monotonic times of messages sent

    async def orders_changed(self, campaign_id: int, changes: Sequence[OrderChange]) -> None:
        """Post, list and edit the cards of ``changes`` in every chat of the shop.

        Raises CardsDeferred when a chat's budget (or Telegram) did not take everything.
        """
        now = self.clock()
        today = now.astimezone(self.tz).date()
        shop = feed.shop(self.db, campaign_id)
        first = shop is not None and shop.cursor is None
        taken = {c.order.order_id: c.taken_by for c in changes}
        stored = feed.seen_orders(self.db, campaign_id, taken)
        taken.update({i: s.taken_by for i, s in stored.items()})
        names = taker_names(self.db, taken)
        deferred = []
        for chat_id in targets(self.db, campaign_id):
            chat = _Chat(chat_id, self._left(chat_id))
            try:
                await self._chat(chat, campaign_id, changes, names, today, now, first)
            except Transient as exc:
                log.info("cards for chat %s wait: %s", chat_id, exc)
                chat.deferred = True
            except TelegramError as exc:
                # The chat is gone or the bot may not write there: nothing to wait for.
                log.warning("cards for chat %s not sent: %s", chat_id, type(exc).__name__)
            if chat.deferred:
                deferred.append(chat_id)
        if deferred:
            raise CardsDeferred(f"shop {campaign_id}: cards wait in chats {deferred}")

    def _left(self, chat_id: int) -> int:
        budget = self.group_budget if chat_id < 0 else self.private_budget
        times = self._sent.setdefault(chat_id, deque())
        since = self.monotonic() - 60.0
        while times and times[0] < since:
            times.popleft()
        return budget - len(times)

    def _spent(self, chat: _Chat) -> None:
        self._sent.setdefault(chat.chat_id, deque()).append(self.monotonic())

    async def _chat(
        self,
        chat: _Chat,
        campaign_id: int,
        changes: Sequence[OrderChange],
        names: dict[int, str],
        today: date,
        now: datetime,
        first: bool,
    ) -> None:
        if self._unintroduced(chat.chat_id, campaign_id, first) and not await self._introduce(
            chat, campaign_id, changes, today, now, first
        ):
            return
        new: list[OrderChange] = []
        edits: list[tuple[CardRow, CardView]] = []
        for change in changes:
            order = change.order
            row = feed.card(self.db, chat.chat_id, campaign_id, order.order_id)
            listed = card_view.listed_needs(row.shown) if row else None
            # On the shop's first sweep every order was open already: none is new.
            found = needs(order, today, first_seen=change.before is None and not first)
            if row is None or (listed is not None and {n.value for n in found} - listed - {"new"}):
                if found:
                    new.append(change)
            elif row.message_id is not None:
                view = view_for(self.db, chat.chat_id, order, names.get(order.order_id), today)
                if view.shown != row.shown:
                    edits.append((row, view))
        await self._new(chat, campaign_id, new, names, today, now, first)
        for row, view in edits:
            if not chat.take():
                return
            await self._send(chat, edit_card(self.bot, self.db, row, view, now))

    def _unintroduced(self, chat_id: int, campaign_id: int, first: bool) -> bool:
        """A chat new to the feed, or to a shop swept the first time (a first sweep handed on
        again after a deferral finds the chat's listed orders and does not introduce twice)."""
        if not feed.introduced(self.db, chat_id):
            return True
        return first and not feed.has_cards(self.db, chat_id, campaign_id)

    async def _introduce(
        self,
        chat: _Chat,
        campaign_id: int,
        changes: Sequence[OrderChange],
        today: date,
        now: datetime,
        first: bool,
    ) -> bool:
        """The chat's first digest; False when it has to wait (nothing else is sent then)."""
        current = {c.order.order_id: c.order for c in changes}
        known = current if first else {o.order_id: o for o in stored_open(self.db, campaign_id)}
        orders = needing_action([current.get(i, order) for i, order in known.items()], today)
        if not orders:
            feed.mark_introduced(self.db, chat.chat_id)
            return True
        if not chat.take():
            return False
        await self._send(
            chat, introduce(self.bot, self.db, chat.chat_id, campaign_id, orders, today, now)
        )
        return True

    async def _new(
        self,
        chat: _Chat,
        campaign_id: int,
        new: Sequence[OrderChange],
        names: dict[int, str],
        today: date,
        now: datetime,
        first: bool = False,
    ) -> None:
        if len(new) > self.max_cards:
            if chat.take():
                orders = sorted((c.order for c in new), key=lambda o: urgency(o, today))
                # New orders, or (on a new day) orders that need more than before.
                # (A big shop's first sweep comes in parts: the parts after its introduction
                # are not new either.)
                kind = "new" if not first and all(c.before is None for c in new) else "list"
                await self._send(
                    chat,
                    post_digest(
                        self.bot,
                        self.db,
                        chat.chat_id,
                        orders,
                        kind=kind,
                        campaign_id=campaign_id,
                        today=today,
                        now=now,
                    ),
                )
            return
        for change in new:
            if not chat.take():
                return
            order = change.order
            view = view_for(self.db, chat.chat_id, order, names.get(order.order_id), today)
            await self._send(chat, post_card(self.bot, self.db, chat.chat_id, order, view, now))

    async def _send(self, chat: _Chat, sending: Awaitable[object]) -> None:
        """Await one message, counting it toward the chat's budget."""
        self._spent(chat)
        try:
            await sending
        except Transient:
            raise
        except TelegramError as exc:
            if transient(exc):
                raise Transient(str(exc)) from exc
            if will_never_arrive(exc):
                raise
            log.warning("a card message to chat %s was refused: %s", chat.chat_id, exc)
