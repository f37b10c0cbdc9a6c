"""Market-write commands (/track, /move, …): a message becomes stored operations for the runner.

One handler serves every write command: the message is split into lines (up to 50, and a
message may mix commands), each line is parsed by its command's ``LineSpec``, and everything
valid becomes a ``NewOperation`` of the line's kind, stored and executed by the runner, which
also sends the one answer per message. Bad input is answered here and never reaches Market; a
line the bot can complete with a choice (a missing reason) is asked with buttons.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.market.errors import MarketError
from bot.market.models import DeliveryService
from handlers import questions
from handlers.access import Allowed
from handlers.context import Outcome, Request, Result
from handlers.lines import NEEDS_SERVICES, LineContext, Question, split_commands
from handlers.parsing import InputError, sanitize
from handlers.spec import LineSpec
from storage import campaigns
from storage.operations import NewBatch, NewOperation
from storage.pending import Choice

INVALID = "invalid"


async def work(request: Request, access: Allowed, lines: Mapping[str, LineSpec]) -> Outcome:
    """Handle a message of write commands on the campaign access decided."""
    campaign_id, user_id = access.campaign_id, request.user_id
    assert campaign_id is not None and user_id is not None  # the rule needs a campaign
    split = split_commands(request.text, request.services.bot_username or None, lines.keys())
    if isinstance(split, InputError):
        await request.reply(_input_text(request, split, request.command))
        return Outcome(Result.BAD_INPUT)
    ctx = LineContext(request.services.today(), _cached_services(request))
    single = len(split) == 1
    operations: list[NewOperation] = []
    for line in split:
        spec = lines[line.command]
        parsed = spec.parse(line.args, ctx)
        if parsed == NEEDS_SERVICES and ctx.services is None:
            # Fetched only when a line names a service by name and the list is not cached.
            ctx = LineContext(ctx.today, await _delivery_services(request, campaign_id))
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
            operations.append(_invalid(campaign_id, line.line_no, line.args, text))
            continue
        payload = parsed.model_dump(mode="json")
        operations.append(NewOperation(line.line_no, campaign_id, spec.kind.name, payload))
    accepted = await request.services.runner.submit(
        NewBatch(
            chat_id=request.chat_id,
            message_id=request.message_id,
            thread_id=request.thread_id,
            user_id=user_id,
            language=request.lang,
            command=request.command,
            operations=operations,
        )
    )
    return Outcome(Result.ACCEPTED if accepted else Result.DUPLICATE)


def _input_text(request: Request, error: InputError, command: str) -> str:
    return request.t(error.key, **error.params) + "\n\n" + request.t(f"usage.{command}")


def _invalid(campaign_id: int, line_no: int, args: tuple[str, ...], text: str) -> NewOperation:
    """A line that is only explained in the summary; it never reaches Market."""
    payload = {"text": text, "line": sanitize(" ".join(args), 60)}
    return NewOperation(line_no, campaign_id, INVALID, payload)


async def _ask(request: Request, command: str, question: Question, campaign_id: int) -> None:
    """Ask with one button per option; a press runs the command completed with the option."""
    # The campaign chosen for this command stays with it when the button is pressed.
    choices = [
        (
            request.t(option.label.key, **option.label.params),
            Choice(f"/{command} " + " ".join(option.args), campaign_id=campaign_id),
        )
        for option in question.options
    ]
    await questions.ask(request, request.t(question.text.key, **question.text.params), choices)


def _cached_services(request: Request) -> list[tuple[int, str]] | None:
    cached = request.services.delivery_services
    if (
        cached is None
        or request.services.clock() - cached[0] >= request.services.delivery_services_ttl
    ):
        return None
    return _pairs(cached[1])


async def _delivery_services(request: Request, campaign_id: int) -> list[tuple[int, str]] | None:
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
