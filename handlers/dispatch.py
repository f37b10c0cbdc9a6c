"""The wrapper every command runs in: access first, then the handler, then the record.

``run_command`` decides access from the command's rule (``handlers.access.decide``) *before* the
handler runs, answers a denial or asks "which shop?" itself, and hands the handler the decision
(campaign and role). Whatever happens, one log line and one audit entry record the outcome, and
an exception in a handler reaches the person as a short apology, never as silence.

Two things come before all that. Commands of people with no role in any shop are counted
(``Services.strangers``), and those over the limit are dropped without an answer, a log line
above DEBUG or an audit entry, so that strangers cannot delay the members' answers. A button
that completes a command acts on the shop it was asked for: if the group has been bound to
another shop since, the press is answered "expired" and nothing runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from handlers import questions
from handlers.access import (
    AccessRequest,
    Actor,
    Allowed,
    CampaignSource,
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
from storage import audit, bindings, invites, members, people, prefs
from storage.members import ROLE_RANK, Role
from storage.pending import Choice

log = logging.getLogger("bot.commands")
NO_FACTS = AccessFacts()
# The audit keeps what was asked, not whole messages: a stranger's 4 KB stays out of it.
AUDIT_ARGUMENTS_LIMIT = 200


async def run_command(spec: CommandSpec, request: Request, *, make_default: bool = False) -> None:
    """Run one command for one request, from the access decision to the audit entry.

    ``make_default``: a "which shop?" button asked to make the chosen shop the person's
    default; it is, once the command is allowed there.
    """
    if throttled(request):
        log.debug("/%s from stranger %s dropped", request.command, request.user_id)
        return
    started = time.monotonic()
    outcome = Outcome(Result.ERROR)
    campaign_id: int | None = None
    try:
        outcome, campaign_id = await _decide_and_run(spec, request, make_default)
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
        request.services.on_command(request.command, str(outcome))
        audit.record(
            request.services.db,
            now=request.services.clock(),
            user_id=request.user_id,
            chat_id=request.chat_id,
            campaign_id=campaign_id,
            command=request.command,
            arguments=(
                outcome.arguments if outcome.arguments is not None else " ".join(request.args)
            )[:AUDIT_ARGUMENTS_LIMIT],
            outcome=str(outcome),
            market_error=outcome.market_error,
            message_id=request.message_id,
            batch_id=outcome.batch_id,
        )
        if request.user_id is not None:
            # After the handler, so that someone who just accepted an invite is a member.
            people.note(
                request.services.db,
                request.services.names_seen,
                request.user_id,
                request.user_name,
                request.username,
                request.services.clock(),
            )


def throttled(request: Request) -> bool:
    """True when the sender has no role in any shop and is over the strangers' limits; a
    stranger's message counts toward them (also the fallback answer's, ``handlers.fallback``)."""
    services = request.services
    if request.user_id is not None and members.has_any_role(services.db, request.user_id):
        return False
    # Anonymous senders have no user id: their chat stands for them.
    sender = request.user_id if request.user_id is not None else request.chat_id
    return not services.strangers.allow(sender, services.clock(), vouched=_vouched(request))


def _vouched(request: Request) -> bool:
    """A ``/start`` with a valid invite code: an invited person is never lost in a crowd."""
    if request.command != "start" or len(request.args) != 1:
        return False
    row = invites.find_invite(request.services.db, request.args[0])
    return row is not None and row.used_by is None and row.expires_at > request.services.clock()


def _button_expired(spec: CommandSpec, request: Request) -> bool:
    """A button completing a command in a group bound to another shop (or to none) since it
    was asked; ``bind`` is asked precisely to change the binding, so it is not."""
    if request.question_message_id is None or request.chat_kind != ChatKind.GROUP:
        return False
    if spec.rule.campaign in (CampaignSource.NONE, CampaignSource.TO_BIND):
        return False
    binding = bindings.binding_of(request.services.db, request.chat_id)
    return binding is None or binding.campaign_id != request.forced_campaign


async def _decide_and_run(
    spec: CommandSpec, request: Request, make_default: bool = False
) -> tuple[Outcome, int | None]:
    if _button_expired(spec, request):
        await request.reply(request.t("button.expired"))
        return Outcome(Result.REFUSED, "button_expired"), request.forced_campaign
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
    if make_default:
        await _make_default(request, decision)
    return await spec.handler(request, decision), decision.campaign_id


async def authorize(
    request: Request, rule: CommandRule, facts: AccessFacts = NO_FACTS
) -> Allowed | Outcome:
    """Ask ``access.decide`` and answer the person unless the answer is a plain yes.

    Returns Allowed (with the campaign and role), or the Outcome of a denial or of a "which
    shop?" question that has been sent. For a rule that takes a role away, or gives one to a
    named person, the target's current role is looked up on the campaign the command resolves
    to, then the full rule is decided.
    """
    access = _access_request(request, facts)
    names_target = rule.target is TargetCheck.REVOKE or (
        rule.target is TargetCheck.GIVE and facts.target_user is not None
    )
    if not names_target:
        return await _answer(request, decide(access, rule), rule)
    first = decide(access, rule if rule.target is TargetCheck.GIVE else rule.without_target())
    if not isinstance(first, Allowed) or first.campaign_id is None:
        return await _answer(request, first, rule)
    db = request.services.db
    target = members.get_member(db, first.campaign_id, facts.target_user or 0)
    current = target.role if target else None
    giving = rule.target is TargetCheck.GIVE
    access = replace(
        access,
        requested_campaign=first.campaign_id,
        owner_count=members.count_owners(db, first.campaign_id),
        target_role=access.target_role if giving else current,
        target_current=current if giving else None,
    )
    return await _answer(request, decide(access, rule), rule)


def _access_request(request: Request, facts: AccessFacts) -> AccessRequest:
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
        target_role=facts.target_role,
    )


async def _answer(
    request: Request, decision: Allowed | Denied | ChooseCampaign, rule: CommandRule
) -> Allowed | Outcome:
    if isinstance(decision, Allowed):
        return decision
    if isinstance(decision, ChooseCampaign):
        names = shop_names(request.services.db, decision.campaign_ids)
        # The default shop is what an ACTIVE command uses when none is named: offer it beside.
        offer_default = rule.campaign is CampaignSource.ACTIVE
        choices = []
        for cid in decision.campaign_ids:
            choices.append((names[cid], Choice(request.text, campaign_id=cid)))
            if offer_default:
                label = request.t("choose.default_button", shop=names[cid])
                choices.append((label, Choice(request.text, campaign_id=cid, make_default=True)))
        per_row = 2 if offer_default else 1
        if not await questions.ask(request, request.t("choose.campaign"), choices, per_row=per_row):
            return Outcome(Result.REFUSED, "not_asked")
        return Outcome(Result.ASKED, "campaign")
    await deny(request, decision)
    return Outcome(Result.DENIED, decision.reason.value, campaign_id=decision.campaign_id)


async def _make_default(request: Request, decision: Allowed) -> None:
    """The shop chosen with "⭐ … (by default)" becomes the person's default shop, now that
    the command is allowed on it."""
    campaign_id = decision.campaign_id
    if request.user_id is None or campaign_id is None or campaign_id != request.forced_campaign:
        return
    prefs.set_default_campaign(request.services.db, request.user_id, campaign_id)
    shop = shop_names(request.services.db, [campaign_id])[campaign_id]
    await request.reply(request.t("choose.default_set", shop=shop))


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
            await request.reply(_group_refusal(request, denial, user_id))
            return
    params: dict[str, Any] = {
        "user_id": user_id,
        "command": f"/{request.command}",
        "link": services.private_link(),
    }
    await request.reply(request.t(f"deny.{denial.reason.value}", **params))


def _group_refusal(request: Request, denial: Denied, user_id: int) -> str:
    """One short line for a group: no access to the shop, or the role that does not allow it
    (on the shop concerned; when none was, the highest: too low on every shop)."""
    name = request.user_name or "?"
    roles = {m.campaign_id: m.role for m in members.memberships_of(request.services.db, user_id)}
    highest = max(roles.values(), key=ROLE_RANK.__getitem__, default=None)
    role = roles.get(denial.campaign_id or 0, highest)
    if denial.reason is not DenyReason.ROLE_TOO_LOW or role is None:
        return request.t("deny.group_short", name=name, user_id=user_id)
    words = request.t(f"role.{role}")
    return request.t("deny.group_role", name=name, role=words, command=f"/{request.command}")
