"""Command lines of the Market writes: splitting a message into lines, and one parser per write.

Every function here is pure. A line parser takes the line's words and a ``LineContext`` (today
in the bot's timezone, Market's delivery services) and returns the operation's payload
(``bot.market.writes``), an ``InputError``, or a ``Question`` the bot can ask with buttons
instead of refusing the line.

Command forms (argument order is fixed)::

    /track <orderId> <trackCode> <deliveryService>   deliveryService: numeric id or a name word
    /move  <orderId> <date> [reason]                  reason missing -> a question with buttons

A message may carry up to ``MAX_BATCH_LINES`` commands, one a line (:func:`split_commands`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from bot.market.writes import MovePayload, TrackPayload
from handlers.parsing import (
    MAX_BATCH_LINES,
    InputError,
    match_services,
    parse_date,
    parse_order_id,
    parse_reason,
    parse_service,
    parse_track_code,
    sanitize,
)

# What a parser answers when it needs Market's delivery services and the context has none:
# the caller fetches them and parses the line again (and says so if they cannot be fetched).
NEEDS_SERVICES = InputError("service.unavailable")


@dataclass(frozen=True)
class Option:
    """One answer to a question: its button label (a text key) and the arguments it gives."""

    label: InputError
    args: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """Something the bot can ask with buttons instead of refusing the line.

    ``text`` is the question; each option re-runs the command with its ``args``. In a message
    of several lines, where no question can be asked, ``unasked`` explains what is missing.
    """

    text: InputError
    options: tuple[Option, ...]
    unasked: InputError


@dataclass(frozen=True)
class LineContext:
    """What a line parser may consult: today's date (bot's timezone) and Market's delivery
    services as (id, name), or None when the list could not be fetched."""

    today: date
    services: Sequence[tuple[int, str]] | None = None


@dataclass(frozen=True)
class BatchLine:
    """One command of a message: its 1-based line number as the user sees it, and its words."""

    line_no: int
    command: str
    args: tuple[str, ...]


def _too_many(extra: Sequence[str]) -> InputError:
    return InputError("input.too_many_args", {"extra": sanitize(" ".join(extra))})


def parse_track(args: Sequence[str], ctx: LineContext) -> TrackPayload | InputError:
    """Parse ``/track <orderId> <trackCode> <deliveryService>``.

    Arguments are checked in order, so the first wrong one is reported; then missing ones;
    then extra ones. A service name typed as several words gets its own error asking for one
    word; a name is matched against ``ctx.services``.
    """
    order_id = parse_order_id(args[0]) if args else InputError("input.track.missing_all")
    if isinstance(order_id, InputError):
        return order_id
    if len(args) < 2:
        return InputError("input.track.missing_track_code_and_service")
    track_code = parse_track_code(args[1])
    if isinstance(track_code, InputError):
        return track_code
    if len(args) < 3:
        return InputError("input.missing.service")
    service = parse_service(args[2])
    if len(args) > 3:
        # "Почта России" typed as two words: ask for one word rather than call it extra.
        if any(ch.isalpha() for ch in args[2]):
            value = sanitize(" ".join(args[2:]))
            return InputError("input.track.service_one_word", {"value": value})
        if isinstance(service, int):
            return _too_many(args[3:])
    if isinstance(service, InputError):
        return service
    names = dict(ctx.services or ())
    if isinstance(service, int):
        return TrackPayload(
            order_id=order_id,
            track_code=track_code,
            delivery_service_id=service,
            service_name=names.get(service, ""),
        )
    if ctx.services is None:
        return NEEDS_SERVICES
    matches = match_services(service, ctx.services)
    if len(matches) == 1:
        return TrackPayload(
            order_id=order_id,
            track_code=track_code,
            delivery_service_id=matches[0].id,
            service_name=matches[0].name,
        )
    if not matches:
        return InputError("service.unknown", {"query": sanitize(service)})
    candidates = "\n".join(f"{m.id} — {m.name}" for m in matches[:10])
    return InputError("service.ambiguous", {"query": sanitize(service), "candidates": candidates})


def parse_move(args: Sequence[str], ctx: LineContext) -> MovePayload | InputError | Question:
    """Parse ``/move <orderId> <date> [reason]``; dates are read against ``ctx.today``.

    Arguments are checked in order, so the first wrong one is reported; then missing ones;
    then extra ones. A missing reason is a question with the two reasons as buttons.
    """
    order_id = parse_order_id(args[0]) if args else InputError("input.move.missing_all")
    if isinstance(order_id, InputError):
        return order_id
    if len(args) < 2:
        return InputError("input.missing.date")
    to_date = parse_date(args[1], ctx.today)
    if isinstance(to_date, InputError):
        return to_date
    if len(args) < 3:
        known = (str(order_id), to_date.isoformat())
        return Question(
            InputError("reason.ask", {"order_id": order_id, "date": to_date}),
            (
                Option(InputError("reason.user"), (*known, "user")),
                Option(InputError("reason.partner"), (*known, "partner")),
            ),
            unasked=InputError("batch.reason_missing"),
        )
    reason = parse_reason(args[2])
    if isinstance(reason, InputError):
        return reason
    if len(args) > 3:
        return _too_many(args[3:])
    return MovePayload(order_id=order_id, to_date=to_date, reason=reason)


_COMMAND_TOKEN = re.compile(r"/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?")


def _parse_command_token(
    token: str, line_no: int, bot_username: str | None, known: Collection[str]
) -> str | InputError:
    unknown = InputError(
        "input.batch.unknown_command",
        {
            "line": str(line_no),
            "command": sanitize(token),
            "commands": ", ".join(f"/{name}" for name in known),
        },
    )
    match = _COMMAND_TOKEN.fullmatch(token)
    if match is None:
        return unknown
    name, mention = match[1].casefold(), match[2]
    if (
        mention is not None
        and bot_username is not None
        and mention.casefold() != bot_username.lstrip("@").casefold()
    ):
        return InputError(
            "input.batch.other_bot", {"line": str(line_no), "name": sanitize(mention)}
        )
    return name if name in known else unknown


def split_commands(
    text: str, bot_username: str | None, known: Collection[str]
) -> list[BatchLine] | InputError:
    """Split a message into its commands (those named in ``known``), one a line.

    The first non-empty line must be one of them (any case, optionally ``@BotName``; with
    ``bot_username`` None any mention is accepted). A later line is either a full command or
    just arguments. A command line with arguments is one command. A bare command line ("/move"
    alone) heads a section: the argument lines after it, up to the next command line, are that
    command's; a bare command with no argument lines is one command with no arguments (the
    parser then reports what is missing). Argument lines before any bare command line belong to
    the first line's command. Blank lines are skipped but counted in ``line_no`` (1-based).
    Words are split on any whitespace, NBSP included.

    Errors: ``input.batch.no_command`` (no command first), ``input.batch.unknown_command``,
    ``input.batch.other_bot``, ``input.batch.too_many`` (more than ``MAX_BATCH_LINES``).
    """
    no_command = InputError(
        "input.batch.no_command", {"commands": ", ".join(f"/{name}" for name in known)}
    )
    lines: list[BatchLine] = []
    current: str | None = None
    # A bare command line not yet followed by argument lines: (line_no, command).
    pending: tuple[int, str] | None = None
    for line_no, raw in enumerate(text.splitlines(), start=1):
        words = raw.split()
        if not words:
            continue
        if words[0].startswith("/"):
            command = _parse_command_token(words[0], line_no, bot_username, known)
            if isinstance(command, InputError):
                return command
            if pending is not None:
                lines.append(BatchLine(pending[0], pending[1], ()))
                pending = None
            if len(words) == 1:
                current = command
                pending = (line_no, command)
            else:
                lines.append(BatchLine(line_no, command, tuple(words[1:])))
                if current is None:
                    current = command
        else:
            if current is None:
                return no_command
            pending = None
            lines.append(BatchLine(line_no, current, tuple(words)))
    if pending is not None:
        lines.append(BatchLine(pending[0], pending[1], ()))
    if not lines:
        return no_command
    if len(lines) > MAX_BATCH_LINES:
        return InputError(
            "input.batch.too_many", {"max": str(MAX_BATCH_LINES), "count": str(len(lines))}
        )
    return lines
