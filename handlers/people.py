"""People of a shop: /invite, /grant, /revoke, /members and /log.

Each handler runs after the command wrapper has decided access (including, for /grant and
/revoke, whether this person may give or take that role), and gets that decision.
"""

from __future__ import annotations

from telegram import Message, User

from handlers import questions
from handlers.access import Allowed, ChatKind
from handlers.context import (
    ANONYMOUS_ADMIN_ID,
    TELEGRAM_SERVICE_ID,
    Outcome,
    Request,
    Result,
    display_name,
)
from handlers.messaging import send_text
from handlers.parsing import InputError
from handlers.reporting import audit_outcome
from handlers.shopnames import shop_of
from handlers.shops import campaign_arg
from handlers.spec import AccessFacts
from storage import audit, invites, members, people, prefs
from storage.members import ROLE_RANK, Role
from storage.pending import Choice

ROLE_WORDS: dict[str, Role] = {
    "courier": "courier",
    "manager": "manager",
    "курьер": "courier",
    "менеджер": "manager",
}


def _role_arg(request: Request) -> Role | None:
    return ROLE_WORDS.get(request.args[0].lower()) if request.args else None


def _replied_message(request: Request) -> Message | None:
    """The message the command replies to, if it is a reply to anyone's message at all.

    In a forum topic Telegram marks every message as a reply to the topic's first message, a
    service message "topic created": that is where the command was written, not whom it
    names. A button press names nobody either.
    """
    message = request.update.effective_message
    replied = message.reply_to_message if message else None
    if message is None or replied is None or request.update.callback_query is not None:
        return None
    if replied.forum_topic_created is not None:
        return None
    if message.is_topic_message and replied.message_id == message.message_thread_id:
        return None
    return replied


def _person_of(message: Message) -> User | None:
    """The person who wrote ``message``, or None when no one person did: a channel or an
    anonymous admin (``sender_chat``), an automatic forward, Telegram itself, or a bot."""
    user = message.from_user
    if (
        user is None
        or message.sender_chat is not None
        or message.is_automatic_forward
        or user.is_bot
        or user.id in (ANONYMOUS_ADMIN_ID, TELEGRAM_SERVICE_ID)
    ):
        return None
    return user


def _replied_person(request: Request) -> User | None:
    replied = _replied_message(request)
    return _person_of(replied) if replied is not None else None


def invite_facts(request: Request) -> AccessFacts | InputError:
    args, role = request.args, _role_arg(request)
    # A missing or unclear role is asked with buttons (``invite``); until then the invite is
    # checked as the least one, a courier's, and the press is decided again in full.
    rest = args[1:] if role is not None or (args and campaign_arg(args[0]) is None) else args
    requested = campaign_arg(rest[0]) if rest else None
    if len(rest) > 1 or (rest and requested is None):
        return InputError("invite.usage")
    return AccessFacts(requested_campaign=requested, target_role=role or "courier")


def grant_facts(request: Request) -> AccessFacts | InputError:
    role, replied = _role_arg(request), _replied_message(request)
    if role is None or replied is None:
        return InputError("grant.usage")
    person = _person_of(replied)
    if person is None:
        return InputError("grant.not_a_person")
    return AccessFacts(target_role=role, target_user=person.id)


def revoke_facts(request: Request) -> AccessFacts | InputError:
    if len(request.args) > 1:
        return InputError("revoke.usage")
    if request.args:
        target_id = campaign_arg(request.args[0])
        if target_id is None:
            return InputError("revoke.usage")
        return AccessFacts(target_user=target_id)
    replied = _replied_message(request)
    if replied is None:
        return InputError("revoke.usage")
    person = _person_of(replied)
    if person is None:
        return InputError("revoke.not_a_person")
    return AccessFacts(target_user=person.id)


async def invite(request: Request, access: Allowed) -> Outcome:
    """``/invite <courier|manager> [campaignId]``: a single-use link valid 24 hours; without a
    role, a button for each."""
    role = _role_arg(request)
    assert access.campaign_id is not None and request.user_id is not None
    services = request.services
    if role is None:
        return await _ask_role(request, access.campaign_id)
    code, row = invites.create_invite(
        services.db, access.campaign_id, role, request.user_id, services.clock()
    )
    link = f"https://t.me/{services.bot_username}?start={code}"
    expires = row.expires_at.astimezone(services.tz).strftime("%d.%m %H:%M")
    await request.reply(
        request.t(
            "invite.created",
            role=request.t(f"role.{role}"),
            shop=shop_of(services.db, access.campaign_id),
            expires=expires,
            link=link,
        )
    )
    return Outcome(Result.OK, arguments=role)


async def _ask_role(request: Request, campaign_id: int) -> Outcome:
    choices = [
        (request.t(f"invite.as_{role}"), Choice(f"/invite {role} {campaign_id}", campaign_id))
        for role in ("courier", "manager")
    ]
    shop = shop_of(request.services.db, campaign_id)
    await questions.ask(request, request.t("invite.ask", shop=shop), choices)
    return Outcome(Result.ASKED, "role")


async def grant(request: Request, access: Allowed) -> Outcome:
    """``/grant <courier|manager>`` as a reply in the bound group: that person gets the role."""
    role, target = _role_arg(request), _replied_person(request)
    assert access.campaign_id is not None and request.user_id is not None
    assert role is not None and target is not None
    services = request.services
    before = members.get_member(services.db, access.campaign_id, target.id)
    members.set_member(
        services.db, access.campaign_id, target.id, role, request.user_id, services.clock()
    )
    if before is not None and ROLE_RANK[before.role] > ROLE_RANK[role]:
        # A demoted manager's (or owner's) links must not keep giving the role they lost.
        invites.drop_unused(services.db, access.campaign_id, target.id)
    await request.reply(
        request.t(
            "grant.done",
            name=display_name(target),
            user_id=target.id,
            role=request.t(f"role.{role}"),
            shop=shop_of(services.db, access.campaign_id),
        )
    )
    return Outcome(Result.OK, arguments=f"{role} {target.id}")


async def revoke(request: Request, access: Allowed) -> Outcome:
    """``/revoke <userId>`` (or as a reply): the person loses their role in the shop."""
    facts = revoke_facts(request)
    assert access.campaign_id is not None and isinstance(facts, AccessFacts)
    target_id, campaign_id = facts.target_user or 0, access.campaign_id
    services = request.services
    members.remove_member(services.db, campaign_id, target_id)
    invites.drop_unused(services.db, campaign_id, target_id)
    if prefs.get_prefs(services.db, target_id).default_campaign_id == campaign_id:
        prefs.set_default_campaign(services.db, target_id, None)
    shop = shop_of(services.db, campaign_id)
    await request.reply(request.t("revoke.done", user_id=target_id, shop=shop))
    await send_text(request.context.bot, target_id, request.t("revoke.notice", shop=shop))
    return Outcome(Result.OK, arguments=str(target_id))


async def members_command(request: Request, access: Allowed) -> Outcome:
    """``/members``: who has which role; sent in private when asked in a group."""
    assert access.campaign_id is not None
    db = request.services.db
    lines = [request.t("members.title", shop=shop_of(db, access.campaign_id))]
    rows = members.members_of(db, access.campaign_id)
    names = people.names_of(db, [row.user_id for row in rows])
    for row in rows:
        you = request.t("members.you") if row.user_id == request.user_id else ""
        role, person = request.t(f"role.{row.role}"), names.get(row.user_id)
        if person is None:
            lines.append(request.t("members.line", role=role, user_id=row.user_id, you=you))
            continue
        who = person.name
        if person.username:
            who = request.t("members.person_username", name=who, username=person.username)
        lines.append(
            request.t("members.named_line", role=role, user_id=row.user_id, you=you, person=who)
        )
    return await answer_privately(request, "\n".join(lines))


def log_facts(request: Request) -> AccessFacts | InputError:
    if not request.args:
        return AccessFacts()
    arg = request.args[0]
    if not (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= 100) or len(request.args) > 1:
        return InputError("log.usage")
    return AccessFacts()


async def log_command(request: Request, access: Allowed) -> Outcome:
    """``/log [N]``: the shop's latest N audit entries, sent in private."""
    assert access.campaign_id is not None
    count = int(request.args[0]) if request.args else 10
    services = request.services
    shop = shop_of(services.db, access.campaign_id)
    rows = audit.recent(services.db, access.campaign_id, count)
    if not rows:
        return await answer_privately(request, request.t("log.empty", shop=shop))
    lines = [request.t("log.title", count=len(rows), shop=shop)]
    for row in rows:
        lines.append(
            request.t(
                "log.line",
                at=row.at.astimezone(services.tz).strftime("%d.%m %H:%M"),
                user=row.user_id if row.user_id is not None else "?",
                command=f"/{row.command} {row.arguments[:60]}".strip(),
                outcome=audit_outcome(services.db, row, request.lang, services.tz),
            )
        )
    return await answer_privately(request, "\n".join(lines))


async def answer_privately(request: Request, text: str) -> Outcome:
    """Long output goes to the private chat; the group only hears where it went."""
    if request.chat_kind == ChatKind.PRIVATE:
        await request.reply(text)
        return Outcome(Result.OK)
    if await request.send_private(text):
        await request.reply(request.t("members.sent_private"))
        return Outcome(Result.OK)
    await request.reply(request.t("members.start_private", link=request.services.private_link()))
    return Outcome(Result.NOT_DELIVERED)
