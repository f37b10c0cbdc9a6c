"""/track and /move: turn a message into validated operations and hand them to the runner.

A message may hold up to 50 lines (see ``parsing.split_commands``). Bad input is answered here
and never reaches Market; everything valid becomes a ``NewOperation`` stored and executed by the
runner, which also sends the one answer per message.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.market.errors import MarketError
from bot.market.models import DeliveryService
from handlers.context import BatchRequest, Request
from handlers.guard import authorize, save_for_button
from handlers.parsing import (
    BatchLine,
    InputError,
    MoveArgs,
    TrackArgs,
    match_services,
    parse_move,
    parse_track,
    sanitize,
    split_commands,
)
from handlers.texts import format_day
from storage import campaigns
from storage.operations import NewOperation

INVALID = "invalid"


async def track(request: Request) -> str:
    return await work(request)


async def move(request: Request) -> str:
    return await work(request)


def _input_text(request: Request, error: InputError, command: str | None) -> str:
    text = request.t(error.key, **error.params)
    if command:
        text += "\n\n" + request.t(f"usage.{command}")
    return text


async def work(request: Request) -> str:
    allowed = await authorize(request)
    if allowed is None or allowed.campaign_id is None or request.user_id is None:
        return str(request.extra["outcome"])
    campaign_id = allowed.campaign_id
    services = request.services
    lines = split_commands(request.text, services.bot_username or None)
    if isinstance(lines, InputError):
        await request.reply(_input_text(request, lines, request.command))
        return "bad_input"
    single = len(lines) == 1
    operations: list[NewOperation] = []
    for line in lines:
        parsed = _parse(request, line)
        if isinstance(parsed, InputError):
            if single:
                await request.reply(_input_text(request, parsed, line.command))
                return "bad_input"
            operations.append(_invalid(request, line, request.t(parsed.key, **parsed.params)))
            continue
        if isinstance(parsed, MoveArgs):
            if parsed.reason is None:
                if single:
                    await _ask_reason(request, parsed)
                    return "asked_reason"
                operations.append(_invalid(request, line, request.t("batch.reason_missing")))
                continue
            operations.append(
                NewOperation(
                    line_no=line.line_no,
                    campaign_id=campaign_id,
                    kind="move",
                    payload={
                        "order_id": parsed.order_id,
                        "to_date": parsed.to_date.isoformat(),
                        "reason": parsed.reason,
                    },
                )
            )
            continue
        service = await _resolve_service(request, parsed, campaign_id)
        if isinstance(service, str):
            if single:
                await request.reply(service + "\n\n" + request.t("usage.track"))
                return "bad_input"
            operations.append(_invalid(request, line, service))
            continue
        operations.append(
            NewOperation(
                line_no=line.line_no,
                campaign_id=campaign_id,
                kind="track",
                payload={
                    "order_id": parsed.order_id,
                    "track_code": parsed.track_code,
                    "delivery_service_id": service.id,
                    "service_name": service.name,
                },
            )
        )
    accepted = await services.runner.submit(
        BatchRequest(
            chat_id=request.chat_id,
            message_id=request.message_id,
            thread_id=request.thread_id,
            user_id=request.user_id,
            language=request.lang,
            command=request.command,
            operations=operations,
            progress_message_id=request.button_message_id,
        )
    )
    return "accepted" if accepted else "duplicate"


def _parse(request: Request, line: BatchLine) -> TrackArgs | MoveArgs | InputError:
    if line.command == "track":
        return parse_track(line.args)
    parsed = parse_move(line.args, request.services.today())
    if isinstance(parsed, MoveArgs) and parsed.reason is None and request.forced_reason:
        return MoveArgs(parsed.order_id, parsed.to_date, request.forced_reason)  # type: ignore[arg-type]
    return parsed


def _invalid(request: Request, line: BatchLine, text: str) -> NewOperation:
    return NewOperation(
        line_no=line.line_no,
        campaign_id=int(request.extra["campaign_id"]),
        kind=INVALID,
        payload={"text": text, "line": sanitize(" ".join(line.args), 60)},
    )


async def _ask_reason(request: Request, parsed: MoveArgs) -> None:
    """The reason was left out: two buttons complete the command."""
    saved = save_for_button(request)
    if saved is None:
        return
    # The campaign chosen for this command stays with it when the button is pressed.
    chosen = request.extra.get("campaign_id", 0)
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    request.t("reason.user"), callback_data=f"why:{saved.id}:u:{chosen}"
                ),
                InlineKeyboardButton(
                    request.t("reason.partner"), callback_data=f"why:{saved.id}:p:{chosen}"
                ),
            ]
        ]
    )
    await request.reply(
        request.t(
            "reason.ask", order_id=parsed.order_id, date=format_day(parsed.to_date, request.lang)
        ),
        markup=buttons,
    )


async def _resolve_service(
    request: Request, parsed: TrackArgs, campaign_id: int
) -> DeliveryService | str:
    """The delivery service by id, or by name matched against Market's list (cached a day).

    Returns the service, or the text explaining why the name did not resolve.
    """
    if parsed.service_id is not None:
        known = (
            {s.id: s.name for s in request.services.delivery_services[1]}
            if (request.services.delivery_services)
            else {}
        )
        return DeliveryService(
            id=parsed.service_id, name=known.get(parsed.service_id, "") or (f"#{parsed.service_id}")
        )
    query = parsed.service_query or ""
    services_list = await _delivery_services(request, campaign_id)
    if services_list is None:
        return request.t("service.unavailable")
    matches = match_services(query, [(s.id, s.name) for s in services_list])
    if len(matches) == 1:
        return DeliveryService(id=matches[0].id, name=matches[0].name)
    if not matches:
        return request.t("service.unknown", query=sanitize(query))
    candidates = "\n".join(
        request.t("service.candidate", id=m.id, name=m.name) for m in matches[:10]
    )
    return request.t("service.ambiguous", query=sanitize(query), candidates=candidates)


async def _delivery_services(request: Request, campaign_id: int) -> list[DeliveryService] | None:
    services = request.services
    now = services.clock()
    cached = services.delivery_services
    if cached is not None and now - cached[0] < services.delivery_services_ttl:
        return cached[1]
    row = campaigns.get_campaign(services.db, campaign_id)
    if row is None:
        return None
    try:
        fetched = await services.market.get_delivery_services(
            services.keybox.decrypt(row.api_key_cipher)
        )
    except MarketError:
        # A stale list is better than none when Market is briefly unavailable.
        return cached[1] if cached else None
    services.delivery_services = (now, fetched)
    return fetched
