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
from datetime import date, timedelta

from bot.market.writes import DeliverPayload, MovePayload, Payload, TrackPayload
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
# Delivery services offered as buttons at most (the shop's own first).
MAX_SERVICE_BUTTONS = 6


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
    # Asked with a calendar instead of options: the command's arguments, None where the picked
    # date goes (``handlers.datepicker``).
    pick: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class LineContext:
    """What a line parser may consult: today's date (bot's timezone), Market's delivery
    services as (id, name) or None when the list could not be fetched, the shop's default
    delivery service, and the shop's services (ids) to offer first, most used first."""

    today: date
    services: Sequence[tuple[int, str]] | None = None
    default_service: int | None = None
    preferred_services: Sequence[int] = ()


@dataclass(frozen=True)
class BatchLine:
    """One command of a message: its 1-based line number as the user sees it, and its words."""

    line_no: int
    command: str
    args: tuple[str, ...]


def _too_many(extra: Sequence[str]) -> InputError:
    return InputError("input.too_many_args", {"extra": sanitize(" ".join(extra))})


def parse_track(args: Sequence[str], ctx: LineContext) -> TrackPayload | InputError | Question:
    """Parse ``/track <orderId> <trackCode> [deliveryService]``.

    Arguments are checked in order, so the first wrong one is reported; then missing ones;
    then extra ones. A service name typed as several words gets its own error asking for one
    word; a name is matched against ``ctx.services``. A missing service is the shop's default;
    without one, and for a name that matches no service or several, the shop's services are
    offered as buttons.
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
        return _no_service(order_id, track_code, ctx)
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
    query = sanitize(service)
    among = [(m.id, m.name) for m in matches] if matches else ctx.services
    ordered = _shop_first(ctx, among)
    # The candidates are also named with their ids: the way to type them next time, and all
    # there is in a list of lines, where nothing can be asked.
    if matches:
        key, candidates = "ambiguous", "\n".join(f"{i} — {sanitize(n)}" for i, n in ordered[:10])
    else:
        key, candidates = "unknown", ", ".join(f"{i} ({sanitize(n)})" for i, n in ordered[:3])
    unasked = InputError(f"service.{key}", {"query": query, "candidates": candidates})
    text = InputError(f"ask.service_{key}", unasked.params)
    return _service_question(order_id, track_code, ordered, text, unasked)


def _no_service(
    order_id: int, track_code: str, ctx: LineContext
) -> TrackPayload | InputError | Question:
    """A /track without its service: the shop's default, else a question (Market's list
    needed for its buttons)."""
    names = dict(ctx.services or ())
    if ctx.default_service is not None:
        return TrackPayload(
            order_id=order_id,
            track_code=track_code,
            delivery_service_id=ctx.default_service,
            service_name=names.get(ctx.default_service, ""),
        )
    if ctx.services is None:
        return NEEDS_SERVICES
    text = InputError("ask.service_missing", {"order_id": order_id})
    unasked = InputError("input.missing.service")
    return _service_question(order_id, track_code, _shop_first(ctx, ctx.services), text, unasked)


def _shop_first(ctx: LineContext, among: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """``among`` with the shop's preferred services first, then in Market's order."""
    listed = dict(among)
    preferred = [(i, listed[i]) for i in dict.fromkeys(ctx.preferred_services) if i in listed]
    return preferred + [pair for pair in among if pair not in preferred]


def _service_question(
    order_id: int,
    track_code: str,
    ordered: Sequence[tuple[int, str]],
    text: InputError,
    unasked: InputError,
) -> Question | InputError:
    """The first ``MAX_SERVICE_BUTTONS`` services as buttons completing the /track line."""
    options = tuple(
        Option(
            InputError("ask.service_button", {"id": str(sid), "name": sanitize(name, 30)}),
            (str(order_id), track_code, str(sid)),
        )
        for sid, name in ordered[:MAX_SERVICE_BUTTONS]
    )
    return Question(text, options, unasked) if options else unasked


# A date may take up to three words: "25 декабря", "через 3 дня".
MAX_DATE_WORDS = 3
_DATE_REFUSALS = ("input.date.no_such_date", "input.date.past", "input.date.too_far")


def _date_at(args: Sequence[str], today: date) -> tuple[date | InputError, int]:
    """The date ``args`` (non-empty) start with and how many words it takes: the longest form
    that names a day, with the refusal of that day if any (30 февраля, 25 декабря 2024); else
    why the first word is no date."""
    for count in range(min(len(args), MAX_DATE_WORDS), 1, -1):
        found = parse_date(" ".join(args[:count]), today)
        if not isinstance(found, InputError) or found.key in _DATE_REFUSALS:
            return found, count
    return parse_date(args[0], today), 1


def track_prompt_order(args: Sequence[str]) -> int | None:
    """``/track 124`` alone: the order whose code is asked for as a reply (typed or a photo)."""
    order_id = parse_order_id(args[0]) if len(args) == 1 else None
    return order_id if isinstance(order_id, int) else None


def parse_move(args: Sequence[str], ctx: LineContext) -> MovePayload | InputError | Question:
    """Parse ``/move <orderId> <date> [reason]``; dates are read against ``ctx.today``, and
    may be several words (``25 декабря``, ``через 3 дня``: see ``_date_at``).

    Arguments are checked in order, so the first wrong one is reported; then missing ones;
    then extra ones. A missing or unclear reason is a question with the two reasons as
    buttons; a missing date, one with the next days as buttons, and ``?`` for a date opens a
    calendar.
    """
    order_id = parse_order_id(args[0]) if args else InputError("input.move.missing_all")
    if isinstance(order_id, InputError):
        return order_id
    if len(args) < 2:
        return _date_question(order_id, ctx.today)
    if args[1] == PICK_DATE:
        if len(args) > 3:
            return _too_many(args[3:])
        pick = (str(order_id), None, *args[2:])
        return Question(InputError("ask.date_pick", {"order_id": order_id}), (), _NO_DATE, pick)
    to_date, date_words = _date_at(args[1:], ctx.today)
    if isinstance(to_date, InputError):
        return to_date
    args = [args[0], " ".join(args[1 : 1 + date_words]), *args[1 + date_words :]]
    if len(args) < 3:
        text = InputError("reason.ask", {"order_id": order_id, "date": to_date})
        return _reason_question(to_date, order_id, text, InputError("batch.reason_missing"))
    reason = parse_reason(args[2])
    if isinstance(reason, InputError):
        # "usr", "клиента", "по просьбе покупателя": ask rather than explain the words.
        params = {"value": sanitize(args[2]), "order_id": order_id, "date": to_date}
        return _reason_question(to_date, order_id, InputError("ask.reason_unclear", params), reason)
    if len(args) > 3:
        return _too_many(args[3:])
    return MovePayload(order_id=order_id, to_date=to_date, reason=reason)


# Typed (or sent by the "Other date…" button) instead of a date: pick it on a calendar.
PICK_DATE = "?"
_NO_DATE = InputError("input.missing.date")
_NEXT_DAYS = ("ask.date_today", "ask.date_tomorrow", "ask.date_after_tomorrow", "ask.date_in_3")


def _date_question(order_id: int, today: date) -> Question:
    """The next days as buttons, and one that opens a calendar."""
    days = [today + timedelta(days=n) for n in range(len(_NEXT_DAYS))]
    options = [
        Option(InputError(key, {"day": f"{day:%d.%m}"}), (str(order_id), day.isoformat()))
        for key, day in zip(_NEXT_DAYS, days, strict=True)
    ]
    options.append(Option(InputError("ask.date_other"), (str(order_id), PICK_DATE)))
    return Question(InputError("ask.date", {"order_id": order_id}), tuple(options), _NO_DATE)


def _reason_question(day: date, order_id: int, text: InputError, unasked: InputError) -> Question:
    known = (str(order_id), day.isoformat())
    return Question(
        text,
        (
            Option(InputError("reason.user"), (*known, "user")),
            Option(InputError("reason.partner"), (*known, "partner")),
        ),
        unasked,
    )


# A quoted word keeps its spaces: straight, «guillemet» and “curly” quotes, as phone keyboards
# type them; a quote that does not close at the end of a word is just a character.
_WORD = re.compile(r'"([^"]*)"(?!\S)|«([^»]*)»(?!\S)|[“„]([^“”„]*)[”“](?!\S)|(\S+)')


def _words(line: str) -> list[str]:
    """The words of one line; a quoted word without its quotes, its spaces made single."""
    words = []
    for match in _WORD.finditer(line):
        word = next(group for group in match.groups() if group is not None)
        words.append(" ".join(word.split()) if match[4] is None else word)
    return words


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
    Words are split on any whitespace, NBSP included; a quoted argument (``"RA 1234 RU"``,
    also in «» or “”) is one word, without its quotes.

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
        words = _words(raw)
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


def parse_shipped(args: Sequence[str], ctx: LineContext) -> Payload | InputError:
    """Parse ``/shipped <orderId>``: the order is out for delivery."""
    order_id = parse_order_id(args[0]) if args else InputError("input.missing.order_id")
    if isinstance(order_id, InputError):
        return order_id
    if len(args) > 1:
        return _too_many(args[1:])
    return Payload(order_id=order_id)


# How far back a delivery may be reported, in days.
DELIVERED_WITHIN = 30
_DAYS_AGO = {"today": 0, "сегодня": 0, "yesterday": 1, "вчера": 1, "позавчера": 2}


def _delivery_day(text: str, today: date) -> date | InputError:
    """The day an order reached the buyer: today or earlier, at most 30 days ago."""
    word = text.strip().casefold()
    if word in _DAYS_AGO:
        return today - timedelta(days=_DAYS_AGO[word])
    # Read from the oldest day allowed, so that "20.11" is the last 20 November, not the next.
    found = parse_date(text, today - timedelta(days=DELIVERED_WITHIN))
    params = {"value": sanitize(text)}
    if isinstance(found, InputError):
        if found.key == "input.date.past":
            return InputError("input.date.too_old", params)
        return (
            InputError("input.date.future", params) if found.key == "input.date.too_far" else found
        )
    if found > today:
        return InputError("input.date.future", params)
    return found


def parse_delivered(args: Sequence[str], ctx: LineContext) -> DeliverPayload | InputError:
    """Parse ``/delivered <orderId> [date]``: the buyer has the order (on ``date``, if not
    today; never a future date)."""
    order_id = parse_order_id(args[0]) if args else InputError("input.missing.order_id")
    if isinstance(order_id, InputError):
        return order_id
    day: date | None = None
    if len(args) > 1:
        found = _delivery_day(args[1], ctx.today)
        if isinstance(found, InputError):
            return found
        day = None if found == ctx.today else found
    if len(args) > 2:
        return _too_many(args[2:])
    return DeliverPayload(order_id=order_id, real_delivery_date=day)
