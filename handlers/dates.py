"""Dates as people type them on a phone, in Russian or English: the forms and their words.

:func:`read_date` is pure: it takes the words of a date (casefolded, ё read as е, trailing
punctuation gone) and today's date in the bot's timezone, and says which day they mean,
whether that day does not exist, or that the words are not a date at all. Checking the day
against today (past, too far) and the words of errors are ``handlers.parsing.parse_date``'s.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

NO_SUCH_DATE = "input.date.no_such_date"
# What a reader found: a date, the text key of what is wrong with it, or None (not its form).
Read = date | str | None

_RELATIVE_DAYS = {"today": 0, "сегодня": 0, "tomorrow": 1, "завтра": 1, "послезавтра": 2}
# "+3 дня", "через 3 дня", "in 2 weeks": the days in one unit; a count of "a"/"one" is 1.
_UNIT_DAYS = {
    **dict.fromkeys(("d", "д", "day", "days", "день", "дня", "дней"), 1),
    **dict.fromkeys(("week", "weeks", "неделя", "неделю", "недели", "недель"), 7),
}
_IN = ("через", "in")
_ONE = ("a", "an", "one", "один", "одну")
_PLUS_DAYS = re.compile(r"\+([0-9]{1,4})")
_COUNT = re.compile(r"[0-9]{1,4}")
# Weekdays, Monday first: "пн" is the next Monday, never today. "в пн", "on mon" also do.
_WEEKDAY_NAMES = (
    "mon monday пн пон понедельник",
    "tue tues tuesday вт вторник",
    "wed wednesday ср среда среду",
    "thu thur thurs thursday чт четверг",
    "fri friday пт пятница пятницу",
    "sat saturday сб суббота субботу",
    "sun sunday вс воскресенье",
)
_WEEKDAYS = {word: n for n, words in enumerate(_WEEKDAY_NAMES) for word in words.split()}
_ON = ("в", "во", "on", "next")
_MONTH_NAMES = (
    "jan january янв январь января",
    "feb february фев февр февраль февраля",
    "mar march мар март марта",
    "apr april апр апрель апреля",
    "may май мая",
    "jun june июн июнь июня",
    "jul july июл июль июля",
    "aug august авг август августа",
    "sep sept september сен сент сентябрь сентября",
    "oct october окт октябрь октября",
    "nov november ноя нояб ноябрь ноября",
    "dec december дек декабрь декабря",
)
_MONTHS = {word: n for n, words in enumerate(_MONTH_NAMES, 1) for word in words.split()}
# Explicit [0-9]: in a str pattern \d also matches Arabic-Indic and full-width digits.
_YMD = re.compile(r"([0-9]{4})([./-])([0-9]{1,2})\2([0-9]{1,2})")
_DMY = re.compile(r"([0-9]{1,2})([./,-])([0-9]{1,2})(?:\2([0-9]{4}|[0-9]{2}))?")
_DAY = re.compile(r"[0-9]{1,2}")
_YEAR = re.compile(r"[0-9]{4}|[0-9]{2}")
# A leap year, to tell "no such day" (31.02) from "only in leap years" (29.02).
_LEAP_YEAR = 2000


def _next_occurrence(day: int, month: int, today: date) -> date | str:
    """The first day/month on or after ``today``; "no such date" if it never exists."""
    try:
        date(_LEAP_YEAR, month, day)
    except ValueError:
        return NO_SUCH_DATE
    # Leap years are at most 8 years apart (1896 → 1904), so this always finds 29.02.
    for year in range(today.year, today.year + 9):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return NO_SUCH_DATE


def _make_date(year: str, month: int, day: int) -> date | str:
    try:
        return date(int(year) + (2000 if len(year) == 2 else 0), month, day)
    except ValueError:
        return NO_SUCH_DATE


def _read_relative(words: list[str], today: date) -> Read:
    """today, завтра, …; +3, +3 дня; через день, через 3 дня, in 2 weeks, in a week."""
    if len(words) == 1 and words[0] in _RELATIVE_DAYS:
        return today + timedelta(days=_RELATIVE_DAYS[words[0]])
    head, *tail = words
    if plus := _PLUS_DAYS.fullmatch(head):
        words = [plus[1], *(tail or ["d"])]
    elif head in _IN:
        words = tail if len(tail) == 2 else ["1", *tail]
    else:
        return None
    if len(words) != 2 or words[1] not in _UNIT_DAYS:
        return None
    count, unit = words
    if count not in _ONE and not _COUNT.fullmatch(count):
        return None
    return today + timedelta(days=(1 if count in _ONE else int(count)) * _UNIT_DAYS[unit])


def _read_weekday(words: list[str], today: date) -> Read:
    if len(words) == 2 and words[0] in _ON:
        words = words[1:]
    if len(words) != 1 or words[0] not in _WEEKDAYS:
        return None
    return today + timedelta(days=(_WEEKDAYS[words[0]] - today.weekday() - 1) % 7 + 1)


def _read_numbers(words: list[str], today: date) -> Read:
    """2025-12-25, 25.12.2025, 25.12.25, 25.12, 25,12, 25/12, 25-12-2025."""
    if len(words) != 1:
        return None
    if match := _YMD.fullmatch(words[0]):
        return _make_date(match[1], int(match[3]), int(match[4]))
    if match := _DMY.fullmatch(words[0]):
        day, month = int(match[1]), int(match[3])
        if match[4] is None:
            return _next_occurrence(day, month, today)
        return _make_date(match[4], month, day)
    return None


def _read_month_name(words: list[str], today: date) -> Read:
    """25 декабря, 25 dec, dec 25, 25 december 2025, 25 дек 2025г."""
    if len(words) not in (2, 3):
        return None
    day, month = words[0], words[1]
    if month not in _MONTHS:
        day, month = month, day
    if month not in _MONTHS or not _DAY.fullmatch(day):
        return None
    if len(words) == 2:
        return _next_occurrence(int(day), _MONTHS[month], today)
    year = words[2].removesuffix("г")
    if not _YEAR.fullmatch(year):
        return None
    return _make_date(year, _MONTHS[month], int(day))


def read_date(words: list[str], today: date) -> Read:
    """The day ``words`` (non-empty) mean, :data:`NO_SUCH_DATE` for a day that does not exist
    (31.02), or None when they are not a date in any known form."""
    for read in (_read_relative, _read_weekday, _read_numbers, _read_month_name):
        found = read(words, today)
        if found is not None:
            return found
    return None
