"""/start (also accepting an invite), /help and /language."""

from __future__ import annotations

from handlers.access import Actor, Allowed, Denied, InviteView, check_invite
from handlers.context import Request
from handlers.guard import deny, shop_name
from handlers.messaging import send_text
from handlers.texts import language_for, t
from storage import campaigns, invites, members, prefs

TRACK_EXAMPLE = "/track 123456789 RR456 51"
MOVE_EXAMPLE = "/move 123456789 25.12 buyer"


async def start(request: Request) -> str:
    if request.args:
        return await accept_invite(request, request.args[0])
    await request.reply(
        request.t("start.title")
        + "\n\n"
        + request.t("start.body", track_example=TRACK_EXAMPLE, move_example=MOVE_EXAMPLE)
    )
    return "ok"


async def help_command(request: Request) -> str:
    from handlers.registry import help_text  # the registry imports this module

    await request.reply(help_text(request.lang))
    return "ok"


async def language(request: Request) -> str:
    choice = request.args[0].lower() if request.args else ""
    if choice not in ("ru", "en") or request.user_id is None:
        await request.reply(request.t("language.usage"))
        return "bad_input"
    prefs.set_language(request.services.db, request.user_id, choice)
    request.lang = "ru" if choice == "ru" else "en"
    await request.reply(request.t("language.done"))
    return "ok"


async def accept_invite(request: Request, code: str) -> str:
    services = request.services
    request.extra["audit_arguments"] = "<invite code>"
    row = invites.find_invite(services.db, code)
    memberships = (
        {m.campaign_id: m.role for m in members.memberships_of(services.db, request.user_id)}
        if request.user_id is not None
        else {}
    )
    view = (
        InviteView(
            campaign_id=row.campaign_id,
            role=row.role,
            expires_at=row.expires_at,
            used_by=row.used_by,
        )
        if row
        else None
    )
    decision = check_invite(
        view,
        actor=Actor(user_id=request.user_id, is_bot=request.is_bot, anonymous=request.anonymous),
        chat_kind=request.chat_kind,
        memberships=memberships,
        now=services.clock(),
    )
    shop = shop_name(campaigns.get_campaign(services.db, row.campaign_id)) if row else ""
    if isinstance(decision, Denied):
        if row is not None:
            request.extra["campaign_id"] = row.campaign_id
        if decision.reason.value == "already_member":
            await request.reply(request.t("deny.already_member", shop=shop))
            request.extra["outcome"] = "denied:already_member"
        else:
            await deny(request, decision)
        return str(request.extra["outcome"])
    assert isinstance(decision, Allowed) and row is not None and request.user_id is not None
    now = services.clock()
    if not invites.use_invite(services.db, row.code_hash, request.user_id, now):
        await request.reply(request.t("deny.invite_used"))
        return "denied:invite_used"
    members.set_member(services.db, row.campaign_id, request.user_id, row.role, row.created_by, now)
    request.extra["campaign_id"] = row.campaign_id
    role_words = request.t(f"role.{row.role}")
    await request.reply(
        request.t(
            "invite.accepted", role=role_words, shop=shop, next=request.t("invite.accepted_next")
        )
    )
    # Tell the person who made the invite, in their own language.
    creator_lang = prefs.get_prefs(services.db, row.created_by).language
    lang = language_for(None, creator_lang) if creator_lang else request.lang
    await send_text(
        request.context.bot,
        row.created_by,
        t(
            lang,
            "invite.accepted_owner",
            name=request.user_name or "?",
            user_id=request.user_id,
            role=t(lang, f"role.{row.role}"),
            shop=shop,
        ),
    )
    return "ok"
