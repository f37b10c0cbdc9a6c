"""/service: a shop's default delivery service, and its delivery services with their ids.

A shop's couriers nearly always send parcels with the same service. ``/service 51`` (or a word
of its name, ``/service cdek``) makes it the shop's default, and ``/track <order> <track
number>`` then uses it; ``/service off`` (or ``0``) clears it. ``/service`` alone lists Market's
delivery services with their ids, the ones the shop used most first, the default marked. In
private it acts on the active shop, in a bound group on that shop (the wrapper decides).
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers import orders, questions
from handlers.access import Allowed
from handlers.context import Outcome, Request, Result
from handlers.lines import MAX_SERVICE_BUTTONS
from handlers.parsing import InputError, match_services, parse_service, sanitize
from handlers.shopnames import shop_of
from handlers.spec import AccessFacts
from storage import shop_settings
from storage.pending import Choice

OFF_WORDS = frozenset({"0", "off", "none", "no", "нет", "выкл", "сброс"})
# No answer to one command is longer than this (characters).
ANSWER_LIMIT = 600
NAME_LIMIT = 32


def service_facts(request: Request) -> AccessFacts | InputError:
    """One argument at most: an id, a name word, or an off word."""
    if len(request.args) > 1:
        return InputError("svc.usage")
    if request.args and request.args[0].casefold() not in OFF_WORDS:
        parsed = parse_service(request.args[0])
        if isinstance(parsed, InputError):
            return parsed
    return AccessFacts()


async def service_command(request: Request, access: Allowed) -> Outcome:
    """``/service [id | name | off]``: list the shop's services, or set or clear its default."""
    campaign_id = access.campaign_id
    assert campaign_id is not None and request.user_id is not None  # the rule needs a shop
    if not request.args:
        return await _list(request, campaign_id)
    word = request.args[0]
    if word.casefold() in OFF_WORDS:
        return await _set(request, campaign_id, None, "")
    wanted = parse_service(word)
    assert not isinstance(wanted, InputError)  # service_facts refused it
    known = await orders.delivery_services(request, campaign_id)
    names = dict(known or ())
    if isinstance(wanted, int):
        if known is not None and wanted not in names:
            await request.reply(request.t("svc.not_listed", id=wanted))
            return Outcome(Result.BAD_INPUT)
        return await _set(request, campaign_id, wanted, names.get(wanted, f"#{wanted}"))
    if known is None:
        await request.reply(request.t("service.unavailable"))
        return Outcome(Result.FAILED, "services_unavailable")
    matches = match_services(wanted, known)
    if len(matches) == 1:
        return await _set(request, campaign_id, matches[0].id, matches[0].name)
    if not matches:
        await request.reply(request.t("svc.unknown", query=sanitize(wanted)))
        return Outcome(Result.BAD_INPUT)
    choices = [
        (
            request.t("ask.service_button", id=m.id, name=sanitize(m.name, NAME_LIMIT)),
            Choice(f"/service {m.id}", campaign_id=campaign_id),
        )
        for m in matches[:MAX_SERVICE_BUTTONS]
    ]
    await questions.ask(request, request.t("svc.ask", query=sanitize(wanted)), choices, per_row=1)
    return Outcome(Result.ASKED, "service")


async def _set(request: Request, campaign_id: int, service_id: int | None, name: str) -> Outcome:
    assert request.user_id is not None
    services = request.services
    shop_settings.set_default_service(
        services.db, campaign_id, service_id, request.user_id, services.clock()
    )
    shop = shop_of(services.db, campaign_id)
    if service_id is None:
        await request.reply(request.t("svc.cleared", shop=shop))
        return Outcome(Result.OK, arguments="off")
    service = f"{sanitize(name, NAME_LIMIT)} ({service_id})"
    await request.reply(request.t("svc.set", shop=shop, service=service))
    return Outcome(Result.OK, arguments=str(service_id))


async def _list(request: Request, campaign_id: int) -> Outcome:
    """The shop's services, most used first, then in Market's order; as many as fit."""
    db = request.services.db
    known = await orders.delivery_services(request, campaign_id)
    default = shop_settings.get_settings(db, campaign_id).default_service_id
    uses = {row.service_id: row.uses for row in shop_settings.most_used(db, campaign_id)}
    names = dict(known or ())
    ids = list(dict.fromkeys([*uses, *([default] if default else []), *names]))
    lines = [_line(request, sid, names.get(sid), uses.get(sid, 0), sid == default) for sid in ids]
    head = [request.t("svc.title", shop=shop_of(db, campaign_id))]
    if known is None:
        head.append(request.t("svc.list_unavailable"))
    foot = request.t("svc.footer_default" if default else "svc.footer_none")
    await request.reply(_fit(request, head, lines, foot))
    return Outcome(Result.OK)


def _line(request: Request, service_id: int, name: str | None, uses: int, default: bool) -> str:
    text = f"{service_id} — {sanitize(name, NAME_LIMIT) if name else '?'}"
    if uses:
        text += f" · {uses}×"
    return ("⭐ " + text + request.t("svc.default_mark")) if default else text


def _fit(request: Request, head: Sequence[str], lines: Sequence[str], foot: str) -> str:
    """Head, as many lines as fit in ``ANSWER_LIMIT`` with a note of the rest, and foot."""
    for shown in range(len(lines), -1, -1):
        rest = len(lines) - shown
        more = [request.t("svc.more", count=rest)] if rest else []
        text = "\n".join([*head, *lines[:shown], *more, "", foot])
        if len(text) <= ANSWER_LIMIT:
            return text
    return "\n".join([*head, "", foot])
