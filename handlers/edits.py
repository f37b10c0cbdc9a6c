"""Edited commands: a corrected message is handled again, and only what changed is sent.

People fix a typo by editing the message rather than typing it again. An edit (of a text or
of a caption) is handled like a new message of the same command, through the same wrapper, so
access is decided again, when

- it still starts with one of this bot's commands (an edit into anything else says nothing),
- the message was sent less than ``EDIT_WINDOW`` ago, and
- the message was a command the bot handled (it is in the audit log): an edit that turns a
  plain message into a command is not one.

For the Market writes each edit is a new revision of the message's batch (``revision``), and
a line whose text was stored (as a digest) for an earlier revision of the same message is not
sent again (``unsent``): fixing the track code of line 2 sends line 2 only. The answer then
says that it follows the edit (``handlers.reporting``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import timedelta

from telegram import Update
from telegram.ext import ContextTypes

from handlers.captions import command_in
from handlers.context import Request, request_from_update, services_of
from handlers.dispatch import run_command
from handlers.lines import BatchLine
from handlers.spec import CommandSpec
from storage import audit, operations

EDIT_WINDOW = timedelta(hours=48)


async def on_edit(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, commands: Mapping[str, CommandSpec]
) -> None:
    """An ``edited_message`` update: run the command again when the module's rules allow."""
    message = update.edited_message
    if message is None or message.forward_origin is not None:
        return
    services = services_of(context)
    name = command_in(message.text or message.caption or "", services.bot_username, commands)
    if name is None or services.clock() - message.date > EDIT_WINDOW:
        return
    if not audit.was_handled(services.db, message.chat_id, message.message_id):
        return
    request = request_from_update(update, context, name)
    if request is not None:
        await run_command(commands[name], request)


def line_hash(line: BatchLine) -> str:
    """What is stored of a command line to compare revisions: a digest of the command and its
    words (the words themselves may hold anything, a pasted key included)."""
    text = " ".join((f"/{line.command}", *line.args))
    return hashlib.sha256(text.encode()).hexdigest()


def unsent(request: Request, lines: Sequence[BatchLine]) -> list[BatchLine]:
    """The lines to send: for an edit, those not stored for an earlier revision of the
    message; otherwise all of them."""
    if request.edit_id is None:
        return list(lines)
    sent = operations.line_hashes_of(request.services.db, request.chat_id, request.message_id)
    return [line for line in lines if line_hash(line) not in sent]


def revision(request: Request) -> str | None:
    """The batch revision a write of ``request`` is stored as (None: the message itself).

    An edit is revision ``e<update id>``, so a redelivered edit is recognised as a repeat. A
    button completing a command of a message that already has a batch (a question asked for
    an edit) is revision ``qe<question message id>``, so its answer says it follows the edit;
    each question is answered once. A card's button pressed again (the card is both the
    message and the question) is revision ``q<card message id>``: no edit there.
    """
    if request.edit_id is not None:
        return f"e{request.edit_id}"
    if request.question_message_id is not None:
        first = operations.batch_id_of(request.chat_id, request.message_id)
        if operations.get_batch(request.services.db, first) is not None:
            edited = request.question_message_id != request.message_id
            return f"q{'e' if edited else ''}{request.question_message_id}"
    return None
