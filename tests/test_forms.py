"""What couriers type on phones, as one table: order ids, track codes and dates in the forms
Russian and English keyboards produce, each accepted with its value or refused with its reason;
then the same forms through a /move line, and a Russian-keyboard track code reaching Market
through the running bot."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.market.writes import MovePayload, MoveReason
from handlers.lines import LineContext, parse_move, split_commands
from handlers.parsing import InputError, parse_date, parse_order_id, parse_track_code
from handlers.texts import LANGS, t
from tests.conftest import CAMPAIGN, COURIER, RunningBot

TODAY = date(2025, 6, 10)  # a Tuesday
USER: MoveReason = "USER_MOVED_DELIVERY_DATES"
PARTNER: MoveReason = "PARTNER_MOVED_DELIVERY_DATES"


def _date(text: str) -> date | InputError:
    return parse_date(text, TODAY)


PARSERS: dict[str, Callable[[str], object]] = {
    "order": parse_order_id,
    "track": parse_track_code,
    "date": _date,
}

ACCEPTED: list[tuple[str, str, object]] = [
    # Order ids as phones write them.
    ("order", "124", 124),
    ("order", "#124", 124),
    ("order", "№124", 124),
    ("order", "124,", 124),
    ("order", "124.", 124),
    ("order", "124;", 124),
    ("order", "#124,", 124),
    # Track codes: Russian-keyboard look-alikes become Latin, letters upper case.
    ("track", "RA123456789RU", "RA123456789RU"),
    ("track", "ra123456789ru", "RA123456789RU"),
    ("track", "RА123456789RU", "RA123456789RU"),  # Cyrillic А
    ("track", "РА123456789RU", "PA123456789RU"),  # Cyrillic Р is a Latin P
    ("track", "ЕМ12345678НК", "EM12345678HK"),
    ("track", "ТОС-1234", "TOC-1234"),
    ("track", "RA 1234-5678 RU", "RA12345678RU"),  # a quoted code
    ("track", "1234", "1234"),
    # Dates: numbers.
    ("date", "25.12", date(2025, 12, 25)),
    ("date", "25,12", date(2025, 12, 25)),
    ("date", "25,12,2025", date(2025, 12, 25)),
    ("date", "25.12,", date(2025, 12, 25)),
    ("date", "2025-12-25", date(2025, 12, 25)),
    # Month names, both languages, full and short, either order, with a year.
    ("date", "25 декабря", date(2025, 12, 25)),
    ("date", "25 Декабря", date(2025, 12, 25)),
    ("date", "25 дек", date(2025, 12, 25)),
    ("date", "25 дек.", date(2025, 12, 25)),
    ("date", "25 декабрь", date(2025, 12, 25)),
    ("date", "25 dec", date(2025, 12, 25)),
    ("date", "25 December", date(2025, 12, 25)),
    ("date", "Dec 25", date(2025, 12, 25)),
    ("date", "December 25, 2025", date(2025, 12, 25)),
    ("date", "25 декабря 2025", date(2025, 12, 25)),
    ("date", "25 декабря 2025г.", date(2025, 12, 25)),
    ("date", "1 мая", date(2026, 5, 1)),  # the next 1 May
    ("date", "10 июня", TODAY),
    ("date", "1 sept", date(2025, 9, 1)),
    ("date", "5 февр", date(2026, 2, 5)),
    # Weekdays: the next one, never today (a Tuesday).
    ("date", "пн", date(2025, 6, 16)),
    ("date", "понедельник", date(2025, 6, 16)),
    ("date", "Monday", date(2025, 6, 16)),
    ("date", "mon", date(2025, 6, 16)),
    ("date", "вт", date(2025, 6, 17)),
    ("date", "tuesday", date(2025, 6, 17)),
    ("date", "ср", date(2025, 6, 11)),
    ("date", "в среду", date(2025, 6, 11)),
    ("date", "во вторник", date(2025, 6, 17)),
    ("date", "пятницу", date(2025, 6, 13)),
    ("date", "on fri", date(2025, 6, 13)),
    ("date", "next sunday", date(2025, 6, 15)),
    ("date", "вс", date(2025, 6, 15)),
    ("date", "сб.", date(2025, 6, 14)),
    # Days from today.
    ("date", "+3", date(2025, 6, 13)),
    ("date", "+0", TODAY),
    ("date", "+3 дня", date(2025, 6, 13)),
    ("date", "через 3 дня", date(2025, 6, 13)),
    ("date", "через 5 дней", date(2025, 6, 15)),
    ("date", "через 1 день", date(2025, 6, 11)),
    ("date", "через день", date(2025, 6, 11)),
    ("date", "Через неделю", date(2025, 6, 17)),
    ("date", "через 2 недели", date(2025, 6, 24)),
    ("date", "in 3 days", date(2025, 6, 13)),
    ("date", "in a day", date(2025, 6, 11)),
    ("date", "in a week", date(2025, 6, 17)),
    ("date", "in 1 day", date(2025, 6, 11)),
    ("date", "+366", date(2026, 6, 11)),
    ("date", "послезавтра", date(2025, 6, 12)),
]

REFUSED: list[tuple[str, str, str]] = [
    ("order", "#", "input.order_id.not_number"),
    ("order", "№", "input.order_id.not_number"),
    ("order", "124#", "input.order_id.not_number"),
    ("order", "#0", "input.order_id.not_positive"),
    ("order", "12,4", "input.order_id.not_number"),
    ("order", "#١٢٤", "input.order_id.non_ascii_digits"),
    ("track", "RR", "input.track_code.too_short"),
    ("track", "РР", "input.track_code.too_short"),
    ("track", "RR4", "input.track_code.too_short"),
    ("track", "R" * 65, "input.track_code.too_long"),
    ("track", "ЖД123456", "input.track_code.cyrillic"),
    ("track", "ЁЁ123456", "input.track_code.cyrillic"),
    ("track", "RR_4567", "input.track_code.bad_char"),
    ("track", "RR.4567", "input.track_code.bad_char"),
    ("track", "RR4567,", "input.track_code.bad_char"),
    ("track", "#RR4567", "input.track_code.bad_char"),
    ("date", "25 декабр", "input.date.bad_format"),
    ("date", "25 foo", "input.date.bad_format"),
    ("date", "32 декабря", "input.date.no_such_date"),
    ("date", "31 апреля", "input.date.no_such_date"),
    ("date", "29 февраля", "input.date.too_far"),  # the next one is in 2028
    ("date", "25 декабря 2024", "input.date.past"),
    ("date", "25 декабря 2026", "input.date.too_far"),
    ("date", "+367", "input.date.too_far"),
    ("date", "+99999", "input.date.bad_format"),
    ("date", "+", "input.date.bad_format"),
    ("date", "-3", "input.date.bad_format"),
    ("date", "через", "input.date.bad_format"),
    ("date", "через 3", "input.date.bad_format"),
    ("date", "через три дня", "input.date.bad_format"),
    ("date", "in 3", "input.date.bad_format"),
    ("date", "через 60 недель", "input.date.too_far"),
    ("date", "понедельник 25", "input.date.bad_format"),
    ("date", "вчера", "input.date.bad_format"),
    ("date", "25.12.2024", "input.date.past"),
    ("date", "25 12", "input.date.bad_format"),
]


def test_the_table_is_large() -> None:
    assert len(ACCEPTED) + len(REFUSED) >= 60


@pytest.mark.parametrize(("kind", "text", "value"), ACCEPTED)
def test_accepted(kind: str, text: str, value: object) -> None:
    assert PARSERS[kind](text) == value


@pytest.mark.parametrize(("kind", "text", "key"), REFUSED)
def test_refused_with_the_reason(kind: str, text: str, key: str) -> None:
    error = PARSERS[kind](text)
    assert isinstance(error, InputError), error
    assert error.key == key
    for lang in LANGS:
        words = t(lang, key, **error.params)
        assert "{" not in words
        assert len(words) < 300


@pytest.mark.parametrize("text", ["сб", "суббота", "sat", "saturday"])
def test_a_weekday_is_never_today(text: str) -> None:
    saturday = date(2025, 6, 14)
    assert parse_date(text, saturday) == date(2025, 6, 21)
    assert parse_date(text, date(2025, 6, 13)) == saturday


def test_a_track_code_refusal_says_the_right_form() -> None:
    error = parse_track_code("ЖД123456")
    assert isinstance(error, InputError)
    assert error.params["letters"] == "Ж, Д"
    english = t("en", error.key, **error.params)
    assert "Ж, Д" in english and "A–Z" in english and "RA123456789RU" in english
    short = parse_track_code("RR")
    assert isinstance(short, InputError)
    assert "at least 4" in t("en", short.key, **short.params)


# --- the same forms in a /move line ------------------------------------------------------------

CTX = LineContext(TODAY)

MOVE_LINES = [
    ("/move 124 25 декабря user", date(2025, 12, 25), USER),
    ("/move #124 через 3 дня partner", date(2025, 6, 13), PARTNER),
    ("/move 124, через день магазин", date(2025, 6, 11), PARTNER),
    ("/move №124 пн покупатель", date(2025, 6, 16), USER),
    ("/move 124 25 dec buyer", date(2025, 12, 25), USER),
    ("/move 124 in a week shop", date(2025, 6, 17), PARTNER),
    ('/move 124 "25 декабря" user', date(2025, 12, 25), USER),
    ("/move 124 25,12 user", date(2025, 12, 25), USER),
    ("/move 124 +3 user", date(2025, 6, 13), USER),
]


@pytest.mark.parametrize(("text", "day", "reason"), MOVE_LINES)
def test_move_lines_in_phone_forms(text: str, day: date, reason: MoveReason) -> None:
    lines = split_commands(text, None, ("track", "move"))
    assert isinstance(lines, list) and len(lines) == 1
    assert parse_move(lines[0].args, CTX) == MovePayload(order_id=124, to_date=day, reason=reason)


# --- end to end: what reaches Market -----------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("РА457RU", "PA457RU"),  # all Cyrillic look-alikes
        ("ra457ru", "RA457RU"),
        ('"RA 1234-5678 RU"', "RA12345678RU"),
    ],
)
async def test_track_code_reaches_market_as_latin_capitals(
    bot: RunningBot, typed: str, sent: str
) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, f"/track 101 {typed} 51")
    answer = str((await bot.final(COURIER, mark)).params.get("text", ""))
    assert answer.startswith("✅"), answer
    assert sent in answer
    write = bot.market.requests_for("setOrderDeliveryTrackCode")[-1]
    assert write.body == {"trackCode": sent, "deliveryServiceId": 51}
    assert bot.market.order(CAMPAIGN, 101).track_codes == [(sent, 51)]


async def test_a_two_letter_code_never_reaches_market(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 101 RR 51")
    answer = str((await bot.reply(COURIER, mark)).params.get("text", ""))
    assert "too short" in answer and "at least 4" in answer
    assert len(answer) <= 600
    assert bot.market.requests_for("setOrderDeliveryTrackCode") == []


@pytest.mark.parametrize("typed", ["через 3 дня", "+3", "в {weekday}"])
async def test_a_date_of_several_words_reaches_market(bot: RunningBot, typed: str) -> None:
    today = datetime.now(ZoneInfo(bot.settings.bot_timezone)).date()
    target = today + timedelta(days=3)
    weekday = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")[target.weekday()]
    mark = bot.mark()
    bot.telegram.send_private(COURIER, f"/move №103, {typed.format(weekday=weekday)} покупатель")
    answer = str((await bot.final(COURIER, mark)).params.get("text", ""))
    assert answer.startswith("✅"), answer
    body = bot.market.requests_for("setOrderDeliveryDate")[-1].body
    assert body == {"dates": {"toDate": target.isoformat()}, "reason": "USER_MOVED_DELIVERY_DATES"}
