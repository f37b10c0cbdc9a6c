"""Shops: /connect, /bind, /unbind, /use and /disconnect.

Each handler runs after the command wrapper has decided access, and gets that decision; the
``*_facts`` functions tell the wrapper what a command's arguments say about access.
"""

from __future__ import annotations

import logging

from telegram.error import TelegramError

from bot.market.errors import (
    MarketAPIError,
    MarketError,
    MarketForbidden,
    MarketNotFound,
    MarketUnauthorized,
)
from bot.market.writes import INT64_MAX
from handlers import questions
from handlers.access import Allowed
from handlers.context import Outcome, Request, Result
from handlers.parsing import InputError
from handlers.shopnames import shop_name, shop_of
from handlers.spec import AccessFacts
from storage import bindings, campaigns, members, prefs
from storage.pending import Choice

log = logging.getLogger(__name__)


def campaign_arg(text: str) -> int | None:
    """A campaign id typed as a positive int64 in ASCII digits, else None."""
    if text.isascii() and text.isdigit() and 0 < int(text) <= INT64_MAX:
        return int(text)
    return None


def _one_campaign(
    request: Request, usage: str, *, allow_none: bool = False
) -> AccessFacts | InputError:
    if not request.args and allow_none:
        return AccessFacts()
    requested = campaign_arg(request.args[0]) if request.args else None
    if requested is None or len(request.args) > 1:
        return InputError(usage)
    return AccessFacts(requested_campaign=requested)


def bind_facts(request: Request) -> AccessFacts | InputError:
    return _one_campaign(request, "bind.usage", allow_none=True)


def use_facts(request: Request) -> AccessFacts | InputError:
    return _one_campaign(request, "use.usage")


def disconnect_facts(request: Request) -> AccessFacts | InputError:
    requested = campaign_arg(request.args[0]) if request.args else None
    if requested is None or len(request.args) > 2:
        return InputError("disconnect.usage")
    return AccessFacts(requested_campaign=requested)


async def _delete_message(request: Request) -> bool:
    try:
        return bool(await request.context.bot.delete_message(request.chat_id, request.message_id))
    except TelegramError as exc:
        log.info("could not delete a message with a key in chat %s: %s", request.chat_id, exc)
        return False


async def connect(request: Request, access: Allowed) -> Outcome:
    """``/connect <campaignId> <apiKey>`` in private: check the key, store it, make an owner."""
    # Whatever happens, the key never reaches the audit log: only a campaign id is kept.
    hidden = " ".join(arg if campaign_arg(arg) else "[key hidden]" for arg in request.args)
    if len(request.args) != 2:
        # A key pasted without the campaign id (or with extra words) must not stay either.
        if any(campaign_arg(arg) is None for arg in request.args):
            await _delete_message(request)
        await request.reply(request.t("connect.usage"))
        return Outcome(Result.BAD_INPUT, arguments=hidden)
    campaign_id, api_key = campaign_arg(request.args[0]), request.args[1]
    deleted = await _delete_message(request)
    notice = request.t("connect.deleted" if deleted else "connect.not_deleted")
    if campaign_id is None:
        value = request.args[0][:30]
        await request.reply(
            "\n".join(
                (
                    request.t("connect.bad_campaign", value=value),
                    notice,
                    "",
                    request.t("connect.usage"),
                )
            )
        )
        return Outcome(Result.BAD_INPUT, arguments=hidden)
    assert request.user_id is not None  # access refuses anonymous senders
    services = request.services
    try:
        campaign = await services.market.get_campaign(api_key, campaign_id)
    except MarketError as exc:
        failure = _connect_failure(request, exc, campaign_id)
        await request.reply(f"{notice}\n\n{failure}\n{request.t('connect.failed')}")
        return Outcome(
            Result.FAILED, campaign_id=campaign_id, arguments=hidden, market_error=str(exc)
        )
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
    return Outcome(Result.OK, campaign_id=campaign_id, arguments=hidden)


def _connect_failure(request: Request, exc: MarketError, campaign_id: int) -> str:
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
    return request.t(key, campaign_id=campaign_id) + market_line


async def bind(request: Request, access: Allowed) -> Outcome:
    """``/bind [campaignId]`` in a group: the group now acts on that shop."""
    assert access.campaign_id is not None and request.user_id is not None
    services = request.services
    bindings.bind_chat(
        services.db, request.chat_id, access.campaign_id, request.user_id, services.clock()
    )
    await request.reply(request.t("bind.done", shop=shop_of(services.db, access.campaign_id)))
    return Outcome(Result.OK)


async def unbind(request: Request, access: Allowed) -> Outcome:
    assert access.campaign_id is not None
    bindings.unbind_chat(request.services.db, request.chat_id)
    shop = shop_of(request.services.db, access.campaign_id)
    await request.reply(request.t("unbind.done", shop=shop))
    return Outcome(Result.OK)


async def use(request: Request, access: Allowed) -> Outcome:
    """``/use <campaignId>`` in private: the default shop when none is named."""
    assert access.campaign_id is not None and request.user_id is not None
    prefs.set_default_campaign(request.services.db, request.user_id, access.campaign_id)
    shop = shop_of(request.services.db, access.campaign_id)
    await request.reply(request.t("use.done", shop=shop))
    return Outcome(Result.OK)


async def disconnect(request: Request, access: Allowed) -> Outcome:
    """``/disconnect <campaignId>``: asks first; the "yes" button runs it with ``yes``."""
    assert access.campaign_id is not None
    cid = access.campaign_id
    shop = shop_of(request.services.db, cid)
    answer = request.args[1].lower() if len(request.args) > 1 else ""
    if answer == "no":
        await request.reply(request.t("disconnect.cancelled", shop=shop))
        return Outcome(Result.CANCELLED)
    # Only the button says yes: typing "yes" does not skip the question.
    if answer != "yes" or request.question_message_id is None:
        choices = [
            (request.t("disconnect.yes"), Choice(f"/disconnect {cid} yes", campaign_id=cid)),
            (request.t("disconnect.no"), Choice(f"/disconnect {cid} no", campaign_id=cid)),
        ]
        await questions.ask(request, request.t("disconnect.confirm", shop=shop), choices)
        return Outcome(Result.ASKED, "confirmation")
    campaigns.forget_campaign(request.services.db, cid)
    await request.reply(request.t("disconnect.done", shop=shop))
    return Outcome(Result.OK)
