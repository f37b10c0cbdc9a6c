"""Command lines of the writes (handlers.lines): splitting a message into lines, parsing a
/track or /move line into its payload, the delivery-service lookup, and the reason question."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pytest

from bot.market.writes import DeliverPayload, MovePayload, MoveReason, Payload, TrackPayload
from handlers.lines import (
    NEEDS_SERVICES,
    BatchLine,
    LineContext,
    Option,
    Question,
    parse_delivered,
    parse_move,
    parse_shipped,
    parse_track,
    split_commands,
)
from handlers.parsing import MAX_BATCH_LINES, InputError
from handlers.texts import CATALOGS, LANGS, placeholders, t
from tests.test_parsing import value_errors

TODAY = date(2025, 6, 10)
USER: MoveReason = "USER_MOVED_DELIVERY_DATES"
PARTNER: MoveReason = "PARTNER_MOVED_DELIVERY_DATES"
SERVICES = [(51, "СДЭК"), (52, "СДЭК Экспресс"), (1, "Почта России"), (301, "Ёлка-Экспресс")]
CTX = LineContext(TODAY, SERVICES)
NO_SERVICES = LineContext(TODAY)
BOT = "MarketDbsBot"
KNOWN = ("track", "move")
COMMANDS = "/track, /move"


def track(order_id: int, code: str, service_id: int, name: str = "") -> TrackPayload:
    return TrackPayload(
        order_id=order_id, track_code=code, delivery_service_id=service_id, service_name=name
    )


def move(order_id: int, to_date: date, reason: MoveReason) -> MovePayload:
    return MovePayload(order_id=order_id, to_date=to_date, reason=reason)


def _err(value: object) -> InputError:
    """The error a line reports; for a question, what a line of a bulk message says instead."""
    if isinstance(value, Question):
        value = value.unasked
    assert isinstance(value, InputError), value
    return value


# --- /track ------------------------------------------------------------------------------------

TRACK_OK = [
    (["123", "RR456", "51"], CTX, track(123, "RR456", 51, "СДЭК")),
    (["123", "RR456", "51"], NO_SERVICES, track(123, "RR456", 51)),
    (["123", "RR456", "999"], CTX, track(123, "RR456", 999)),  # an id Market did not list
    (["123", "RR456", "cdek"], CTX, track(123, "RR456", 51, "СДЭК")),
    (["123", "ра12", "Почта"], CTX, track(123, "PA12", 1, "Почта России")),
    (["7", "rr10", "елка"], CTX, track(7, "RR10", 301, "Ёлка-Экспресс")),
    (["#124,", "RA 1234-5678 RU", "51"], CTX, track(124, "RA12345678RU", 51, "СДЭК")),
]
TRACK_BAD = [
    ([], "input.track.missing_all"),
    (["123"], "input.track.missing_track_code_and_service"),
    (["123", "RR456"], "input.missing.service"),
    (["abc"], "input.order_id.not_number"),
    (["RR456", "51"], "input.order_id.not_number"),
    (["123", "RR\u200b456", "51"], "input.invisible_char"),
    (["123", "RR456", "0"], "input.service.not_positive"),
    (["123", "RR456", "51", "extra"], "input.too_many_args"),
    (["123", "RR456", "Почта", "России"], "input.track.service_one_word"),
    (["123", "RR456", "0", "x"], "input.service.not_positive"),
    (["١٢٣", "RR456", "51"], "input.order_id.non_ascii_digits"),
    (["123", "RR456", "экспресс"], "service.ambiguous"),
    (["123", "RR456", "fedex"], "service.unknown"),
]


@pytest.mark.parametrize(("args", "ctx", "expected"), TRACK_OK)
def test_track_ok(args: list[str], ctx: LineContext, expected: TrackPayload) -> None:
    result = parse_track(args, ctx)
    assert isinstance(result, TrackPayload)
    assert result == expected


@pytest.mark.parametrize(("args", "key"), TRACK_BAD)
def test_track_refused(args: list[str], key: str) -> None:
    assert _err(parse_track(args, CTX)).key == key


def test_a_service_name_needs_markets_list() -> None:
    assert parse_track(["123", "RR456", "cdek"], NO_SERVICES) is NEEDS_SERVICES
    assert NEEDS_SERVICES.key == "service.unavailable"
    # Wrong values are reported before the list is needed.
    assert _err(parse_track(["x", "RR456", "cdek"], NO_SERVICES)).key == "input.order_id.not_number"


def test_ambiguous_and_unknown_services_name_the_query_and_candidates() -> None:
    ambiguous = _err(parse_track(["1", "RR12", "экспресс"], CTX))
    assert ambiguous.params == {
        "query": "экспресс",
        "candidates": "52 — СДЭК Экспресс\n301 — Ёлка-Экспресс",
    }
    unknown = _err(parse_track(["1", "RR12", "fedex"], CTX))
    # The hint names the shop's own services, not a hard-coded "51 for СДЭК".
    assert unknown.params["query"] == "fedex"
    assert "51 (СДЭК)" in unknown.params["candidates"]
    many = LineContext(TODAY, [(n, f"Курьер {n}") for n in range(1, 13)])
    capped = _err(parse_track(["1", "RR12", "курьер"], many))
    assert capped.params["candidates"].splitlines() == [f"{n} — Курьер {n}" for n in range(1, 11)]


# --- /move -------------------------------------------------------------------------------------

MOVE_OK = [
    (["123", "25.12", "buyer"], move(123, date(2025, 12, 25), USER)),
    (["123", "2025-12-25", "partner"], move(123, date(2025, 12, 25), PARTNER)),
    (["123", "завтра", "магазин"], move(123, date(2025, 6, 11), PARTNER)),
    (["123", "today", "USER_MOVED_DELIVERY_DATES"], move(123, TODAY, USER)),
    # A date of several words is read before the reason.
    (["123", "25", "декабря", "user"], move(123, date(2025, 12, 25), USER)),
    (["№123", "через", "3", "дня", "partner"], move(123, date(2025, 6, 13), PARTNER)),
    (["123", "в", "пн", "магазин"], move(123, date(2025, 6, 16), PARTNER)),
    (["123", "dec", "25,", "2025", "buyer"], move(123, date(2025, 12, 25), USER)),
    (["123", "+3", "дня", "buyer"], move(123, date(2025, 6, 13), USER)),
    (["123", "25,12", "buyer"], move(123, date(2025, 12, 25), USER)),
]
MOVE_BAD = [
    ([], "input.move.missing_all"),
    (["123"], "input.missing.date"),
    (["0", "25.12"], "input.order_id.not_positive"),
    (["123", "31.02.2025", "user"], "input.date.no_such_date"),
    (["123", "01.01.2025", "user"], "input.date.past"),
    (["123", "25.12", "whoever"], "input.reason.unknown"),
    (["123", "25.12", "user", "asked"], "input.too_many_args"),
    (["123", "25", "12", "user"], "input.date.bad_format"),
    (["123", "30", "февраля", "user"], "input.date.no_such_date"),
    (["123", "25", "декабря", "2024", "user"], "input.date.past"),
    (["123", "25", "декабря", "user", "asked"], "input.too_many_args"),
    (["123", "через", "3", "user"], "input.date.bad_format"),
]


@pytest.mark.parametrize(("args", "expected"), MOVE_OK)
def test_move_ok(args: list[str], expected: MovePayload) -> None:
    result = parse_move(args, CTX)
    assert isinstance(result, MovePayload)
    assert result == expected


@pytest.mark.parametrize(("args", "key"), MOVE_BAD)
def test_move_refused(args: list[str], key: str) -> None:
    assert _err(parse_move(args, NO_SERVICES)).key == key


def test_a_missing_reason_is_asked_with_two_buttons() -> None:
    question = parse_move(["0123", "25.12"], NO_SERVICES)
    assert isinstance(question, Question)
    assert question.text == InputError("reason.ask", {"order_id": 123, "date": date(2025, 12, 25)})
    assert question.options == (
        Option(InputError("reason.user"), ("123", "2025-12-25", "user")),
        Option(InputError("reason.partner"), ("123", "2025-12-25", "partner")),
    )
    assert question.unasked == InputError("batch.reason_missing")
    assert t("en", question.text.key, **question.text.params) == (
        "Why is the date of order 123 moving to Thu 25.12.2025?"
    )
    # Each button runs the command again with the reason added.
    answers = [parse_move(option.args, NO_SERVICES) for option in question.options]
    assert answers == [move(123, date(2025, 12, 25), USER), move(123, date(2025, 12, 25), PARTNER)]


def test_a_date_of_several_words_becomes_one_argument_of_the_question() -> None:
    question = parse_move(["123", "25", "декабря"], CTX)
    assert isinstance(question, Question)
    assert question.text == InputError("reason.ask", {"order_id": 123, "date": date(2025, 12, 25)})
    assert question.options[0].args == ("123", "2025-12-25", "user")
    refused = _err(parse_move(["123", "через", "3", "user"], CTX))
    assert refused.params == {"value": "через"}


def test_extra_arguments_are_named() -> None:
    error = _err(parse_move(["123", "25.12", "user", "asked", "me"], CTX))
    assert error.params == {"extra": "asked me"}
    one_word = _err(parse_track(["1", "RR12", "Почта", "России"], CTX))
    assert one_word.params == {"value": "Почта России"}


# --- splitting a message -----------------------------------------------------------------------

SPLIT_OK = [
    ("/track 1 RR1 51", [BatchLine(1, "track", ("1", "RR1", "51"))]),
    ("/track", [BatchLine(1, "track", ())]),
    ("/move@MarketDbsBot 1 25.12", [BatchLine(1, "move", ("1", "25.12"))]),
    ("/TRACK@marketdbsbot 1 RR1 51", [BatchLine(1, "track", ("1", "RR1", "51"))]),
    ("/Move 1 завтра", [BatchLine(1, "move", ("1", "завтра"))]),
    ("/track 1\u00a0RR1\u00a051", [BatchLine(1, "track", ("1", "RR1", "51"))]),
    (
        "/track\n1 RR1 51\n\n2 RR2 cdek",
        [BatchLine(2, "track", ("1", "RR1", "51")), BatchLine(4, "track", ("2", "RR2", "cdek"))],
    ),
    (
        "/track 1 RR1 51\n2 RR2 51\n/track 3 RR3 51",
        [
            BatchLine(1, "track", ("1", "RR1", "51")),
            BatchLine(2, "track", ("2", "RR2", "51")),
            BatchLine(3, "track", ("3", "RR3", "51")),
        ],
    ),
    (
        # A full command line switches once; bare lines stay with the first line's command.
        "/move 1 25.12 user\n/track 2 RR2 51\n3 26.12 buyer",
        [
            BatchLine(1, "move", ("1", "25.12", "user")),
            BatchLine(2, "track", ("2", "RR2", "51")),
            BatchLine(3, "move", ("3", "26.12", "buyer")),
        ],
    ),
    (
        # A bare command line heads a section of argument lines.
        "/track\n1 RR1 51\n/move\n2 25.12 user\n3 26.12",
        [
            BatchLine(2, "track", ("1", "RR1", "51")),
            BatchLine(4, "move", ("2", "25.12", "user")),
            BatchLine(5, "move", ("3", "26.12")),
        ],
    ),
    ("/track\n/move 1 25.12", [BatchLine(1, "track", ()), BatchLine(2, "move", ("1", "25.12"))]),
    ("\n\n  /track  \r\n\r\n 1 RR1 51 \n\n", [BatchLine(5, "track", ("1", "RR1", "51"))]),
    # A quoted argument is one word, without its quotes, its spaces made single.
    ('/track 124 "RA 1234-5678 RU" 51', [BatchLine(1, "track", ("124", "RA 1234-5678 RU", "51"))]),
    ("/track 124 «RA  1234\u00a0RU» 51", [BatchLine(1, "track", ("124", "RA 1234 RU", "51"))]),
    ("/track 124 “RA 1234” 51", [BatchLine(1, "track", ("124", "RA 1234", "51"))]),
    ("/track 124 „RA 1234“ 51", [BatchLine(1, "track", ("124", "RA 1234", "51"))]),
    ('/move\n1 "25 декабря" user', [BatchLine(2, "move", ("1", "25 декабря", "user"))]),
    ('/track 1 "" 51', [BatchLine(1, "track", ("1", "", "51"))]),
    # Not closed at the end of a word: the quote is a character like any other.
    ('/track 124 "RA 1234 51', [BatchLine(1, "track", ("124", '"RA', "1234", "51"))]),
    ('/track 124 "RA 12"34 51', [BatchLine(1, "track", ("124", '"RA', '12"34', "51"))]),
    ('/track 124 RA"1 2" 51', [BatchLine(1, "track", ("124", 'RA"1', '2"', "51"))]),
]

SPLIT_BAD = [
    ("", "input.batch.no_command"),
    ("\n \n", "input.batch.no_command"),
    ("1 RR1 51", "input.batch.no_command"),
    ("hello /track", "input.batch.no_command"),
    ("/track@OtherBot 1 RR1 51", "input.batch.other_bot"),
    ("/track 1 RR1 51\n/move@OtherBot 2 25.12", "input.batch.other_bot"),
    ("/start", "input.batch.unknown_command"),
    ("/track 1 RR1 51\n/cancel", "input.batch.unknown_command"),
    ("/track 1 RR1 51\n/", "input.batch.unknown_command"),
    ("/трек 1 RR1 51", "input.batch.unknown_command"),
    ("/track1 RR1 51", "input.batch.unknown_command"),
]


@pytest.mark.parametrize(("text", "expected"), SPLIT_OK)
def test_split_commands(text: str, expected: list[BatchLine]) -> None:
    assert split_commands(text, BOT, KNOWN) == expected


@pytest.mark.parametrize(("text", "key"), SPLIT_BAD)
def test_split_commands_refused(text: str, key: str) -> None:
    assert _err(split_commands(text, BOT, KNOWN)).key == key


def test_split_names_the_line_and_the_known_commands() -> None:
    error = _err(split_commands("/track 1 RR1 51\n\n/stop@OtherBot", BOT, KNOWN))
    assert error.params == {"line": "3", "name": "OtherBot"}
    unknown = _err(split_commands("/track\n1 RR1 51\n/help", BOT, KNOWN))
    assert unknown.params == {"line": "3", "command": "/help", "commands": COMMANDS}
    assert _err(split_commands("hello", BOT, KNOWN)).params == {"commands": COMMANDS}


def test_split_knows_only_the_commands_it_is_given() -> None:
    assert split_commands("/track 1 RR1 51", BOT, ("track",)) == [
        BatchLine(1, "track", ("1", "RR1", "51"))
    ]
    refused = _err(split_commands("/track 1 RR1 51\n/move 1 25.12", BOT, ("track",)))
    assert refused.params == {"line": "2", "command": "/move", "commands": "/track"}


def test_split_without_bot_username_accepts_any_mention() -> None:
    expected = [BatchLine(1, "track", ("1", "RR1", "51"))]
    assert split_commands("/track@AnyBot 1 RR1 51", None, KNOWN) == expected
    assert split_commands("/track@MarketDbsBot 1 RR1 51", "@MarketDbsBot", KNOWN) == expected


def test_split_fifty_lines_ok_fifty_one_refused() -> None:
    fifty = "/track\n" + "\n".join(f"{i} RR{i} 51" for i in range(1, MAX_BATCH_LINES + 1))
    lines = split_commands(fifty, BOT, KNOWN)
    assert isinstance(lines, list)
    assert len(lines) == MAX_BATCH_LINES == 50
    assert lines[-1] == BatchLine(51, "track", ("50", "RR50", "51"))
    error = _err(split_commands(fifty + "\n\n51 RR51 51", BOT, KNOWN))
    assert error.key == "input.batch.too_many"
    assert error.params == {"max": "50", "count": "51"}


# --- every error has its words -----------------------------------------------------------------


def line_errors() -> list[InputError]:
    """Every InputError the line tables above produce, by running the parsers again."""
    results: list[object] = []
    results += [parse_track(args, CTX) for args, _ in TRACK_BAD]
    results += [parse_track(["1", "RR12", "cdek"], NO_SERVICES)]
    results += [parse_move(args, CTX) for args, _ in MOVE_BAD]
    results += [split_commands(text, BOT, KNOWN) for text, _ in SPLIT_BAD]
    results.append(split_commands("/track\n" + "1 R 5\n" * 51, BOT, KNOWN))
    results += [parse_delivered(args, CTX) for args in DELIVERED_BAD]
    for value in list(results):
        if isinstance(value, Question):
            results += [value.text, value.unasked, *(option.label for option in value.options)]
    question = parse_move(["1", "25.12"], CTX)
    assert isinstance(question, Question)
    results += [question.text, question.unasked, *(option.label for option in question.options)]
    return [result for result in results if isinstance(result, InputError)]


# --- /shipped and /delivered --------------------------------------------------------------------

DELIVERED_BAD = [["1", "2099-01-01"], ["1", "01.01.2000"], ["1", "31.02"], ["x"]]


def test_shipped_takes_one_order() -> None:
    assert parse_shipped(["#124"], CTX) == Payload(order_id=124)
    assert _err(parse_shipped([], CTX)).key == "input.missing.order_id"
    assert _err(parse_shipped(["1", "2"], CTX)).key == "input.too_many_args"


def test_delivered_today_or_a_past_day_never_a_future_one() -> None:
    yesterday = TODAY - timedelta(days=1)
    assert parse_delivered(["7"], CTX) == DeliverPayload(order_id=7)
    assert parse_delivered(["7", "today"], CTX) == DeliverPayload(order_id=7)
    assert parse_delivered(["7", "вчера"], CTX) == DeliverPayload(
        order_id=7, real_delivery_date=yesterday
    )
    assert parse_delivered(["7", f"{yesterday:%d.%m}"], CTX) == DeliverPayload(
        order_id=7, real_delivery_date=yesterday
    )
    tomorrow = TODAY + timedelta(days=1)
    assert _err(parse_delivered(["7", f"{tomorrow:%d.%m.%Y}"], CTX)).key == "input.date.future"
    assert _err(parse_delivered(["7", "2099-01-01"], CTX)).key == "input.date.future"
    assert _err(parse_delivered(["7", "01.01.2000"], CTX)).key == "input.date.too_old"
    assert _err(parse_delivered(["7", "вчера", "x"], CTX)).key == "input.too_many_args"


def test_texts_cover_every_error_the_parsers_return() -> None:
    errors: Sequence[InputError] = [*value_errors(), *line_errors()]
    produced = {error.key for error in errors}
    assert produced - CATALOGS["en"].keys() == set()
    # Every input error text is reachable from some input in the tables.
    input_keys = {key for key in CATALOGS["en"] if key.startswith(("input.", "service."))}
    assert input_keys - produced == set()
    for error in errors:
        for lang in LANGS:
            assert placeholders(t(lang, error.key)) <= error.params.keys(), error.key
            rendered = t(lang, error.key, **error.params)
            assert "{" not in rendered
            assert "\x00" not in rendered
            assert "\u200b" not in rendered


def test_usage_texts_name_their_command() -> None:
    for command in KNOWN:
        for lang in LANGS:
            assert f"/{command} " in t(lang, f"usage.{command}")
