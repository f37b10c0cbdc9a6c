"""Market-write commands (/track, /move, …): a message becomes stored operations for the runner.

One handler serves every write command: the message is split into lines (up to 50, and a
message may mix commands), each line is parsed by its command's ``LineSpec``, and everything
valid becomes a ``NewOperation`` of the line's kind, stored and executed by the runner, which
also sends the one answer per message. Bad input is answered here and never reaches Market; a
line the bot can complete with a choice (a missing or unclear reason, a missing date, an unknown
delivery service) is asked with buttons or a calendar. The shop's default and most used delivery
services (``storage.shop_settings``) go to the parsers, and accepted lines count toward them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace

from bot.market.errors import MarketError
from bot.market.models import DeliveryService
from handlers import datepicker, edits, questions, track_prompts
from handlers.access import Allowed
from handlers.context import Outcome, Request, Result
from handlers.lines import NEEDS_SERVICES, BatchLine, LineContext, Question, split_commands
from handlers.parsing import InputError, sanitize
from handlers.spec import LineSpec
from storage import campaigns, shop_settings
from storage.operations import NewOperation
from storage.pending import Choice

INVALID = "invalid"


async def work(request: Request, access: Allowed, lines: Mapping[str, LineSpec]) -> Outcome:
    """Handle a message of write commands on the campaign access decided."""
    campaign_id = access.campaign_id
    assert campaign_id is not None  # the rule needs a campaign
    split = split_commands(request.text, request.services.bot_username or None, lines.keys())
    if isinstance(split, InputError):
        await request.reply(_input_text(request, split, request.command))
        return Outcome(Result.BAD_INPUT)
    split = edits.unsent(request, split)
    if not split:
        return Outcome(Result.DUPLICATE, "unchanged")  # an edit that changed no command line
    ctx = await _line_context(request, campaign_id)
    single = len(split) == 1
    operations: list[NewOperation] = []
    for line in split:
        spec = lines[line.command]
        order_id = spec.reply_prompt(line.args) if spec.reply_prompt and single else None
        if order_id is not None:
            return await track_prompts.ask(order_id, request, access)
        parsed = spec.parse(line.args, ctx)
        if parsed == NEEDS_SERVICES and ctx.services is None:
            # Fetched only when a line names a service by name and the list is not cached.
            ctx = replace(ctx, services=await delivery_services(request, campaign_id))
            parsed = spec.parse(line.args, ctx)
        if isinstance(parsed, Question):
            if single:
                await _ask(request, line.command, parsed, campaign_id)
                return Outcome(Result.ASKED, parsed.text.key)
            parsed = parsed.unasked
        if isinstance(parsed, InputError):
            if single:
                await request.reply(_input_text(request, parsed, line.command))
                return Outcome(Result.BAD_INPUT)
            text = request.t(parsed.key, **parsed.params)
            operations.append(_invalid(campaign_id, line, text))
            continue
        payload = parsed.model_dump(mode="json")
        digest = edits.line_hash(line)
        operations.append(NewOperation(line.line_no, campaign_id, spec.kind.name, payload, digest))
    batch = request.batch(operations, revision=edits.revision(request))
    if await request.services.runner.submit(batch):
        _count_services(request, campaign_id, operations)
        return Outcome(Result.ACCEPTED, batch_id=batch.id)
    return Outcome(Result.DUPLICATE)


def _input_text(request: Request, error: InputError, command: str) -> str:
    return request.t(error.key, **error.params) + "\n\n" + request.t(f"usage.{command}")


def _invalid(campaign_id: int, line: BatchLine, text: str) -> NewOperation:
    """A line that is only explained in the summary; it never reaches Market."""
    payload = {"text": text, "line": sanitize(" ".join(line.args), 60)}
    return NewOperation(line.line_no, campaign_id, INVALID, payload, edits.line_hash(line))


async def _ask(request: Request, command: str, question: Question, campaign_id: int) -> None:
    """Ask with one button per option, or with a calendar; a press runs the command
    completed with the option or the day."""
    # The campaign chosen for this command stays with it when the button is pressed.
    text = request.t(question.text.key, **question.text.params)
    if question.pick:
        words = (datepicker.SLOT if word is None else word for word in question.pick)
        await datepicker.ask(request, text, f"/{command} " + " ".join(words), campaign_id)
        return
    choices = [
        (
            request.t(option.label.key, **option.label.params),
            Choice(f"/{command} " + " ".join(option.args), campaign_id=campaign_id),
        )
        for option in question.options
    ]
    await questions.ask(request, text, choices)


async def _line_context(request: Request, campaign_id: int) -> LineContext:
    """Today, Market's delivery services if cached, and the shop's default and most used
    services (the default first). With a default the list is fetched, so that the answer
    names the service the line left out."""
    db = request.services.db
    default = shop_settings.get_settings(db, campaign_id).default_service_id
    used = [row.service_id for row in shop_settings.most_used(db, campaign_id, 20)]
    preferred = ([default] if default is not None else []) + used
    known = _cached_services(request)
    if known is None and default is not None:
        known = await delivery_services(request, campaign_id)
    return LineContext(request.services.today(), known, default, tuple(dict.fromkeys(preferred)))


def _count_services(request: Request, campaign_id: int, operations: list[NewOperation]) -> None:
    """Count the delivery services of the accepted lines toward the shop's most used ones."""
    used = Counter(
        op.payload["delivery_service_id"]
        for op in operations
        if isinstance(op.payload.get("delivery_service_id"), int)
    )
    if used:
        shop_settings.count_uses(request.services.db, campaign_id, used, request.services.clock())


def _cached_services(request: Request) -> list[tuple[int, str]] | None:
    cached = request.services.delivery_services
    if (
        cached is None
        or request.services.clock() - cached[0] >= request.services.delivery_services_ttl
    ):
        return None
    return _pairs(cached[1])


async def delivery_services(request: Request, campaign_id: int) -> list[tuple[int, str]] | None:
    """Market's delivery services (cached a day, fetched once at a time), None if unavailable."""
    services = request.services
    async with services.delivery_services_lock:
        now = services.clock()
        cached = services.delivery_services
        if cached is not None and now - cached[0] < services.delivery_services_ttl:
            return _pairs(cached[1])
        api_key = campaigns.api_key(services.db, services.keybox, campaign_id)
        if api_key is None:
            return None
        try:
            fetched = await services.market.get_delivery_services(api_key, campaign_id)
        except MarketError:
            # A stale list is better than none when Market is briefly unavailable.
            return _pairs(cached[1]) if cached else None
        services.delivery_services = (now, fetched)
        return _pairs(fetched)


def _pairs(found: list[DeliveryService]) -> list[tuple[int, str]]:
    return [(s.id, s.name) for s in found]
