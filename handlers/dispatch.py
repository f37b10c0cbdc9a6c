"""The wrapper every command runs in: access first, then the handler, then the record.

``run_command`` decides access from the command's rule (``handlers.access.decide``) *before* the
handler runs, answers a denial or asks "which shop?" itself, and hands the handler the decision
(campaign and role). Whatever happens, one log line and one audit entry record the outcome, and
an exception in a handler reaches the person as a short apology, never as silence.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from handlers import questions
from handlers.access import (
    AccessRequest,
    Actor,
    Allowed,
    ChatKind,
    ChooseCampaign,
    CommandRule,
    Denied,
    DenyReason,
    TargetCheck,
    decide,
)
from handlers.context import Outcome, Request, Result
from handlers.parsing import InputError
from handlers.shopnames import shop_names
from handlers.spec import AccessFacts, CommandSpec
from storage import audit, bindings, members, prefs
from storage.members import Role
from storage.pending import Choice

log = logging.getLogger("bot.commands")
NO_FACTS = AccessFacts()


async def run_command(spec: CommandSpec, request: Request) -> None:
    """Run one command for one request, from the access decision to the audit entry."""
    started = time.monotonic()
    outcome = Outcome(Result.ERROR)
    campaign_id: int | None = None
    try:
        outcome, campaign_id = await _decide_and_run(spec, request)
    except Exception:
        log.exception("/%s failed in chat %s", request.command, request.chat_id)
        await request.reply(request.t("error.internal"))
    finally:
        campaign_id = outcome.campaign_id or campaign_id
        log.info(
            "/%s user=%s chat=%s campaign=%s -> %s (%.0f ms)",
            request.command,
            request.user_id,
            request.chat_id,
            campaign_id,
            outcome,
            (time.monotonic() - started) * 1000,
        )
        audit.record(
            request.services.db,
            now=request.services.clock(),
            user_id=request.user_id,
            chat_id=request.chat_id,
            campaign_id=campaign_id,
            command=request.command,
            arguments=outcome.arguments
            if outcome.arguments is not None
            else " ".join(request.args),
            outcome=str(outcome),
            market_error=outcome.market_error,
        )


async def _decide_and_run(spec: CommandSpec, request: Request) -> tuple[Outcome, int | None]:
    facts = spec.facts(request) if spec.facts else NO_FACTS
    if isinstance(facts, InputError):
        # Arguments that make no sense are explained only to people who may run the command
        # (on some shop: which one does not matter before the arguments do).
        first = decide(_access_request(request, NO_FACTS), spec.rule.without_target())
        if isinstance(first, Denied):
            await deny(request, first)
            return Outcome(Result.DENIED, first.reason.value), first.campaign_id
        await request.reply(request.t(facts.key, **facts.params))
        campaign_id = first.campaign_id if isinstance(first, Allowed) else None
        return Outcome(Result.BAD_INPUT), campaign_id
    decision = await authorize(request, spec.rule, facts)
    if isinstance(decision, Outcome):
        return decision, decision.campaign_id
    return await spec.handler(request, decision), decision.campaign_id


async def authorize(
    request: Request, rule: CommandRule, facts: AccessFacts = NO_FACTS
) -> Allowed | Outcome:
    """Ask ``access.decide`` and answer the person unless the answer is a plain yes.

    Returns Allowed (with the campaign and role), or the Outcome of a denial or of a "which
    shop?" question that has been sent. For a rule that takes a role away, the target's role is
    looked up on the campaign the command resolves to, then the full rule is decided.
    """
    access = _access_request(request, facts)
    if rule.target is TargetCheck.REVOKE:
        first = decide(access, rule.without_target())
        if not isinstance(first, Allowed) or first.campaign_id is None:
            return await _answer(request, first)
        db = request.services.db
        target = members.get_member(db, first.campaign_id, facts.target_user or 0)
        access = _access_request(
            request,
            AccessFacts(requested_campaign=first.campaign_id),
            target_role=target.role if target else None,
            owner_count=members.count_owners(db, first.campaign_id),
        )
    return await _answer(request, decide(access, rule))


def _access_request(
    request: Request,
    facts: AccessFacts,
    *,
    target_role: Role | None = None,
    owner_count: int = 0,
) -> AccessRequest:
    db = request.services.db
    memberships: dict[int, Role] = {}
    default_campaign = None
    if request.user_id is not None:
        memberships = {m.campaign_id: m.role for m in members.memberships_of(db, request.user_id)}
        default_campaign = prefs.get_prefs(db, request.user_id).default_campaign_id
    binding = (
        bindings.binding_of(db, request.chat_id) if request.chat_kind == ChatKind.GROUP else None
    )
    return AccessRequest(
        actor=Actor(user_id=request.user_id, is_bot=request.is_bot, anonymous=request.anonymous),
        chat_kind=request.chat_kind,
        memberships=memberships,
        bound_campaign=binding.campaign_id if binding else None,
        requested_campaign=request.forced_campaign or facts.requested_campaign,
        default_campaign=default_campaign,
        target_role=target_role or facts.target_role,
        owner_count=owner_count,
    )


async def _answer(
    request: Request, decision: Allowed | Denied | ChooseCampaign
) -> Allowed | Outcome:
    if isinstance(decision, Allowed):
        return decision
    if isinstance(decision, ChooseCampaign):
        names = shop_names(request.services.db, decision.campaign_ids)
        choices = [
            (names[cid], Choice(request.text, campaign_id=cid)) for cid in decision.campaign_ids
        ]
        await questions.ask(request, request.t("choose.campaign"), choices, per_row=1)
        return Outcome(Result.ASKED, "campaign")
    await deny(request, decision)
    return Outcome(Result.DENIED, decision.reason.value, campaign_id=decision.campaign_id)


async def deny(request: Request, denial: Denied) -> None:
    """Explain a denial: fully in private, briefly (once a minute per person) in groups."""
    services = request.services
    user_id = request.user_id if request.user_id is not None else 0
    if request.chat_kind == ChatKind.GROUP:
        # In groups every refusal is said at most once a minute per person, so nobody can make
        # the bot flood the shop's chat.
        key = (request.chat_id, user_id)
        now = services.clock()
        last = services.group_denials.get(key)
        if last is not None and (now - last).total_seconds() < 60:
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
