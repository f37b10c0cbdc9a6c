"""What a press on an order card or a digest does.

Every card press runs through the command wrapper (``handlers.dispatch.run_command``) as the
command it stands for, so the presser's role in that shop is decided at press time (couriers:
track, move, out for delivery, delivered, take; owners and managers also answer cancellation
requests), strangers get the usual refusal, the press is audited, and a press in a group bound
to another shop since is "expired":

- Track asks the presser for the code, answered by replying (``handlers.track_prompts``).
- Move runs ``/move <order>``: its parser asks the day (buttons and a calendar), then the reason.
- Out for delivery, Delivered, Accept and Decline submit their Market write here, as a batch of
  the card's message marked with the press (``NewBatch.press``, ``b<update id>``): every press
  is a command of its own, and a press Telegram delivers twice is recognised. Delivered on a
  day that is not the order's delivery day first asks "delivered today?"; Decline asks why.
- Take marks who took the order (only they or a manager may release it) and edits its cards.

Digest buttons (a page, an order's card) check the presser's role the same way, unaudited.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import date
from functools import partial
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.market.models import BusinessOrder
from bot.market.orders import Action
from bot.market.writes import (
    CancellationKind,
    CancellationPayload,
    DeliverKind,
    OperationKind,
    Payload,
    ShipKind,
)
from handlers import card_buttons, card_post, lines, track_prompts
from handlers.access import ANY_CHAT, Allowed, CampaignSource, ChatKind, CommandRule
from handlers.card_buttons import CardPress, DeliveredOn, DigestOpen, DigestPage
from handlers.context import (
    Outcome,
    Request,
    Result,
    person_language,
    request_from_update,
    services_of,
)
from handlers.dispatch import authorize, run_command
from handlers.messaging import edit_text
from handlers.parsing import InputError
from handlers.questions import Rerun
from handlers.spec import CommandSpec, Handler
from handlers.texts import t
from storage import bindings, feed, people
from storage.members import role_at_least
from storage.operations import NewOperation

COURIER = CommandRule(ANY_CHAT, CampaignSource.ACTIVE, "courier")
MANAGER = CommandRule(ANY_CHAT, CampaignSource.ACTIVE, "manager")
# Presses whose handler answered the press itself (with an alert), until ``on_press`` is done.
_ANSWERED: set[str] = set()


def _spec(name: str, handler: Handler, rule: CommandRule = COURIER) -> CommandSpec:
    """A command a button stands for; not registered (it has no typed form)."""
    return CommandSpec(name, handler, rule, f"/{name}")


def _request(
    update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, campaign_id: int
) -> Request | None:
    """The press as the presser's command ``text`` on the card's shop."""
    base = request_from_update(update, context, text.split()[0].lstrip("/"))
    if base is None:
        return None
    return replace(
        base.with_text(text), forced_campaign=campaign_id, question_message_id=base.message_id
    )


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE, rerun: Rerun) -> None:
    """A button of the ``o`` family: see the module docstring."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    press = card_buttons.parse(query.data or "")
    if press is None:
        lang = person_language(services_of(context), query.from_user)
        await query.answer(t(lang, "button.expired"), show_alert=True)
        return
    if isinstance(press, (DigestPage, DigestOpen)):
        await _digest_press(update, context, press)
        return
    if isinstance(press, CardPress) and press.action is Action.TAKE:
        text = f"/take {press.order_id}"
        await _run(update, context, text, press.campaign_id, partial(_take, press))
        if query.id not in _ANSWERED:  # refused before the handler could answer
            with contextlib.suppress(TelegramError):
                await query.answer()
        _ANSWERED.discard(query.id)
        return
    await query.answer()
    if isinstance(press, CardPress):
        await _card_press(update, context, press, rerun)
    elif isinstance(press, DeliveredOn):
        text = f"/delivered {press.order_id} {press.day:%d.%m.%Y}"
        await _run(update, context, text, press.campaign_id, partial(_delivered_on, press))
    else:
        text = f"/cancellation {press.order_id} decline {press.reason}"
        handler = partial(_cancel, press.order_id, False, press.reason)
        await _run(update, context, text, press.campaign_id, handler, MANAGER)


async def _run(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    text: str,
    campaign_id: int,
    handler: Handler,
    rule: CommandRule = COURIER,
) -> None:
    request = _request(update, context, text, campaign_id)
    if request is not None:
        await run_command(_spec(request.command, handler, rule), request)


async def _card_press(
    update: Update, context: ContextTypes.DEFAULT_TYPE, press: CardPress, rerun: Rerun
) -> None:
    oid, cid = press.order_id, press.campaign_id
    action = press.action
    if action is Action.MOVE:
        request = _request(update, context, f"/move {oid}", cid)
        if request is not None:
            await rerun(request)
    elif action is Action.TRACK:
        await _run(update, context, f"/track {oid}", cid, partial(track_prompts.ask, oid))
    elif action is Action.SHIP:
        await _run(update, context, f"/shipped {oid}", cid, partial(_ship, oid))
    elif action is Action.DELIVER:
        await _run(update, context, f"/delivered {oid}", cid, partial(_deliver, oid))
    elif action is Action.ACCEPT_CANCEL:
        handler = partial(_cancel, oid, True, None)
        await _run(update, context, f"/cancellation {oid} accept", cid, handler, MANAGER)
    elif action is Action.DECLINE_CANCEL:
        handler = partial(_ask_decline, oid)
        await _run(update, context, f"/cancellation {oid} decline", cid, handler, MANAGER)


# --- Market writes ------------------------------------------------------------------------------


async def _submit(
    request: Request, access: Allowed, kind: OperationKind[Any], payload: Payload | InputError
) -> Outcome:
    """Store the write as a batch of the pressed message, marked with this press."""
    campaign_id = access.campaign_id
    assert campaign_id is not None  # the rule needs a campaign
    if isinstance(payload, InputError):
        await request.reply(request.t(payload.key, **payload.params))
        return Outcome(Result.BAD_INPUT)
    operation = NewOperation(1, campaign_id, kind.name, payload.model_dump(mode="json"))
    batch = request.batch([operation], press=f"b{request.update.update_id}")
    if not await request.services.runner.submit(batch):
        return Outcome(Result.DUPLICATE)
    return Outcome(Result.ACCEPTED, batch_id=batch.id)


def _context(request: Request) -> lines.LineContext:
    return lines.LineContext(request.services.today())


async def _ship(order_id: int, request: Request, access: Allowed) -> Outcome:
    payload = lines.parse_shipped([str(order_id)], _context(request))
    return await _submit(request, access, ShipKind(), payload)


def _delivery_day(order: BusinessOrder, today: date) -> bool:
    """Whether today is a day of the order's delivery interval (True when Market gives none)."""
    dates = order.delivery.dates if order.delivery else None
    last = (dates.to_date or dates.from_date) if dates else None
    if dates is None or last is None:
        return True
    return (dates.from_date or last) <= today <= last


async def _deliver(order_id: int, request: Request, access: Allowed) -> Outcome:
    """Delivered: at once on the delivery day; otherwise "delivered today?" first."""
    assert access.campaign_id is not None
    today = request.services.today()
    seen = feed.seen_orders(request.services.db, access.campaign_id, [order_id]).get(order_id)
    order = BusinessOrder.model_validate(seen.snapshot) if seen else None
    if order is not None and not _delivery_day(order, today):
        markup = card_buttons.delivered_markup(request.lang, access.campaign_id, order_id, today)
        text = request.t("card.confirm_delivered", order_id=order_id, day=f"{today:%d.%m}")
        await request.reply(text, markup=markup)
        return Outcome(Result.ASKED, "delivery_day")
    payload = lines.parse_delivered([str(order_id)], _context(request))
    return await _submit(request, access, DeliverKind(), payload)


async def _delivered_on(press: DeliveredOn, request: Request, access: Allowed) -> Outcome:
    """ "Yes, delivered on that day" (never a future day; today needs no date)."""
    day = press.day.isoformat()
    payload = lines.parse_delivered([str(press.order_id), day], _context(request))
    outcome = await _submit(request, access, DeliverKind(), payload)
    await _drop_buttons(request, outcome)
    return outcome


async def _cancel(
    order_id: int, accepted: bool, reason: str | None, request: Request, access: Allowed
) -> Outcome:
    payload = CancellationPayload.model_validate(
        {"order_id": order_id, "accepted": accepted, "reason": reason}
    )
    outcome = await _submit(request, access, CancellationKind(), payload)
    if reason is not None:
        await _drop_buttons(request, outcome)
    return outcome


async def _ask_decline(order_id: int, request: Request, access: Allowed) -> Outcome:
    assert access.campaign_id is not None
    markup = card_buttons.decline_markup(request.lang, access.campaign_id, order_id)
    await request.reply(request.t("card.decline_ask", order_id=order_id), markup=markup)
    return Outcome(Result.ASKED, "decline_reason")


async def _drop_buttons(request: Request, outcome: Outcome) -> None:
    """A question answered: its buttons go (they stay when the answer was refused)."""
    query = request.update.callback_query
    if query is not None and outcome.result in (Result.ACCEPTED, Result.DUPLICATE):
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(reply_markup=None)


# --- taking an order ----------------------------------------------------------------------------


async def _take(press: CardPress, request: Request, access: Allowed) -> Outcome:
    """Take the order, or release it (the one who took it, or a manager)."""
    assert access.campaign_id is not None and request.user_id is not None
    services = request.services
    query = request.update.callback_query
    seen = feed.seen_orders(services.db, access.campaign_id, [press.order_id]).get(press.order_id)
    holder = seen.taken_by if seen else None
    answer, result = "", Outcome(Result.OK, "taken")
    if seen is None:
        answer, result = request.t("card.unknown"), Outcome(Result.REFUSED, "unknown_order")
    elif holder is None:
        feed.take(
            services.db, access.campaign_id, press.order_id, request.user_id, services.clock()
        )
    elif holder == request.user_id or role_at_least(access.role, "manager"):
        feed.take(services.db, access.campaign_id, press.order_id, None, services.clock())
        result = Outcome(Result.OK, "released")
    else:
        name = card_post.taker_names(services.db, {press.order_id: holder})[press.order_id]
        answer, result = (
            request.t("card.taken_by_other", name=name),
            Outcome(Result.REFUSED, "taken"),
        )
    if query is not None:
        _ANSWERED.add(query.id)
        with contextlib.suppress(TelegramError):
            await query.answer(answer or None, show_alert=bool(answer))
    if result.result is Result.OK:
        people.note(
            services.db,
            services.names_seen,
            request.user_id,
            request.user_name,
            request.username,
            services.clock(),
        )
        now = services.clock()
        await card_post.refresh_cards(
            request.context.bot,
            services.db,
            access.campaign_id,
            press.order_id,
            services.today(),
            now,
        )
    return result


# --- digests ------------------------------------------------------------------------------------


def _bound_elsewhere(request: Request, campaign_id: int) -> bool:
    """A press in a group that is bound to another shop (or to none) since."""
    if request.chat_kind != ChatKind.GROUP:
        return False
    binding = bindings.binding_of(request.services.db, request.chat_id)
    return binding is None or binding.campaign_id != campaign_id


async def _digest_press(
    update: Update, context: ContextTypes.DEFAULT_TYPE, press: DigestPage | DigestOpen
) -> None:
    """Another page of a digest, or an order's card (posted once per chat)."""
    query = update.callback_query
    assert query is not None and query.message is not None
    services = services_of(context)
    row = feed.digest(services.db, press.digest_id)
    request = _request(update, context, "/orders", row.campaign_id) if row else None
    if request is None or row is None or row.chat_id != request.chat_id:
        lang = person_language(services, query.from_user)
        await query.answer(t(lang, "button.expired"), show_alert=True)
        return
    if _bound_elsewhere(request, row.campaign_id):
        await query.answer(request.t("button.expired"), show_alert=True)
        return
    decision = await authorize(request, COURIER)
    if isinstance(decision, Outcome):
        await query.answer()
        return
    today, now = services.today(), services.clock()
    bot = context.bot
    if isinstance(press, DigestPage):
        await query.answer()
        text, markup = card_post.digest_page(services.db, row, press.page, today, {})
        await edit_text(bot, request.chat_id, query.message.message_id, text, markup=markup)
        return
    shown = feed.card(services.db, request.chat_id, row.campaign_id, press.order_id)
    seen = feed.seen_orders(services.db, row.campaign_id, [press.order_id]).get(press.order_id)
    if press.order_id not in row.ids or seen is None:
        await query.answer(request.t("card.unknown"), show_alert=True)
        return
    if shown is not None and shown.message_id is not None:
        await query.answer(request.t("card.already_shown", order_id=press.order_id))
        return
    await query.answer()
    order = BusinessOrder.model_validate(seen.snapshot)
    name = card_post.taker_names(services.db, {order.order_id: seen.taken_by}).get(order.order_id)
    view = card_post.view_for(services.db, request.chat_id, order, name, today)
    with contextlib.suppress(TelegramError):
        await card_post.post_card(
            bot, services.db, request.chat_id, order, view, now, thread_id=request.thread_id
        )
