"""The calendar button family (handlers.datepicker): its callback data, the month grid, and the
/move lines that lead to it (handlers.lines)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from telegram import InlineKeyboardMarkup

from handlers import datepicker
from handlers.datepicker import Press, parse_data
from handlers.lines import PICK_DATE, LineContext, Question, parse_move
from handlers.parsing import MAX_DAYS_AHEAD, InputError
from handlers.texts import t

TODAY = date(2025, 6, 10)  # a Tuesday
QID = 42


def cells(markup: InlineKeyboardMarkup) -> list[list[tuple[str, str]]]:
    return [[(b.text, str(b.callback_data)) for b in row] for row in markup.inline_keyboard]


def days_offered(markup: InlineKeyboardMarkup) -> list[date]:
    found = [parse_data(data) for row in cells(markup) for _, data in row]
    return [press.day for press in found if press is not None and press.day is not None]


# --- callback data ------------------------------------------------------------------------------


def test_data_round_trips() -> None:
    assert parse_data(datepicker.month_data(QID, date(2025, 7, 1))) == Press(
        QID, month=date(2025, 7, 1)
    )
    assert parse_data(datepicker.day_data(QID, date(2025, 7, 9))) == Press(
        QID, day=date(2025, 7, 9)
    )
    assert parse_data(datepicker.blank_data(QID)) == Press(QID)
    big = 2**63 - 1
    assert parse_data(datepicker.day_data(big, TODAY)) == Press(big, day=TODAY)
    assert datepicker.day_data(QID, date(2025, 7, 9)) == "dp:42:20250709"


@pytest.mark.parametrize(
    "data",
    [
        "dp:0:202507",  # no question 0
        f"dp:{2**63}:202507",  # beyond int64
        f"dp:{10**19 + 5}:202507",
        "dp:-1:202507",
        "dp:42:202513",  # no 13th month
        "dp:42:202500",
        "dp:42:20250230",  # no 30 February
        "dp:42:00000101",  # no year 0
        "dp:42:2025071",
        "dp:42:20250709:1",
        "dp:42:x",
        "dp:abc:202507",
        "q:42:0",
        "dp:42:２０２５０７",  # full-width digits
        "",
    ],
)
def test_forged_data_is_refused(data: str) -> None:
    assert parse_data(data) is None


# --- the month grid -----------------------------------------------------------------------------


def test_this_month_offers_today_on_and_no_past_weeks() -> None:
    markup = datepicker.keyboard(QID, TODAY, TODAY, "en")
    rows = cells(markup)
    arrow_back, title, arrow_next = rows[0]
    assert arrow_back[1] == datepicker.blank_data(QID)  # no going back before this month
    assert title[0] == "June 2025"
    assert arrow_next == ("›", "dp:42:202507")
    assert [text for text, _ in rows[1]] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    offered = days_offered(markup)
    assert offered[0] == TODAY and offered[-1] == date(2025, 6, 30)
    assert len(offered) == 21
    # The first week shown is today's; the Monday before today is an empty cell.
    assert rows[2][0] == (" ", datepicker.blank_data(QID))
    assert rows[2][1] == ("10", "dp:42:20250610")
    assert all(len(row) == 7 for row in rows[1:])


def test_a_later_month_in_russian_has_both_arrows_and_every_day() -> None:
    markup = datepicker.keyboard(QID, date(2025, 9, 17), TODAY, "ru")
    rows = cells(markup)
    assert rows[0][0] == ("‹", "dp:42:202508") and rows[0][2] == ("›", "dp:42:202510")
    assert rows[0][1][0] == "Сентябрь 2025"
    assert rows[1][0][0] == t("ru", "weekday.0")
    assert days_offered(markup) == [date(2025, 9, 1) + timedelta(days=n) for n in range(30)]


def test_the_last_month_stops_at_the_last_day() -> None:
    last = datepicker.last_day(TODAY)
    assert last == TODAY + timedelta(days=MAX_DAYS_AHEAD) == date(2026, 6, 11)
    markup = datepicker.keyboard(QID, last, TODAY, "en")
    rows = cells(markup)
    assert rows[0][2][1] == datepicker.blank_data(QID)  # nothing after
    assert days_offered(markup)[-1] == last
    assert datepicker.offered(date(2026, 6, 1), TODAY)
    assert not datepicker.offered(date(2026, 7, 1), TODAY)
    assert not datepicker.offered(date(2025, 5, 1), TODAY)


def test_every_month_in_reach_fits_telegrams_limits() -> None:
    month = TODAY.replace(day=1)
    seen: list[date] = []
    while datepicker.offered(month, TODAY):
        markup = datepicker.keyboard(QID, month, TODAY, "ru")
        buttons = [data for row in cells(markup) for _, data in row]
        assert len(buttons) <= 100
        assert all(len(data.encode()) <= 64 for data in buttons)
        seen += days_offered(markup)
        month = (month + timedelta(days=32)).replace(day=1)
    assert seen == [TODAY + timedelta(days=n) for n in range(MAX_DAYS_AHEAD + 1)]


def test_fill_puts_the_iso_date_in_the_slot_once() -> None:
    template = "/move 124 " + datepicker.SLOT + " user"
    assert datepicker.fill(template, date(2025, 12, 28)) == "/move 124 2025-12-28 user"


# --- what opens the calendar --------------------------------------------------------------------

CTX = LineContext(TODAY)


def test_a_missing_date_offers_the_next_days_and_another_date() -> None:
    question = parse_move(["124"], CTX)
    assert isinstance(question, Question) and not question.pick
    assert question.text == InputError("ask.date", {"order_id": 124})
    assert [option.args for option in question.options] == [
        ("124", "2025-06-10"),
        ("124", "2025-06-11"),
        ("124", "2025-06-12"),
        ("124", "2025-06-13"),
        ("124", PICK_DATE),
    ]
    labels = [t("ru", o.label.key, **o.label.params) for o in question.options]
    assert labels == [
        "Сегодня, 10.06",
        "Завтра, 11.06",
        "Послезавтра, 12.06",
        "Через 3 дня, 13.06",
        "Другая дата…",
    ]
    assert question.unasked.key == "input.missing.date"
    # The "other date" button runs the command again with "?", which asks with a calendar.
    picked = parse_move(question.options[-1].args, CTX)
    assert isinstance(picked, Question)
    assert picked.pick == ("124", None) and picked.options == ()
    assert picked.text == InputError("ask.date_pick", {"order_id": 124})


def test_a_calendar_keeps_the_reason_typed_after_the_question_mark() -> None:
    picked = parse_move(["124", "?", "user"], CTX)
    assert isinstance(picked, Question) and picked.pick == ("124", None, "user")
    too_many = parse_move(["124", "?", "user", "now"], CTX)
    assert isinstance(too_many, InputError) and too_many.key == "input.too_many_args"


def test_an_unclear_reason_asks_with_the_two_reasons() -> None:
    question = parse_move(["124", "25.12", "usr"], CTX)
    assert isinstance(question, Question)
    assert question.text.key == "ask.reason_unclear"
    assert [o.args[-1] for o in question.options] == ["user", "partner"]
    assert question.options[0].args == ("124", "2025-12-25", "user")
    assert question.unasked.key == "input.reason.unknown"
    text = t("en", question.text.key, **question.text.params)
    assert "“usr”" in text and "124" in text and "25.12.2025" in text
