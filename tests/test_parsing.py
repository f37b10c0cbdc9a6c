"""Tables for the /track and /move parsers, the batch splitter and the service matcher."""

from __future__ import annotations

import string
from datetime import date

import pytest

from handlers.parsing import (
    INT64_MAX,
    MAX_BATCH_LINES,
    BatchLine,
    DeliveryServiceChoice,
    InputError,
    MoveArgs,
    Reason,
    TrackArgs,
    match_services,
    parse_date,
    parse_move,
    parse_order_id,
    parse_reason,
    parse_service,
    parse_track,
    parse_track_code,
    sanitize,
    split_commands,
)
from handlers.texts_input import INPUT_EN, INPUT_RU

TODAY = date(2025, 6, 10)
USER: Reason = "USER_MOVED_DELIVERY_DATES"
PARTNER: Reason = "PARTNER_MOVED_DELIVERY_DATES"

ORDER_ID_OK = [
    ("1", 1),
    ("123456789", 123456789),
    ("007", 7),
    ("9223372036854775807", INT64_MAX),
    (" 42 ", 42),
]
ORDER_ID_BAD = [
    ("", "input.missing.order_id"),
    ("   ", "input.missing.order_id"),
    ("0", "input.order_id.not_positive"),
    ("000", "input.order_id.not_positive"),
    ("-5", "input.order_id.not_positive"),
    ("+5", "input.order_id.not_number"),
    ("9223372036854775808", "input.order_id.too_big"),
    ("12345678901234567890", "input.order_id.too_big"),
    ("1" * 5000, "input.order_id.too_big"),
    ("١٢٣", "input.order_id.non_ascii_digits"),  # Arabic-Indic
    ("１２３", "input.order_id.non_ascii_digits"),  # full-width
    ("12٣", "input.order_id.non_ascii_digits"),
    ("²", "input.order_id.non_ascii_digits"),  # superscript
    ("abc", "input.order_id.not_number"),
    ("12 3", "input.order_id.not_number"),
    ("1.5", "input.order_id.not_number"),
    ("1e9", "input.order_id.not_number"),
    ("#123", "input.order_id.not_number"),
    ("<b>1</b>", "input.order_id.not_number"),
    ("12\x003", "input.invisible_char"),
    ("\u200b123", "input.invisible_char"),
    ("123\u202e", "input.invisible_char"),
]

TRACK_CODE_OK = [
    ("RR456", "RR456"),
    ("rr123456785RU", "rr123456785RU"),
    ("*RR*", "*RR*"),
    ("<b>1</b>", "<b>1</b>"),
    ("СДЭК-1", "СДЭК-1"),
    ("A", "A"),
    ("X" * 64, "X" * 64),
]
TRACK_CODE_BAD = [
    ("", "input.missing.track_code"),
    ("X" * 65, "input.track_code.too_long"),
    ("RR 456", "input.track_code.has_space"),
    ("RR\u00a0456", "input.track_code.has_space"),
    ("RR\t456", "input.track_code.has_space"),
    ("RR\u2028456", "input.track_code.has_space"),
    ("RR\x00456", "input.invisible_char"),
    ("RR\x1b[31m", "input.invisible_char"),
    ("RR\u200b456", "input.invisible_char"),
    ("RR\u202e654", "input.invisible_char"),
    ("\ufeffRR456", "input.invisible_char"),
]

SERVICE_OK = [
    ("51", 51),
    ("9223372036854775807", INT64_MAX),
    ("cdek", "cdek"),
    ("СДЭК", "СДЭК"),
    ("Почта", "Почта"),
    ("5post", "5post"),
    ("Яндекс.Доставка", "Яндекс.Доставка"),
    ("ya", "ya"),
]
SERVICE_BAD = [
    ("", "input.missing.service"),
    ("0", "input.service.not_positive"),
    ("-51", "input.service.not_positive"),
    ("+51", "input.service.not_number"),
    ("9223372036854775808", "input.service.too_big"),
    ("５１", "input.service.non_ascii_digits"),
    ("я", "input.service.too_short"),
    ("x" * 65, "input.service.too_long"),
    ("--", "input.service.bad_name"),
    ("<b>cdek</b>", "input.service.bad_name"),
    ("cd\u200bek", "input.invisible_char"),
]

DATE_OK = [
    ("2025-12-25", date(2025, 12, 25)),
    ("2025-6-10", TODAY),
    ("2025/12/25", date(2025, 12, 25)),
    ("25.12.2025", date(2025, 12, 25)),
    ("25.12.25", date(2025, 12, 25)),
    ("1.7.2025", date(2025, 7, 1)),
    ("01.07.2025.", date(2025, 7, 1)),
    ("25/12/2025", date(2025, 12, 25)),
    ("25/12/25", date(2025, 12, 25)),
    ("25-12-2025", date(2025, 12, 25)),
    ("25.12", date(2025, 12, 25)),
    ("25.12.", date(2025, 12, 25)),
    ("25/12", date(2025, 12, 25)),
    ("10.06", TODAY),  # today's day and month: this year
    ("09.06", date(2026, 6, 9)),  # yesterday's: next year
    ("01.01", date(2026, 1, 1)),  # rollover to next year
    ("1.1", date(2026, 1, 1)),
    ("10.06.2026", date(2026, 6, 10)),  # 365 days ahead
    ("11.06.2026", date(2026, 6, 11)),  # 366 days ahead: the limit
    ("today", TODAY),
    ("Today", TODAY),
    ("tomorrow", date(2025, 6, 11)),
    ("TOMORROW", date(2025, 6, 11)),
    ("сегодня", TODAY),
    ("завтра", date(2025, 6, 11)),
    ("Завтра", date(2025, 6, 11)),
    ("послезавтра", date(2025, 6, 12)),
    ("ПОСЛЕЗАВТРА", date(2025, 6, 12)),
]
DATE_BAD = [
    ("", "input.missing.date"),
    ("31.02.2025", "input.date.no_such_date"),
    ("29.02.2025", "input.date.no_such_date"),
    ("00.01", "input.date.no_such_date"),
    ("31.04", "input.date.no_such_date"),
    ("30.02", "input.date.no_such_date"),
    ("2025-13-01", "input.date.no_such_date"),
    ("2025-00-10", "input.date.no_such_date"),
    ("09.06.2025", "input.date.past"),
    ("2024-12-31", "input.date.past"),
    ("01.01.24", "input.date.past"),
    ("12.06.2026", "input.date.too_far"),  # 367 days ahead
    ("01.01.99", "input.date.too_far"),
    ("29.02", "input.date.too_far"),  # next one is 29.02.2028
    ("yesterday", "input.date.bad_format"),
    ("вчера", "input.date.bad_format"),
    ("25.12.202", "input.date.bad_format"),
    ("25.12-2025", "input.date.bad_format"),
    ("2025", "input.date.bad_format"),
    ("12", "input.date.bad_format"),
    ("25 12", "input.date.bad_format"),
    ("٢٥.١٢", "input.date.bad_format"),  # Arabic-Indic digits
    ("２５.１２", "input.date.bad_format"),  # full-width digits
    ("<b>25.12</b>", "input.date.bad_format"),
    ("25.12\u200b", "input.invisible_char"),
]

REASON_OK = [
    ("user", USER),
    ("USER", USER),
    ("buyer", USER),
    ("Customer", USER),
    ("client", USER),
    ("клиент", USER),
    ("Покупатель", USER),
    ("USER_MOVED_DELIVERY_DATES", USER),
    ("partner", PARTNER),
    ("Partner", PARTNER),
    ("shop", PARTNER),
    ("seller", PARTNER),
    ("store", PARTNER),
    ("магазин", PARTNER),
    ("Продавец", PARTNER),
    ("partner_moved_delivery_dates", PARTNER),
]
REASON_BAD = [
    ("", "input.missing.reason"),
    ("courier", "input.reason.unknown"),
    ("users", "input.reason.unknown"),
    ("<i>user</i>", "input.reason.unknown"),
    ("us\u200ber", "input.invisible_char"),
]

TRACK_OK = [
    (["123", "RR456", "51"], TrackArgs(123, "RR456", 51, None)),
    (["123", "RR456", "cdek"], TrackArgs(123, "RR456", None, "cdek")),
    (["123", "*RR*", "Почта"], TrackArgs(123, "*RR*", None, "Почта")),
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
]

MOVE_OK = [
    (["123", "25.12", "buyer"], MoveArgs(123, date(2025, 12, 25), USER)),
    (["123", "2025-12-25", "partner"], MoveArgs(123, date(2025, 12, 25), PARTNER)),
    (["123", "завтра", "магазин"], MoveArgs(123, date(2025, 6, 11), PARTNER)),
    (["123", "today"], MoveArgs(123, TODAY, None)),
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
]


def _ok(value: object) -> object:
    assert not isinstance(value, InputError), value
    return value


def _err(value: object) -> InputError:
    assert isinstance(value, InputError), value
    return value


@pytest.mark.parametrize(("text", "expected"), ORDER_ID_OK)
def test_order_id_ok(text: str, expected: int) -> None:
    assert parse_order_id(text) == expected


@pytest.mark.parametrize(("text", "key"), ORDER_ID_BAD)
def test_order_id_refused(text: str, key: str) -> None:
    assert _err(parse_order_id(text)).key == key


@pytest.mark.parametrize(("text", "expected"), TRACK_CODE_OK)
def test_track_code_ok(text: str, expected: str) -> None:
    assert parse_track_code(text) == expected


@pytest.mark.parametrize(("text", "key"), TRACK_CODE_BAD)
def test_track_code_refused(text: str, key: str) -> None:
    assert _err(parse_track_code(text)).key == key


@pytest.mark.parametrize(("text", "expected"), SERVICE_OK)
def test_service_ok(text: str, expected: int | str) -> None:
    result = parse_service(text)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(("text", "key"), SERVICE_BAD)
def test_service_refused(text: str, key: str) -> None:
    assert _err(parse_service(text)).key == key


@pytest.mark.parametrize(("text", "expected"), DATE_OK)
def test_date_ok(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize(("text", "key"), DATE_BAD)
def test_date_refused(text: str, key: str) -> None:
    assert _err(parse_date(text, TODAY)).key == key


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("29.02", date(2027, 6, 10), date(2028, 2, 29)),
        ("29.02", date(2028, 2, 29), date(2028, 2, 29)),
        ("29.02", date(2028, 1, 5), date(2028, 2, 29)),
        ("01.01", date(2025, 12, 31), date(2026, 1, 1)),
        ("31.12", date(2025, 12, 31), date(2025, 12, 31)),
        ("tomorrow", date(2025, 12, 31), date(2026, 1, 1)),
        ("29.02.2028", date(2027, 6, 10), date(2028, 2, 29)),
    ],
)
def test_date_relative_to_today(text: str, today: date, expected: date) -> None:
    assert parse_date(text, today) == expected


def test_date_errors_name_the_resolved_date() -> None:
    past = _err(parse_date("01.01.2025", TODAY))
    assert past.params == {"value": "01.01.2025", "date": "01.01.2025"}
    leap = _err(parse_date("29.02", TODAY))
    assert leap.params["date"] == "29.02.2028"


@pytest.mark.parametrize(("text", "expected"), REASON_OK)
def test_reason_ok(text: str, expected: str) -> None:
    assert parse_reason(text) == expected


@pytest.mark.parametrize(("text", "key"), REASON_BAD)
def test_reason_refused(text: str, key: str) -> None:
    assert _err(parse_reason(text)).key == key


def test_unknown_reason_lists_every_accepted_word() -> None:
    error = _err(parse_reason("courier"))
    for word in ("user", "buyer", "customer", "client", "клиент", "покупатель"):
        assert word in error.params["user_words"]
        assert parse_reason(word) == USER
    for word in ("partner", "shop", "seller", "store", "магазин", "продавец"):
        assert word in error.params["partner_words"]
        assert parse_reason(word) == PARTNER


@pytest.mark.parametrize(("args", "expected"), TRACK_OK)
def test_track_ok(args: list[str], expected: TrackArgs) -> None:
    result = _ok(parse_track(args))
    assert result == expected
    assert isinstance(result, TrackArgs)
    assert (result.service_id is None) != (result.service_query is None)


@pytest.mark.parametrize(("args", "key"), TRACK_BAD)
def test_track_refused(args: list[str], key: str) -> None:
    assert _err(parse_track(args)).key == key


@pytest.mark.parametrize(("args", "expected"), MOVE_OK)
def test_move_ok(args: list[str], expected: MoveArgs) -> None:
    assert parse_move(args, TODAY) == expected


@pytest.mark.parametrize(("args", "key"), MOVE_BAD)
def test_move_refused(args: list[str], key: str) -> None:
    assert _err(parse_move(args, TODAY)).key == key


def test_extra_arguments_are_named() -> None:
    error = _err(parse_move(["123", "25.12", "user", "asked", "me"], TODAY))
    assert error.params == {"extra": "asked me"}
    one_word = _err(parse_track(["1", "RR", "Почта", "России"]))
    assert one_word.params == {"value": "Почта России"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("a\x00b", "ab"),
        ("a\u200bb\u202ec", "abc"),
        ("a \n\t b", "a b"),
        ("a\u00a0\u00a0b", "a b"),
        ("  x  ", "x"),
        ("<b>1</b>", "<b>1</b>"),
        ("x" * 40, "x" * 40),
        ("x" * 41, "x" * 39 + "…"),
    ],
)
def test_sanitize(value: str, expected: str) -> None:
    assert sanitize(value) == expected


def test_sanitize_respects_limit() -> None:
    assert sanitize("abcdefgh", limit=5) == "abcd…"
    assert len(sanitize("y" * 500)) == 40


def test_echoed_values_carry_no_control_characters() -> None:
    error = _err(parse_order_id("1\u202e2\x1b[0m"))
    for value in error.params.values():
        assert value.isprintable()
    assert error.params["char"] == "U+202E"
    long_code = _err(parse_track_code("Z" * 100))
    assert len(long_code.params["value"]) == 40
    assert long_code.params["length"] == "100"


BOT = "MarketDbsBot"

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
    (
        "/track\n/move 1 25.12",
        [BatchLine(1, "track", ()), BatchLine(2, "move", ("1", "25.12"))],
    ),
    (
        "\n\n  /track  \r\n\r\n 1 RR1 51 \n\n",
        [BatchLine(5, "track", ("1", "RR1", "51"))],
    ),
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
    assert split_commands(text, BOT) == expected


@pytest.mark.parametrize(("text", "key"), SPLIT_BAD)
def test_split_commands_refused(text: str, key: str) -> None:
    assert _err(split_commands(text, BOT)).key == key


def test_split_names_the_line() -> None:
    error = _err(split_commands("/track 1 RR1 51\n\n/stop@OtherBot", BOT))
    assert error.params == {"line": "3", "name": "OtherBot"}
    unknown = _err(split_commands("/track\n1 RR1 51\n/help", BOT))
    assert unknown.params == {"line": "3", "command": "/help"}


def test_split_without_bot_username_accepts_any_mention() -> None:
    assert split_commands("/track@AnyBot 1 RR1 51", None) == [
        BatchLine(1, "track", ("1", "RR1", "51"))
    ]
    assert split_commands("/track@MarketDbsBot 1 RR1 51", "@MarketDbsBot") == [
        BatchLine(1, "track", ("1", "RR1", "51"))
    ]


def test_split_fifty_lines_ok_fifty_one_refused() -> None:
    fifty = "/track\n" + "\n".join(f"{i} RR{i} 51" for i in range(1, MAX_BATCH_LINES + 1))
    lines = _ok(split_commands(fifty, BOT))
    assert isinstance(lines, list)
    assert len(lines) == MAX_BATCH_LINES
    assert lines[-1] == BatchLine(51, "track", ("50", "RR50", "51"))
    fifty_one = fifty + "\n\n51 RR51 51"
    error = _err(split_commands(fifty_one, BOT))
    assert error.key == "input.batch.too_many"
    assert error.params == {"max": "50", "count": "51"}


SERVICES = [
    (51, "СДЭК"),
    (52, "СДЭК Экспресс"),
    (1, "Почта России"),
    (106, "Boxberry"),
    (7, "DPD"),
    (239, "Яндекс Доставка"),
    (240, "Яндекс.Маркет Курьер"),
    (300, "Деловые Линии"),
    (301, "Ёлка-Экспресс"),
]


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("СДЭК", [51]),  # exact wins over "СДЭК Экспресс"
        ("сдэк", [51]),
        ("cdek", [51]),  # transliteration, exact
        ("sdek", [51]),
        ("сдек", [51]),  # common misspelling
        ("экспресс", [52, 301]),  # ambiguous partial
        ("почта", [1]),
        ("pochta", [1]),
        ("russian post", [1]),
        ("Russian-Post", [1]),
        ("почтароссии", [1]),
        ("почта-россии", [1]),
        ("box", [106]),
        ("боксберри", [106]),
        ("dpd", [7]),
        ("дпд", [7]),
        ("yandex", [239, 240]),
        ("яндекс", [239, 240]),
        ("Яндекс.Доставка", [239]),
        ("маркет", [240]),
        ("деловые", [300]),
        ("елка", [301]),  # ё read as е
        ("fedex", []),
        ("", []),
        ("--", []),
    ],
)
def test_match_services(query: str, ids: list[int]) -> None:
    assert [choice.id for choice in match_services(query, SERVICES)] == ids


def test_match_services_returns_names() -> None:
    assert match_services("dpd", SERVICES) == [DeliveryServiceChoice(7, "DPD")]
    assert match_services("cdek", []) == []


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _all_errors() -> list[InputError]:
    """Every InputError the tables above produce, by running the parsers again."""
    results: list[object] = []
    results += [parse_order_id(text) for text, _ in ORDER_ID_BAD]
    results += [parse_track_code(text) for text, _ in TRACK_CODE_BAD]
    results += [parse_service(text) for text, _ in SERVICE_BAD]
    results += [parse_date(text, TODAY) for text, _ in DATE_BAD]
    results += [parse_reason(text) for text, _ in REASON_BAD]
    results += [parse_track(args) for args, _ in TRACK_BAD]
    results += [parse_move(args, TODAY) for args, _ in MOVE_BAD]
    results += [split_commands(text, BOT) for text, _ in SPLIT_BAD]
    results.append(split_commands("/track\n" + "1 R 5\n" * 51, BOT))
    return [result for result in results if isinstance(result, InputError)]


def test_texts_have_same_keys_and_placeholders() -> None:
    assert INPUT_EN.keys() == INPUT_RU.keys()
    for key, text in INPUT_EN.items():
        assert _placeholders(text) == _placeholders(INPUT_RU[key]), key
    for key in ("usage.track", "usage.move"):
        assert "/" + key.removeprefix("usage.") in INPUT_EN[key]
        assert "/" + key.removeprefix("usage.") in INPUT_RU[key]


def test_texts_cover_every_error_the_parsers_return() -> None:
    errors = _all_errors()
    produced = {error.key for error in errors}
    text_keys = {key for key in INPUT_EN if key.startswith("input.")}
    assert produced - text_keys == set()
    # Every error text is reachable from some input in the tables above.
    assert text_keys - produced == set()
    for error in errors:
        for texts in (INPUT_EN, INPUT_RU):
            assert _placeholders(texts[error.key]) <= error.params.keys(), error.key
            rendered = texts[error.key].format(**error.params)
            assert "{" not in rendered
            assert "\x00" not in rendered
            assert "\u200b" not in rendered
