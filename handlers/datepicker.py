"""A calendar that completes a command with a date: the button family ``dp``.

``ask`` shows a month of days as buttons under a question; the day pressed completes a command
template (``SLOT`` marks where the date goes, written as ``2025-12-25``), which then runs
through the same wrapper as a typed command, access check included. What to complete is kept
as a pending question (``storage.pending``) with one choice, the template and its campaign, so
a press finds everything it needs in storage and nothing the user could forge. As with
``handlers.questions``: only the person who typed the command may press, and a day only once.

Callback data, built and parsed only here::

    dp:<question id>:<YYYYMM>    show that month (the ‹ › buttons edit the calendar in place)
    dp:<question id>:<YYYYMMDD>  pick that day
    dp:<question id>:-           an empty cell, a weekday or the month's name: does nothing

Only today … today + ``MAX_DAYS_AHEAD`` (the bot's timezone) are offered; past days and weeks
are not shown, and a day pressed after it has passed is refused.
"""

from __future__ import annotations

import calendar
import contextlib
import re
from dataclasses import dataclass
from datetime import date, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers import questions
from handlers.context import Request, person_language, services_of
from handlers.messaging import edit_text
from handlers.parsing import MAX_DAYS_AHEAD
from handlers.texts import Lang, t
from storage import pending
from storage.pending import Choice

PREFIX = "dp"
PATTERN = rf"^{PREFIX}:"
SLOT = "{date}"
_DATA = re.compile(rf"{PREFIX}:([0-9]{{1,19}}):([0-9]{{6}}|[0-9]{{8}}|-)")
_INT64_MAX = 2**63 - 1
_BLANK = " "


@dataclass(frozen=True)
class Press:
    """A parsed button: the question, and the month to show or the day picked (or neither:
    an empty cell)."""

    question_id: int
    month: date | None = None
    day: date | None = None


def month_data(question_id: int, month: date) -> str:
    return f"{PREFIX}:{question_id}:{month:%Y%m}"


def day_data(question_id: int, day: date) -> str:
    return f"{PREFIX}:{question_id}:{day:%Y%m%d}"


def blank_data(question_id: int) -> str:
    return f"{PREFIX}:{question_id}:-"


def parse_data(data: str) -> Press | None:
    """The press ``data`` stands for, or None when it is not ours or is forged (an id beyond
    int64, a month or day that does not exist)."""
    match = _DATA.fullmatch(data)
    if match is None or not 0 < int(match[1]) <= _INT64_MAX:
        return None
    question_id, value = int(match[1]), match[2]
    if value == "-":
        return Press(question_id)
    try:
        if len(value) == 6:
            return Press(question_id, month=date(int(value[:4]), int(value[4:]), 1))
        return Press(question_id, day=date(int(value[:4]), int(value[4:6]), int(value[6:])))
    except ValueError:
        return None


def last_day(today: date) -> date:
    """The latest day the calendar offers."""
    return today + timedelta(days=MAX_DAYS_AHEAD)


def offered(month: date, today: date) -> bool:
    """Whether the calendar may show ``month`` (the first of a month)."""
    return today.replace(day=1) <= month <= last_day(today).replace(day=1)


def _shift(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def keyboard(question_id: int, month: date, today: date, lang: Lang) -> InlineKeyboardMarkup:
    """The calendar of ``month``: ‹ month year ›, the weekdays, then the weeks holding a day
    that may be picked (today … ``last_day``); other days are empty cells."""
    blank = blank_data(question_id)
    month = month.replace(day=1)
    arrows = [
        InlineKeyboardButton(label, callback_data=month_data(question_id, target))
        if offered(target, today)
        else InlineKeyboardButton(_BLANK, callback_data=blank)
        for label, target in (("‹", _shift(month, -1)), ("›", _shift(month, 1)))
    ]
    title = f"{t(lang, f'dp.month.{month.month}')} {month.year}"
    rows = [[arrows[0], InlineKeyboardButton(title, callback_data=blank), arrows[1]]]
    rows.append(
        [InlineKeyboardButton(t(lang, f"weekday.{n}"), callback_data=blank) for n in range(7)]
    )
    end = last_day(today)
    for week in calendar.Calendar().monthdatescalendar(month.year, month.month):
        days = [d if d.month == month.month and today <= d <= end else None for d in week]
        if not any(days):
            continue
        rows.append(
            [
                InlineKeyboardButton(str(d.day), callback_data=day_data(question_id, d))
                if d
                else InlineKeyboardButton(_BLANK, callback_data=blank)
                for d in days
            ]
        )
    return InlineKeyboardMarkup(rows)


def fill(template: str, day: date) -> str:
    """The command ``template`` completes to with ``day``."""
    return template.replace(SLOT, day.isoformat(), 1)


async def ask(request: Request, text: str, template: str, campaign_id: int | None) -> bool:
    """Show ``text`` with a calendar; the day picked runs ``template`` (a command of
    ``request.command`` with ``SLOT`` where the date goes) on ``campaign_id``.

    False when nothing was asked
    (``questions.save``). Raises ValueError when ``template`` has no ``SLOT``.
    """
    if SLOT not in template:
        raise ValueError("a date picker needs a template with the date's slot")
    saved = await questions.save(request, [Choice(template, campaign_id=campaign_id)])
    if saved is None:
        return False
    today = request.services.today()
    markup = keyboard(saved.id, today, today, request.lang)
    asked_in = request.question_message_id
    # The question the button was under becomes the calendar; else (or if it is gone) a reply.
    if asked_in is not None and await edit_text(
        request.context.bot, request.chat_id, asked_in, text, markup=markup
    ):
        return True
    await request.reply(text, markup=markup)
    return True


async def on_press(
    update: Update, context: ContextTypes.DEFAULT_TYPE, rerun: questions.Rerun
) -> None:
    """A calendar button: show another month, complete the command with a day, or nothing."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    services = services_of(context)
    user = query.from_user
    lang = person_language(services, user)
    press = parse_data(query.data or "")
    if press is not None and press.month is None and press.day is None:
        await query.answer()  # an empty cell
        return
    row = pending.get_pending(services.db, press.question_id) if press else None
    choice = row.choice(0) if row else None
    if press is None or row is None or choice is None or SLOT not in choice.text:
        await query.answer(t(lang, "button.expired"), show_alert=True)
        return
    if user is None or user.id != row.user_id:
        await query.answer(t(lang, "button.not_yours"), show_alert=True)
        return
    today = services.today()
    row_lang: Lang = "ru" if row.language == "ru" else "en"
    if press.day is not None and today <= press.day <= last_day(today):
        completed = Choice(fill(choice.text, press.day), campaign_id=choice.campaign_id)
        await questions.complete(update, context, row, completed, rerun)
        return
    # Another month; or a day that has passed since the calendar was shown: show it afresh.
    month = press.month or today
    if not offered(month, today):
        month = today
    if press.day is not None:
        await query.answer(t(lang, "dp.passed"), show_alert=True)
    else:
        await query.answer()
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(keyboard(row.id, month, today, row_lang))
