"""The layer every command passes through: who is asking, may they, and what happened.

``command_callback`` turns a handler into a python-telegram-bot callback that builds the
``Request``, logs one line, records the attempt in the audit log and never lets an exception
reach the user as silence. ``authorize`` is the only place that asks ``access.decide`` and
answers a denial; handlers call it with what they know about the command.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import ContextTypes

from handlers.access import (
    AccessRequest,
    Actor,
    Allowed,
    ChatKind,
    ChooseCampaign,
    Denied,
    DenyReason,
    Role,
    decide,
)
from handlers.context import Request, Services
from handlers.texts import language_for
from storage import audit, bindings, campaigns, members, pending, prefs

log = logging.getLogger("bot.commands")

Handler = Callable[[Request], Awaitable[str]]
GROUP_DENIAL_INTERVAL = timedelta(minutes=1)
# Telegram's id of "GroupAnonymousBot", the sender shown for anonymous group admins.
ANONYMOUS_ADMIN_ID = 1087968824


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    services = context.bot_data["services"]
    assert isinstance(services, Services)
    return services


def request_from_update(
    update: Update, context: ContextTypes.DEFAULT_TYPE, command: str
) -> Request | None:
    """Build the Request for a command message; None for updates without a message."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return None
    services = services_of(context)
    # For a button press the message is the bot's own; the person is the one who pressed.
    user = update.callback_query.from_user if update.callback_query else message.from_user
    anonymous = (message.sender_chat is not None and not update.callback_query) or (
        user is not None and user.id == ANONYMOUS_ADMIN_ID
    )
    user_id = None if anonymous or user is None else user.id
    preferred = prefs.get_prefs(services.db, user_id).language if user_id else None
    text = message.text or message.caption or ""
    first_line = text.split("\n", 1)[0]
    return Request(
        update=update,
        context=context,
        services=services,
        command=command,
        text=text,
        args=first_line.split()[1:],
        lang=language_for(user.language_code if user else None, preferred),
        user_id=user_id,
        user_name=(user.full_name if user else "") or "",
        is_bot=bool(user and user.is_bot and not anonymous),
        anonymous=anonymous,
        chat_id=chat.id,
        chat_kind=ChatKind.from_telegram(chat.type),
        thread_id=message.message_thread_id if message.is_topic_message else None,
        message_id=message.message_id,
    )


def command_callback(
    name: str, handler: Handler
) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    """Wrap ``handler`` (which returns an outcome word for the audit log) for the Application."""

    async def callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        request = request_from_update(update, context, name)
        if request is None:
            return
        await run_handler(request, handler)

    callback.__name__ = f"cmd_{name}"
    return callback


async def run_handler(request: Request, handler: Handler) -> None:
    started = time.monotonic()
    outcome = "error"
    try:
        outcome = await handler(request)
    except Exception:
        log.exception("/%s failed in chat %s", request.command, request.chat_id)
        await request.reply(request.t("error.internal"))
    finally:
        elapsed = (time.monotonic() - started) * 1000
        log.info(
            "/%s user=%s chat=%s campaign=%s -> %s (%.0f ms)",
            request.command,
            request.user_id,
            request.chat_id,
            request.extra.get("campaign_id"),
            outcome,
            elapsed,
        )
        audit.record(
            request.services.db,
            now=request.services.clock(),
            user_id=request.user_id,
            chat_id=request.chat_id,
            campaign_id=request.extra.get("campaign_id"),
            command=request.command,
            arguments=str(request.extra.get("audit_arguments", " ".join(request.args))),
            outcome=outcome,
            market_error=request.extra.get("market_error"),
        )


async def authorize(
    request: Request,
    *,
    command: str | None = None,
    requested_campaign: int | None = None,
    target_role: Role | None = None,
    owner_count: int = 0,
) -> Allowed | None:
    """Ask ``access.decide`` and answer the person when the answer is not a plain yes.

    Returns Allowed (with the campaign, also stored in ``request.extra``) or None after a
    denial or a campaign question has been sent.
    """
    services = request.services
    user_id = request.user_id
    memberships: dict[int, Role] = {}
    default_campaign = None
    if user_id is not None:
        memberships = {m.campaign_id: m.role for m in members.memberships_of(services.db, user_id)}
        default_campaign = prefs.get_prefs(services.db, user_id).default_campaign_id
    binding = (
        bindings.binding_of(services.db, request.chat_id)
        if request.chat_kind == ChatKind.GROUP
        else None
    )
    decision = decide(
        AccessRequest(
            actor=Actor(user_id=user_id, is_bot=request.is_bot, anonymous=request.anonymous),
            chat_kind=request.chat_kind,
            command=command or request.command,
            memberships=memberships,
            bound_campaign=binding.campaign_id if binding else None,
            requested_campaign=request.forced_campaign or requested_campaign,
            default_campaign=default_campaign,
            target_role=target_role,
            owner_count=owner_count,
        )
    )
    if isinstance(decision, Allowed):
        if decision.campaign_id is not None:
            request.extra["campaign_id"] = decision.campaign_id
        return decision
    if isinstance(decision, ChooseCampaign):
        await ask_campaign(request, decision.campaign_ids)
        request.extra["outcome"] = "asked_campaign"
        return None
    await deny(request, decision)
    return None


async def deny(request: Request, denial: Denied) -> None:
    """Explain a denial: fully in private, briefly (once a minute per person) in groups."""
    request.extra["outcome"] = f"denied:{denial.reason.value}"
    if denial.campaign_id is not None:
        request.extra.setdefault("campaign_id", denial.campaign_id)
    services = request.services
    user_id = request.user_id if request.user_id is not None else 0
    if request.chat_kind == ChatKind.GROUP:
        # In groups every refusal is said at most once a minute per person, so nobody can make
        # the bot flood the shop's chat.
        key = (request.chat_id, user_id)
        now = services.clock()
        last = services.group_denials.get(key)
        if last is not None and now - last < GROUP_DENIAL_INTERVAL:
            return
        services.group_denials[key] = now
        if denial.reason in (DenyReason.NOT_MEMBER, DenyReason.ROLE_TOO_LOW):
            await request.reply(
                request.t("deny.group_short", name=request.user_name or "?", user_id=user_id)
            )
            return
    params: dict[str, Any] = {
        "user_id": user_id,
        "command": f"/{request.command}",
        "link": services.private_link(),
    }
    await request.reply(request.t(f"deny.{denial.reason.value}", **params))


def save_for_button(request: Request) -> pending.PendingRow | None:
    """Keep the command until a button under the bot's question completes it."""
    if request.user_id is None:
        return None
    return pending.save_pending(
        request.services.db,
        chat_id=request.chat_id,
        message_id=request.message_id,
        thread_id=request.thread_id,
        user_id=request.user_id,
        language=request.lang,
        command=request.command,
        text=request.text,
        now=request.services.clock(),
    )


async def ask_campaign(request: Request, campaign_ids: tuple[int, ...]) -> None:
    """Save the command and offer one button per campaign; the press finishes the command."""
    services = request.services
    saved = save_for_button(request)
    if saved is None:
        return
    rows = campaigns.get_campaigns(services.db, campaign_ids)
    buttons = [
        [
            InlineKeyboardButton(
                shop_name(rows[cid]) if cid in rows else str(cid),
                callback_data=f"pick:{saved.id}:{cid}",
            )
        ]
        for cid in campaign_ids
    ]
    await request.reply(request.t("choose.campaign"), markup=InlineKeyboardMarkup(buttons))


def shop_name(row: campaigns.CampaignRow | None, campaign_id: int | None = None) -> str:
    """How a shop is named in answers: its domain or business name, with the campaign id."""
    if row is None:
        return f"#{campaign_id}" if campaign_id else "?"
    name = row.domain or row.business_name
    return f"{name} ({row.id})" if name else f"#{row.id}"
