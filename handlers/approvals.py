"""Owners approve or decline someone else's connection of their shop: the button family ``ok``.

When a person who is not an owner of a connected shop runs ``/connect`` with a valid key of it,
nothing changes yet: the request is stored (``storage.approvals``, the key encrypted) and every
owner gets a private message naming who asks, with two buttons. Callback data is
``ok:<request id>:a`` (approve) or ``ok:<request id>:d`` (decline), built by ``data_for`` and read
by ``parse_data``; it only names the request, so forged or unknown data finds nothing and is
answered "expired". The press is applied by ``storage.approvals.decide``, which checks at that
moment that the presser is an owner of the shop and that the request still waits. Then the
presser's message shows the answer, and the requester and the other owners are told.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)
from telegram.ext import ContextTypes

from handlers.context import Request, Services, person_language, services_of
from handlers.messaging import edit_text, send_text
from handlers.parsing import sanitize
from handlers.shopnames import shop_of
from handlers.texts import LANGS, Lang, language_for, t
from storage import approvals, audit, members, prefs
from storage.approvals import ApprovalRow, Decision

PREFIX = "ok"
PATTERN = rf"^{PREFIX}:"
_DATA = re.compile(rf"{PREFIX}:([0-9]{{1,19}}):([ad])")
_INT64_MAX = 2**63 - 1
NAME_LIMIT = 40


def data_for(request_id: int, approve: bool) -> str:
    return f"{PREFIX}:{request_id}:{'a' if approve else 'd'}"


def parse_data(data: str) -> tuple[int, bool] | None:
    """(request id, approve?) from callback data, or None when it is not ours or forged."""
    match = _DATA.fullmatch(data)
    if match is None or not 0 < int(match[1]) <= _INT64_MAX:
        return None
    return int(match[1]), match[2] == "a"


def person_name(full_name: str) -> str:
    """A name as the bot shows it: invisible characters dropped, cut short, "?" when empty."""
    return sanitize(full_name, NAME_LIMIT) or "?"


def language_of(services: Services, user_id: int, fallback: Lang) -> Lang:
    """The language a person chose with /language, else ``fallback``."""
    preferred = prefs.get_prefs(services.db, user_id).language
    return language_for(None, preferred) if preferred in LANGS else fallback


async def tell(
    bot: Bot,
    services: Services,
    people: Iterable[int],
    fallback: Lang,
    key: str,
    **params: Any,
) -> None:
    """Send the text ``key`` to each person in private, in their language."""
    for user_id in people:
        lang = language_of(services, user_id, fallback)
        await send_text(bot, user_id, t(lang, key, **params))


def owners_of(services: Services, campaign_id: int) -> list[int]:
    return [m.user_id for m in members.members_of(services.db, campaign_id) if m.role == "owner"]


async def ask_owners(
    request: Request, campaign_id: int, api_key: str, owners: Sequence[int]
) -> bool:
    """Store the request to connect ``campaign_id`` with ``api_key`` and ask every owner.

    False (and nothing kept) when no owner could be reached.
    """
    assert request.user_id is not None
    services = request.services
    name = person_name(request.user_name)
    row = approvals.create_request(
        services.db,
        campaign_id=campaign_id,
        requester_id=request.user_id,
        requester_name=name,
        language=request.lang,
        api_key_cipher=services.keybox.encrypt(api_key),
        now=services.clock(),
    )
    shop = shop_of(services.db, campaign_id)
    expires = row.expires_at.astimezone(services.tz).strftime("%d.%m %H:%M")
    reached = 0
    for owner in owners:
        lang = language_of(services, owner, request.lang)
        buttons = [
            InlineKeyboardButton(t(lang, "approval.approve"), callback_data=data_for(row.id, True)),
            InlineKeyboardButton(
                t(lang, "approval.decline"), callback_data=data_for(row.id, False)
            ),
        ]
        text = t(
            lang, "approval.ask", name=name, user_id=request.user_id, shop=shop, expires=expires
        )
        sent = await send_text(
            request.context.bot, owner, text, markup=InlineKeyboardMarkup([buttons])
        )
        reached += sent is not None
    if not reached:
        approvals.cancel_request(services.db, row.id)
    return reached > 0


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Approve or Decline under a request: apply it if the presser may, or say why not."""
    query = update.callback_query
    if query is None:
        return
    services = services_of(context)
    user = query.from_user
    lang = person_language(services, user)
    parsed = parse_data(query.data or "")
    if parsed is None or user is None:
        await query.answer(t(lang, "button.expired"), show_alert=True)
        return
    request_id, approve = parsed
    decision = approvals.decide(
        services.db, request_id, approve=approve, owner_id=user.id, now=services.clock()
    )
    _record(services, query, user, decision, approve)
    row = decision.row
    if decision.status != "done" or row is None:
        await query.answer(_refusal(services, decision, lang), show_alert=True)
        return
    await query.answer(t(lang, f"approval.{row.decision}_short"))
    await _tell_everyone(context.bot, services, query, row, user, lang)


def _refusal(services: Services, decision: Decision, lang: Lang) -> str:
    row = decision.row
    if decision.status == "already" and row is not None:
        return t(lang, f"approval.already_{row.decision}", user_id=row.decided_by)
    if decision.status == "not_owner" and row is not None:
        return t(lang, "approval.not_owner", shop=shop_of(services.db, row.campaign_id))
    return t(lang, "approval.expired")


async def _tell_everyone(
    bot: Bot,
    services: Services,
    query: CallbackQuery,
    row: ApprovalRow,
    owner: User,
    lang: Lang,
) -> None:
    """The presser's message shows the answer; the requester and the other owners are told."""
    verdict = row.decision or "declined"
    shop = shop_of(services.db, row.campaign_id)
    about = {"name": row.requester_name, "user_id": row.requester_id, "shop": shop}
    outcome = t(lang, f"approval.{verdict}_you", **about)
    message = query.message
    shown = isinstance(message, Message) and await edit_text(
        bot, message.chat.id, message.message_id, f"{message.text or ''}\n\n{outcome}".strip()
    )
    if not shown:
        await send_text(bot, owner.id, outcome)
    requester_lang: Lang = "ru" if row.language == "ru" else "en"
    await tell(
        bot,
        services,
        [row.requester_id],
        requester_lang,
        f"approval.{verdict}_requester",
        shop=shop,
    )
    others = [
        uid
        for uid in owners_of(services, row.campaign_id)
        if uid not in (owner.id, row.requester_id)
    ]
    await tell(
        bot,
        services,
        others,
        lang,
        f"approval.{verdict}_owners",
        owner=person_name(owner.full_name),
        owner_id=owner.id,
        **about,
    )


def _record(
    services: Services, query: CallbackQuery, user: User, decision: Decision, approve: bool
) -> None:
    """One audit entry per press, so /log shows who let whom in (or tried to)."""
    row = decision.row
    if row is None:
        return
    chat_id = query.message.chat.id if query.message else user.id
    audit.record(
        services.db,
        now=services.clock(),
        user_id=user.id,
        chat_id=chat_id,
        campaign_id=row.campaign_id,
        command="connect",
        arguments=f"{'approve' if approve else 'decline'} {row.requester_id}",
        outcome="ok" if decision.status == "done" else f"refused:{decision.status}",
    )
