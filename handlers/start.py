"""/start (also accepting an invite) and /language."""

from __future__ import annotations

from dataclasses import replace

from handlers.access import Actor, Allowed, Denied, DenyReason, InviteView, check_invite
from handlers.context import Outcome, Request, Result
from handlers.dispatch import deny
from handlers.messaging import send_text
from handlers.shopnames import shop_of
from handlers.texts import language_for, t
from storage import invites, members, prefs

TRACK_EXAMPLE = "/track 123456789 RR456 51"
MOVE_EXAMPLE = "/move 123456789 25.12 buyer"


async def start(request: Request, access: Allowed) -> Outcome:
    if request.args:
        return await accept_invite(request, request.args[0])
    await request.reply(
        request.t("start.title")
        + "\n\n"
        + request.t("start.body", track_example=TRACK_EXAMPLE, move_example=MOVE_EXAMPLE)
    )
    return Outcome(Result.OK)


async def language(request: Request, access: Allowed) -> Outcome:
    choice = request.args[0].lower() if request.args else ""
    if choice not in ("ru", "en") or request.user_id is None:
        await request.reply(request.t("language.usage"))
        return Outcome(Result.BAD_INPUT)
    prefs.set_language(request.services.db, request.user_id, choice)
    await replace(request, lang=language_for(None, choice)).reply(
        t(language_for(None, choice), "language.done")
    )
    return Outcome(Result.OK)


async def accept_invite(request: Request, code: str) -> Outcome:
    services = request.services
    hidden = "<invite code>"
    row = invites.find_invite(services.db, code)
    memberships = (
        {m.campaign_id: m.role for m in members.memberships_of(services.db, request.user_id)}
        if request.user_id is not None
        else {}
    )
    decision = check_invite(
        _view_of(request, row),
        actor=Actor(user_id=request.user_id, is_bot=request.is_bot, anonymous=request.anonymous),
        chat_kind=request.chat_kind,
        memberships=memberships,
        now=services.clock(),
    )
    campaign_id = row.campaign_id if row else None
    if isinstance(decision, Denied):
        if decision.reason is DenyReason.ALREADY_MEMBER and campaign_id is not None:
            await request.reply(
                request.t("deny.already_member", shop=shop_of(services.db, campaign_id))
            )
        else:
            await deny(request, decision)
        return Outcome(
            Result.DENIED, decision.reason.value, campaign_id=campaign_id, arguments=hidden
        )
    assert row is not None and request.user_id is not None
    now = services.clock()
    if not invites.use_invite(services.db, row.code_hash, request.user_id, now):
        await request.reply(request.t("deny.invite_used"))
        return Outcome(Result.DENIED, "invite_used", campaign_id=campaign_id, arguments=hidden)
    members.set_member(services.db, row.campaign_id, request.user_id, row.role, row.created_by, now)
    shop = shop_of(services.db, row.campaign_id)
    role_words = request.t(f"role.{row.role}")
    await request.reply(
        request.t(
            "invite.accepted", role=role_words, shop=shop, next=request.t("invite.accepted_next")
        )
    )
    await _tell_creator(request, row, shop)
    return Outcome(Result.OK, campaign_id=campaign_id, arguments=hidden)


def _view_of(request: Request, row: invites.InviteRow | None) -> InviteView | None:
    """The invite's facts, with its creator's role as it is now, not when it was made."""
    if row is None:
        return None
    creator = members.get_member(request.services.db, row.campaign_id, row.created_by)
    return InviteView(
        row.campaign_id, row.role, row.expires_at, row.used_by, creator.role if creator else None
    )


async def _tell_creator(request: Request, row: invites.InviteRow, shop: str) -> None:
    """Tell the person who made the invite, in their own language."""
    creator_lang = prefs.get_prefs(request.services.db, row.created_by).language
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
