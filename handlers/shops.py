"""Shops: /bind, /unbind, /use and /disconnect (/connect is ``handlers.connect``).

Each handler runs after the command wrapper has decided access, and gets that decision; the
``*_facts`` functions tell the wrapper what a command's arguments say about access.
"""

from __future__ import annotations

from bot.market.writes import INT64_MAX
from handlers import questions
from handlers.access import Allowed
from handlers.context import Outcome, Request, Result
from handlers.parsing import InputError
from handlers.shopnames import shop_of
from handlers.spec import AccessFacts
from storage import bindings, campaigns, prefs
from storage.pending import Choice


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
