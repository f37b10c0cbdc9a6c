"""Questions with buttons that complete a command: which shop, which reason, confirm or not.

The button family ``q``: callback data ``q:<question id>:<choice>``. The question is stored
(``storage.pending``) with the command as typed and what each button does: run the command
again with another text (the missing reason appended, say) and, for "which shop?", on the
chosen campaign. A press is single-use, only the person who typed the command may press, and
the completed command runs through the same wrapper, access check included, as a typed one.
A command that holds anything shaped like an API key is never stored: the person is asked to
send it again without the key instead. Other families that complete a command (the calendar of
``handlers.datepicker``) store and run it with ``save`` and ``complete``, under the same rules.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers.context import Request, person_language, request_from_update, services_of
from handlers.texts import t
from storage import pending
from storage.pending import Choice, PendingRow
from storage.secrets import contains_secret

PREFIX = "q"
PATTERN = rf"^{PREFIX}:"
_DATA = re.compile(rf"{PREFIX}:([0-9]{{1,19}}):([0-9]{{1,2}})")
_INT64_MAX = 2**63 - 1


class Rerun(Protocol):
    """Runs a command a button completed; ``make_default``: the chosen shop becomes the
    person's default if the command is allowed there."""

    async def __call__(self, request: Request, *, make_default: bool = False) -> None: ...


def data_for(question_id: int, index: int) -> str:
    return f"{PREFIX}:{question_id}:{index}"


def parse_data(data: str) -> tuple[int, int] | None:
    """(question id, choice index) from callback data, or None when it is not ours or forged."""
    match = _DATA.fullmatch(data)
    if match is None or not 0 < int(match[1]) <= _INT64_MAX:
        return None
    return int(match[1]), int(match[2])


async def ask(
    request: Request,
    question: str,
    choices: Sequence[tuple[str, Choice]],
    *,
    per_row: int = 2,
) -> bool:
    """Ask ``question`` under the command with one button per (label, choice).

    False when nothing was asked (see ``save``).
    """
    saved = await save(request, [choice for _, choice in choices])
    if saved is None:
        return False
    buttons = [
        InlineKeyboardButton(label, callback_data=data_for(saved.id, index))
        for index, (label, _) in enumerate(choices)
    ]
    rows = [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]
    await request.reply(question, markup=InlineKeyboardMarkup(rows))
    return True


async def save(request: Request, choices: Sequence[Choice]) -> PendingRow | None:
    """Store the command and the ``choices`` its buttons offer; the row's id goes into them.

    None when nothing may be asked: there is nobody to ask (an anonymous sender; nothing is
    sent), or the command holds something shaped like an API key (the person is told to send
    the command without it, and nothing is stored).
    """
    if request.user_id is None:
        return None
    if contains_secret(request.text) or any(contains_secret(c.text) for c in choices):
        await request.reply(request.t("question.secret"))
        return None
    return pending.save_pending(
        request.services.db,
        chat_id=request.chat_id,
        message_id=request.message_id,
        thread_id=request.thread_id,
        user_id=request.user_id,
        language=request.lang,
        command=request.command,
        text=request.text,
        choices=list(choices),
        now=request.services.clock(),
    )


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE, rerun: Rerun) -> None:
    """A button under a question: run the command it completes (``rerun``), or say why not."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    services = services_of(context)
    user = query.from_user
    lang = person_language(services, user)
    parsed = parse_data(query.data or "")
    row = pending.get_pending(services.db, parsed[0]) if parsed else None
    choice = row.choice(parsed[1]) if row and parsed else None
    if row is None or choice is None:
        await query.answer(t(lang, "button.expired"), show_alert=True)
        return
    await complete(update, context, row, choice, rerun)


async def complete(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    row: PendingRow,
    choice: Choice,
    rerun: Rerun,
) -> None:
    """Run the command ``choice`` completes for the button press ``update``, as ``row``'s
    person typed it: only that person may press, and only once."""
    query = update.callback_query
    if query is None or query.message is None:
        return
    services = services_of(context)
    user = query.from_user
    lang = person_language(services, user)
    if user is None or user.id != row.user_id:
        await query.answer(t(lang, "button.not_yours"), show_alert=True)
        return
    if not pending.delete_pending(services.db, row.id):
        await query.answer(t(lang, "button.expired"), show_alert=True)
        return
    await query.answer()
    # If this fails the question stays visible; the answer follows anyway.
    with contextlib.suppress(TelegramError):
        await query.edit_message_reply_markup(reply_markup=None)
    base = request_from_update(update, context, row.command)
    if base is None:
        return
    request = replace(
        base.with_text(choice.text),
        lang="ru" if row.language == "ru" else "en",
        chat_id=row.chat_id,
        thread_id=row.thread_id,
        message_id=row.message_id,
        forced_campaign=choice.campaign_id,
        question_message_id=query.message.message_id,
    )
    await rerun(request, make_default=choice.make_default)
