"""Shops and people: /connect, /invite, /grant, /revoke, /members, /bind, /unbind, /use,
/disconnect and /log."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.market.errors import (
    MarketAPIError,
    MarketError,
    MarketForbidden,
    MarketNotFound,
    MarketUnauthorized,
)
from handlers.access import Role
from handlers.context import Request
from handlers.guard import authorize, shop_name
from handlers.messaging import send_text
from storage import audit, bindings, campaigns, invites, members, prefs

log = logging.getLogger(__name__)

ROLE_WORDS: dict[str, Role] = {
    "courier": "courier",
    "manager": "manager",
    "курьер": "courier",
    "менеджер": "manager",
}


def _campaign_arg(text: str) -> int | None:
    if text.isascii() and text.isdigit() and 0 < int(text) < 2**63:
        return int(text)
    return None


def _shop(request: Request, campaign_id: int) -> str:
    return shop_name(campaigns.get_campaign(request.services.db, campaign_id), campaign_id)


async def _delete_message(request: Request) -> bool:
    try:
        return bool(await request.context.bot.delete_message(request.chat_id, request.message_id))
    except TelegramError as exc:
        log.info("could not delete a message with a key in chat %s: %s", request.chat_id, exc)
        return False


async def connect(request: Request) -> str:
    # Whatever happens, the key never reaches the audit log: only a campaign id is kept.
    request.extra["audit_arguments"] = " ".join(
        arg if _campaign_arg(arg) else "[key hidden]" for arg in request.args
    )
    if request.chat_kind.value != "private":
        if request.args:
            deleted = await _delete_message(request)
            await request.reply(
                request.t("connect.in_group", link=request.services.private_link())
                + ("" if deleted else "\n" + request.t("connect.not_deleted"))
            )
            return "refused:key_in_group"
        allowed = await authorize(request)
        return "ok" if allowed else str(request.extra["outcome"])
    if await authorize(request) is None:
        return str(request.extra["outcome"])
    if len(request.args) != 2:
        # A key pasted without the campaign id (or with extra words) must not stay either.
        if any(_campaign_arg(arg) is None for arg in request.args):
            await _delete_message(request)
        await request.reply(request.t("connect.usage"))
        return "bad_input"
    campaign_id = _campaign_arg(request.args[0])
    api_key = request.args[1]
    deleted = await _delete_message(request)
    notice = request.t("connect.deleted") if deleted else request.t("connect.not_deleted")
    if campaign_id is None:
        await request.reply(
            request.t("connect.bad_campaign", value=request.args[0][:30])
            + "\n"
            + notice
            + "\n\n"
            + request.t("connect.usage")
        )
        return "bad_input"
    assert request.user_id is not None
    services = request.services
    request.extra["campaign_id"] = campaign_id
    try:
        campaign = await services.market.get_campaign(api_key, campaign_id)
    except MarketError as exc:
        request.extra["market_error"] = str(exc)
        await request.reply(
            notice + "\n\n" + _connect_failure(request, exc) + "\n" + request.t("connect.failed")
        )
        return "failed"
    existing = campaigns.get_campaign(services.db, campaign_id)
    now = services.clock()
    row = campaigns.save_campaign(
        services.db,
        campaign_id=campaign_id,
        domain=campaign.domain,
        business_id=campaign.business.id if campaign.business else None,
        business_name=campaign.business.name if campaign.business else "",
        placement_type=campaign.placement_type or "",
        api_key_cipher=services.keybox.encrypt(api_key),
        connected_by=request.user_id,
        now=now,
    )
    members.set_member(services.db, campaign_id, request.user_id, "owner", request.user_id, now)
    key = "connect.reconnected" if existing else "connect.ok"
    lines = [notice, "", request.t(key, shop=shop_name(row), campaign_id=campaign_id)]
    if (campaign.placement_type or "DBS") != "DBS":
        lines.append(request.t("connect.not_dbs", placement=campaign.placement_type))
    if not existing:
        lines.append(request.t("connect.next"))
    await request.reply("\n".join(lines))
    return "ok"


def _connect_failure(request: Request, exc: MarketError) -> str:
    market_line = (
        "\n" + request.t("connect.market_said", message=exc.message)
        if isinstance(exc, MarketAPIError)
        else ""
    )
    message = exc.message.lower() if isinstance(exc, MarketAPIError) else ""
    if isinstance(exc, MarketUnauthorized):
        key = "connect.revoked" if "revoked" in message else "connect.unauthorized"
    elif isinstance(exc, MarketForbidden):
        if "scope" in message:
            key = "connect.no_scope"
        elif "disabled" in message:
            key = "connect.api_disabled"
        else:
            key = "connect.access_denied"
    elif isinstance(exc, MarketNotFound):
        key = "connect.not_found"
    elif exc.transient:
        key = "connect.busy"
    else:
        key = "connect.refused"
    campaign_id = request.extra.get("campaign_id", "")
    return request.t(key, campaign_id=campaign_id) + market_line


def _role_arg(request: Request, index: int = 0) -> Role | None:
    if len(request.args) <= index:
        return None
    return ROLE_WORDS.get(request.args[index].lower())


async def invite(request: Request) -> str:
    role = _role_arg(request)
    requested = _campaign_arg(request.args[1]) if len(request.args) > 1 else None
    if role is None or len(request.args) > 2 or (len(request.args) == 2 and requested is None):
        if await authorize(request, command="members") is None:
            return str(request.extra["outcome"])
        await request.reply(request.t("invite.usage"))
        return "bad_input"
    allowed = await authorize(request, requested_campaign=requested, target_role=role)
    if allowed is None or allowed.campaign_id is None or request.user_id is None:
        return str(request.extra.get("outcome", "denied"))
    services = request.services
    code, row = invites.create_invite(
        services.db, allowed.campaign_id, role, request.user_id, services.clock()
    )
    request.extra["audit_arguments"] = role
    link = f"https://t.me/{services.bot_username}?start={code}"
    expires = row.expires_at.astimezone(services.tz).strftime("%d.%m %H:%M")
    await request.reply(
        request.t(
            "invite.created",
            role=request.t(f"role.{role}"),
            shop=_shop(request, allowed.campaign_id),
            expires=expires,
            link=link,
        )
    )
    return "ok"


async def grant(request: Request) -> str:
    role = _role_arg(request)
    message = request.update.effective_message
    target = message.reply_to_message.from_user if message and message.reply_to_message else None
    if role is None or target is None:
        if await authorize(request, command="grant", target_role="courier") is None:
            return str(request.extra["outcome"])
        await request.reply(request.t("grant.usage"))
        return "bad_input"
    allowed = await authorize(request, target_role=role)
    if allowed is None or allowed.campaign_id is None or request.user_id is None:
        return str(request.extra.get("outcome", "denied"))
    if target.is_bot or target.id == 1087968824:
        await request.reply(request.t("grant.not_a_person"))
        return "bad_input"
    services = request.services
    members.set_member(
        services.db, allowed.campaign_id, target.id, role, request.user_id, services.clock()
    )
    request.extra["audit_arguments"] = f"{role} {target.id}"
    await request.reply(
        request.t(
            "grant.done",
            name=target.full_name,
            user_id=target.id,
            role=request.t(f"role.{role}"),
            shop=_shop(request, allowed.campaign_id),
        )
    )
    return "ok"


async def revoke(request: Request) -> str:
    message = request.update.effective_message
    target_id: int | None = None
    if request.args:
        target_id = _campaign_arg(request.args[0])
    elif message and message.reply_to_message and message.reply_to_message.from_user:
        target_id = message.reply_to_message.from_user.id
    # First: which campaign, and may this person manage its people at all?
    allowed = await authorize(request, command="members")
    if allowed is None or allowed.campaign_id is None:
        return str(request.extra["outcome"])
    if target_id is None or len(request.args) > 1:
        await request.reply(request.t("revoke.usage"))
        return "bad_input"
    services = request.services
    campaign_id = allowed.campaign_id
    target = members.get_member(services.db, campaign_id, target_id)
    decision = await authorize(
        request,
        requested_campaign=campaign_id,
        target_role=target.role if target else None,
        owner_count=members.count_owners(services.db, campaign_id),
    )
    if decision is None:
        return str(request.extra["outcome"])
    members.remove_member(services.db, campaign_id, target_id)
    if prefs.get_prefs(services.db, target_id).default_campaign_id == campaign_id:
        prefs.set_default_campaign(services.db, target_id, None)
    request.extra["audit_arguments"] = str(target_id)
    shop = _shop(request, campaign_id)
    await request.reply(request.t("revoke.done", user_id=target_id, shop=shop))
    await send_text(request.context.bot, target_id, request.t("revoke.notice", shop=shop))
    return "ok"


async def members_command(request: Request) -> str:
    allowed = await authorize(request)
    if allowed is None or allowed.campaign_id is None:
        return str(request.extra["outcome"])
    services = request.services
    rows = members.members_of(services.db, allowed.campaign_id)
    lines = [request.t("members.title", shop=_shop(request, allowed.campaign_id))]
    lines += [
        request.t(
            "members.line",
            role=request.t(f"role.{row.role}"),
            user_id=row.user_id,
            you=request.t("members.you") if row.user_id == request.user_id else "",
        )
        for row in rows
    ]
    return await _answer_privately(request, "\n".join(lines))


async def _answer_privately(request: Request, text: str) -> str:
    """Long output goes to the private chat; the group only hears where it went."""
    if request.chat_kind.value == "private":
        await request.reply(text)
        return "ok"
    if await request.send_private(text):
        await request.reply(request.t("members.sent_private"))
        return "ok"
    await request.reply(request.t("members.start_private", link=request.services.private_link()))
    return "ok_not_delivered"


async def bind(request: Request) -> str:
    requested = _campaign_arg(request.args[0]) if request.args else None
    if request.args and requested is None:
        await request.reply(request.t("bind.usage"))
        return "bad_input"
    allowed = await authorize(request, requested_campaign=requested)
    if allowed is None or allowed.campaign_id is None or request.user_id is None:
        return str(request.extra["outcome"])
    services = request.services
    bindings.bind_chat(
        services.db, request.chat_id, allowed.campaign_id, request.user_id, services.clock()
    )
    await request.reply(request.t("bind.done", shop=_shop(request, allowed.campaign_id)))
    return "ok"


async def unbind(request: Request) -> str:
    allowed = await authorize(request)
    if allowed is None or allowed.campaign_id is None:
        return str(request.extra["outcome"])
    bindings.unbind_chat(request.services.db, request.chat_id)
    await request.reply(request.t("unbind.done", shop=_shop(request, allowed.campaign_id)))
    return "ok"


async def use(request: Request) -> str:
    requested = _campaign_arg(request.args[0]) if len(request.args) == 1 else None
    if requested is None:
        if await authorize(request, command="help") is None:
            return str(request.extra["outcome"])
        await request.reply(request.t("use.usage"))
        return "bad_input"
    allowed = await authorize(request, requested_campaign=requested)
    if allowed is None or allowed.campaign_id is None or request.user_id is None:
        return str(request.extra["outcome"])
    prefs.set_default_campaign(request.services.db, request.user_id, allowed.campaign_id)
    await request.reply(request.t("use.done", shop=_shop(request, allowed.campaign_id)))
    return "ok"


async def disconnect(request: Request) -> str:
    requested = _campaign_arg(request.args[0]) if len(request.args) == 1 else None
    if requested is None:
        await request.reply(request.t("disconnect.usage"))
        return "bad_input"
    allowed = await authorize(request, requested_campaign=requested)
    if allowed is None or allowed.campaign_id is None:
        return str(request.extra["outcome"])
    cid = allowed.campaign_id
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(request.t("disconnect.yes"), callback_data=f"disc:{cid}:y"),
                InlineKeyboardButton(request.t("disconnect.no"), callback_data=f"disc:{cid}:n"),
            ]
        ]
    )
    await request.reply(request.t("disconnect.confirm", shop=_shop(request, cid)), markup=buttons)
    return "asked_confirmation"


async def confirm_disconnect(request: Request, campaign_id: int, yes: bool) -> str:
    """The owner pressed a button under /disconnect's question."""
    allowed = await authorize(request, command="disconnect", requested_campaign=campaign_id)
    if allowed is None:
        return str(request.extra["outcome"])
    shop = _shop(request, campaign_id)
    if not yes:
        await request.reply(request.t("disconnect.cancelled", shop=shop))
        return "cancelled"
    campaigns.forget_campaign(request.services.db, campaign_id)
    await request.reply(request.t("disconnect.done", shop=shop))
    return "ok"


async def log_command(request: Request) -> str:
    count = 10
    if request.args:
        arg = request.args[0]
        if not (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= 100) or len(request.args) > 1:
            await request.reply(request.t("log.usage"))
            return "bad_input"
        count = int(arg)
    allowed = await authorize(request)
    if allowed is None or allowed.campaign_id is None:
        return str(request.extra["outcome"])
    services = request.services
    shop = _shop(request, allowed.campaign_id)
    rows = audit.recent(services.db, allowed.campaign_id, count)
    if not rows:
        return await _answer_privately(request, request.t("log.empty", shop=shop))
    lines = [request.t("log.title", count=len(rows), shop=shop)]
    for row in rows:
        lines.append(
            request.t(
                "log.line",
                at=row.at.astimezone(services.tz).strftime("%d.%m %H:%M"),
                user=row.user_id if row.user_id is not None else "?",
                command=f"/{row.command} {row.arguments[:60]}".strip(),
                outcome=row.outcome + (f" ({row.market_error[:80]})" if row.market_error else ""),
            )
        )
    return await _answer_privately(request, "\n".join(lines))
