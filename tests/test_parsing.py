"""Tables for the value parsers people type into /track and /move: order ids, track codes,
delivery services, dates and reasons; plus sanitizing and the delivery-service matcher.

The command lines built from these values are tested in ``test_lines.py``.
"""

from __future__ import annotations

from datetime import date

import pytest

from bot.market.writes import INT64_MAX, MoveReason
from handlers.parsing import (
    PARTNER_REASON_WORDS,
    USER_REASON_WORDS,
    DeliveryServiceChoice,
    InputError,
    match_services,
    parse_date,
    parse_order_id,
    parse_reason,
    parse_service,
    parse_track_code,
    sanitize,
)
from handlers.texts import LANGS, placeholders, t

TODAY = date(2025, 6, 10)
USER: MoveReason = "USER_MOVED_DELIVERY_DATES"
PARTNER: MoveReason = "PARTNER_MOVED_DELIVERY_DATES"

ORDER_ID_OK = [
    ("1", 1),
    ("123456789", 123456789),
    ("007", 7),
    ("9223372036854775807", INT64_MAX),
    (" 42 ", 42),
    ("#123", 123),
    ("№123", 123),
    ("123,", 123),
    ("#0123;", 123),
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
    ("#", "input.order_id.not_number"),
    ("##123", "input.order_id.not_number"),
    ("#-5", "input.order_id.not_positive"),
    (",", "input.order_id.not_number"),
    ("<b>1</b>", "input.order_id.not_number"),
    ("12\x003", "input.invisible_char"),
    ("\u200b123", "input.invisible_char"),
    ("123\u202e", "input.invisible_char"),
]

TRACK_CODE_OK = [
    ("RR456", "RR456"),
    ("rr123456785RU", "RR123456785RU"),
    ("РА457", "PA457"),  # Cyrillic Р and А from a Russian keyboard
    ("rа457", "RA457"),
    ("рр457", "PP457"),
    ("АВЕКМНОРСТУХ", "ABEKMHOPCTYX"),
    ("авекмнорстух", "ABEKMHOPCTYX"),
    ("RA-1234-RU", "RA-1234-RU"),
    ("RR45", "RR45"),
    ("X" * 64, "X" * 64),
    # Spaces come only from a quoted code: they and the dashes group digits on labels.
    ("RA 1234-5678 RU", "RA12345678RU"),
    ("RR\u00a0456", "RR456"),
    ("RR\t456", "RR456"),
    ("RR\u2028456", "RR456"),
]
TRACK_CODE_BAD = [
    ("", "input.missing.track_code"),
    ("X" * 65, "input.track_code.too_long"),
    ("RR", "input.track_code.too_short"),
    ("A", "input.track_code.too_short"),
    ("R-1", "input.track_code.too_short"),
    ("1 - 2", "input.track_code.too_short"),
    ("*RR*", "input.track_code.bad_char"),
    ("<b>1</b>", "input.track_code.bad_char"),
    ("RR_456", "input.track_code.bad_char"),
    ("RR456ü", "input.track_code.bad_char"),
    ("ＲＲ456", "input.track_code.bad_char"),  # full-width
    ("СДЭК-1", "input.track_code.cyrillic"),
    ("ЁЛКА12", "input.track_code.cyrillic"),
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
    ("25,12", date(2025, 12, 25)),
    ("25 декабря", date(2025, 12, 25)),
    ("пн", date(2025, 6, 16)),
    ("+3", date(2025, 6, 13)),
    ("через 3 дня", date(2025, 6, 13)),
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
    ("25 декабря 2024", "input.date.past"),
    ("30 февраля", "input.date.no_such_date"),
    ("+367", "input.date.too_far"),
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
    user_words = ("user", "buyer", "customer", "client", "клиент", "покупатель")
    partner_words = ("partner", "shop", "seller", "store", "магазин", "продавец")
    assert (user_words, partner_words) == (USER_REASON_WORDS, PARTNER_REASON_WORDS)
    assert error.params["user_words"] == ", ".join(user_words)
    assert error.params["partner_words"] == ", ".join(partner_words)
    assert all(parse_reason(word) == USER for word in user_words)
    assert all(parse_reason(word) == PARTNER for word in partner_words)


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


def test_track_code_errors_name_what_is_wrong() -> None:
    assert _err(parse_track_code("СДЭК-Ж1")).params == {"value": "СДЭК-Ж1", "letters": "Д, Э, Ж"}
    assert _err(parse_track_code("RR/456")).params == {"value": "RR/456", "char": "/"}
    assert _err(parse_track_code("рр")).params == {"value": "рр", "length": "2", "min": "4"}
    assert _err(parse_order_id("#abc")).params == {"value": "#abc"}


def test_echoed_values_carry_no_control_characters() -> None:
    error = _err(parse_order_id("1\u202e2\x1b[0m"))
    for value in error.params.values():
        assert value.isprintable()
    assert error.params["char"] == "U+202E"
    long_code = _err(parse_track_code("Z" * 100))
    assert len(long_code.params["value"]) == 40
    assert long_code.params["length"] == "100"


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


def value_errors() -> list[InputError]:
    """Every InputError the value tables above produce, by running the parsers again."""
    results: list[object] = []
    results += [parse_order_id(text) for text, _ in ORDER_ID_BAD]
    results += [parse_track_code(text) for text, _ in TRACK_CODE_BAD]
    results += [parse_service(text) for text, _ in SERVICE_BAD]
    results += [parse_date(text, TODAY) for text, _ in DATE_BAD]
    results += [parse_reason(text) for text, _ in REASON_BAD]
    return [result for result in results if isinstance(result, InputError)]


def test_every_value_error_has_a_text_that_takes_its_values() -> None:
    errors = value_errors()
    tables = (ORDER_ID_BAD, TRACK_CODE_BAD, SERVICE_BAD, DATE_BAD, REASON_BAD)
    assert len(errors) == sum(len(table) for table in tables)
    for error in errors:
        for lang in LANGS:
            rendered = t(lang, error.key, **error.params)
            assert placeholders(t(lang, error.key)) <= error.params.keys(), error.key
            assert "{" not in rendered
            assert "\x00" not in rendered
            assert "\u200b" not in rendered
