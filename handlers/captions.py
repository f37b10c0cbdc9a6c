"""Commands in the caption of a photo or a file: the same commands as typed ones.

A courier photographs the parcel and types ``/track 130 RR130 51`` as the caption.
python-telegram-bot's ``CommandHandler`` reads only a message's text, so the registry routes
captioned media here; a caption whose first word is one of the registered commands (with no
``@mention`` or one naming this bot) runs that command through the same wrapper as typed
ones. ``command_in`` is the one place that reads a command out of a text, for captions and for
edits (``handlers.edits``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from telegram import Update
from telegram.ext import ContextTypes

from handlers.context import request_from_update, services_of
from handlers.dispatch import run_command
from handlers.spec import CommandSpec

_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?")


def command_in(text: str, bot_username: str, known: Mapping[str, CommandSpec]) -> str | None:
    """The registered command a message starts with, or None.

    The first word must be ``/name`` or ``/name@ThisBot`` (any case); a mention of another
    bot, an unknown name or anything else is not a command for this bot. With
    ``bot_username`` empty (not known yet) any mention is taken as this bot's.
    """
    words = text.split(maxsplit=1)
    match = _COMMAND.fullmatch(words[0]) if words else None
    if match is None:
        return None
    name, mention = match[1].lower(), match[2]
    if mention is not None and bot_username and mention.lower() != bot_username.lower():
        return None
    return name if name in known else None


async def on_caption(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    commands: Mapping[str, CommandSpec],
) -> None:
    """A new photo or file with a caption: run the command it holds, if any (else nothing)."""
    message = update.message
    if message is None or message.caption is None:
        return
    name = command_in(message.caption, services_of(context).bot_username, commands)
    if name is None:
        return
    request = request_from_update(update, context, name)
    if request is not None:
        await run_command(commands[name], request)
