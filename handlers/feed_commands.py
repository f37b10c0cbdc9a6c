"""The order feed's commands (/orders, /plan, /feed), /bind's first look, and the morning plan.

- ``/orders`` — the shop's open orders that need action (a buyer's cancellation request, late,
  due today, no track code), most urgent first, as a list with a button per order (paged);
  ``/orders mine`` — the open orders I took.
- ``/plan`` — today's plan; ``/plan 08:30`` or ``/plan off`` (owner, manager) — when it is
  posted every morning (the bot's time zone).
- ``/feed on|off`` — order cards in this chat (owner).

What they show is what the order feed saw last (``storage.feed``), so none of them calls
Market. ``PlanPoster`` implements ``bot.plan.PlanSink``: the plan goes to the shop's bound
groups, else to its owners in private.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import date

from sqlite_utils import Database
from telegram import Bot
from telegram.error import TelegramError

from bot.market.models import BusinessOrder
from bot.market.orders import OPEN, urgency
from bot.plan import plan_time
from handlers import card_post, card_view, shops
from handlers.access import Allowed, ChatKind, Denied, DenyReason
from handlers.context import Outcome, Request, Result
from handlers.dispatch import deny
from handlers.messaging import send_text
from handlers.shopnames import shop_of
from storage import feed, members
from storage.members import role_at_least

log = logging.getLogger(__name__)

MINE = ("mine", "my", "мои", "мой")
OFF = ("off", "выкл", "нет", "no")
ON = ("on", "вкл", "да", "yes")


def _not_read(request: Request, campaign_id: int) -> bool:
    shop = feed.shop(request.services.db, campaign_id)
    return shop is None or shop.swept_at is None


async def orders(request: Request, access: Allowed) -> Outcome:
    """``/orders [mine]``: see the module docstring."""
    campaign_id, user_id = access.campaign_id, request.user_id
    assert campaign_id is not None and user_id is not None
    services = request.services
    words = [w.casefold() for w in request.args]
    mine = bool(words) and words[0] in MINE
    if len(words) > 1 or (words and not mine):
        await request.reply(request.t("usage.orders"))
        return Outcome(Result.BAD_INPUT)
    if _not_read(request, campaign_id):
        await request.reply(request.t("orders.not_read"))
        return Outcome(Result.OK, "not_read")
    today = services.today()
    if mine:
        taken = feed.taken_by(services.db, campaign_id, user_id)
        found = sorted(
            (BusinessOrder.model_validate(r.snapshot) for r in taken if r.status in OPEN),
            key=lambda o: urgency(o, today),
        )
    else:
        found = card_post.needing_action(card_post.stored_open(services.db, campaign_id), today)
    if not found:
        await request.reply(request.t("orders.none_mine" if mine else "orders.none"))
        return Outcome(Result.OK, "none")
    await card_post.post_digest(
        request.context.bot,
        services.db,
        request.chat_id,
        found,
        kind="mine" if mine else "list",
        campaign_id=campaign_id,
        today=today,
        now=services.clock(),
        reply_to=request.message_id if request.chat_kind != ChatKind.PRIVATE else None,
        thread_id=request.thread_id,
        list_cards=False,
        lang=request.lang,
    )
    return Outcome(Result.OK, str(len(found)))


def plan_words(db: Database, campaign_id: int, day: date, lang: str) -> str:
    """The shop's plan for ``day`` from what the feed saw last."""
    found = card_post.needing_action(card_post.stored_open(db, campaign_id), day)
    shop = shop_of(db, campaign_id)
    return card_view.plan_text(found, lang="en" if lang == "en" else "ru", today=day, shop=shop)


async def plan(request: Request, access: Allowed) -> Outcome:
    """``/plan`` shows today's plan; ``/plan 08:30`` / ``/plan off`` sets the morning post."""
    campaign_id = access.campaign_id
    assert campaign_id is not None
    services = request.services
    if not request.args:
        if _not_read(request, campaign_id):
            await request.reply(request.t("orders.not_read"))
            return Outcome(Result.OK, "not_read")
        text = plan_words(services.db, campaign_id, services.today(), request.lang)
        shop = feed.shop(services.db, campaign_id)
        plan_at = shop.plan_at if shop else feed.DEFAULT_PLAN_AT
        key = "plan.setting_off" if plan_at == "off" else "plan.setting"
        setting = request.t(key, at=plan_at)
        await request.reply(f"{text}\n\n{setting}")
        return Outcome(Result.OK)
    if not role_at_least(access.role, "manager"):
        await deny(request, Denied(DenyReason.ROLE_TOO_LOW, campaign_id))
        return Outcome(Result.DENIED, DenyReason.ROLE_TOO_LOW.value, campaign_id=campaign_id)
    word = request.args[0].casefold()
    at = plan_time(word)
    if len(request.args) > 1 or (at is None and word not in OFF):
        await request.reply(request.t("usage.plan"))
        return Outcome(Result.BAD_INPUT)
    if at is None:
        feed.set_plan(services.db, campaign_id, "off")
        await request.reply(request.t("plan.off"))
        return Outcome(Result.OK, "off")
    text = f"{at:%H:%M}"
    feed.set_plan(services.db, campaign_id, text)
    now = services.clock().astimezone(services.tz)
    if at <= now.time():
        # A time already past today starts tomorrow: setting it never posts at once.
        feed.plan_sent(services.db, campaign_id, now.date())
    zone = getattr(services.tz, "key", str(services.tz))
    await request.reply(request.t("plan.set", at=text, zone=zone))
    return Outcome(Result.OK, text)


async def feed_switch(request: Request, access: Allowed) -> Outcome:
    """``/feed on|off``: order cards in this chat; ``/feed`` says whether they come."""
    db = request.services.db
    word = request.args[0].casefold() if request.args else ""
    if len(request.args) > 1 or (word and word not in ON + OFF):
        await request.reply(request.t("usage.feed"))
        return Outcome(Result.BAD_INPUT)
    if word:
        feed.set_chat_enabled(db, request.chat_id, word in ON)
    enabled = feed.chat_enabled(db, request.chat_id)
    await request.reply(request.t("feed.on" if enabled else "feed.off"))
    return Outcome(Result.OK, "on" if enabled else "off")


async def bind(request: Request, access: Allowed) -> Outcome:
    """``/bind``, then the group's first look at the shop's open orders (once)."""
    outcome = await shops.bind(request, access)
    campaign_id = access.campaign_id
    if outcome.result is not Result.OK or campaign_id is None:
        return outcome
    services = request.services
    shop = feed.shop(services.db, campaign_id)
    if shop is None or shop.cursor is None:
        # The shop's first sweep is still to come: it brings the first look.
        feed.mark_introduced(services.db, request.chat_id, False)
        return outcome
    orders_ = card_post.stored_open(services.db, campaign_id)
    with contextlib.suppress(TelegramError):
        await card_post.introduce(
            request.context.bot,
            services.db,
            request.chat_id,
            campaign_id,
            orders_,
            services.today(),
            services.clock(),
        )
    return outcome


class PlanPoster:
    """Posts a shop's plan to its bound groups, else to its owners (``bot.plan.PlanSink``)."""

    def __init__(self, bot: Bot, db: Database) -> None:
        self.bot = bot
        self.db = db

    def chats(self, campaign_id: int) -> list[int]:
        return feed.bound_chats(self.db, campaign_id) or [
            m.user_id for m in members.members_of(self.db, campaign_id) if m.role == "owner"
        ]

    async def post_plan(self, campaign_id: int, day: date) -> None:
        """Nothing is posted when no order needs action that day."""
        orders_ = card_post.stored_open(self.db, campaign_id)
        if not card_view.plan_has_work(orders_, day):
            return
        for chat_id in self.chats(campaign_id):
            lang = card_post.chat_language(self.db, chat_id)
            if await send_text(self.bot, chat_id, plan_words(self.db, campaign_id, day, lang)):
                continue
            log.info("the plan of shop %s did not reach chat %s", campaign_id, chat_id)
