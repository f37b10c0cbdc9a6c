"""A key pasted into a group never stays there and is never used.

This handler runs before every command for group messages (new and edited, text and captions):
a message holding anything shaped like an API key or token is deleted when the bot may, the
chat is told to revoke the key, and the message goes no further (no command runs on it). Keys
are accepted in private chats only, by /connect.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes

from handlers.context import request_from_update, services_of
from handlers.messaging import send_text
from storage import audit
from storage.secrets import contains_secret

log = logging.getLogger(__name__)


def _audit_words(text: str) -> tuple[str, str]:
    """(command, arguments) for the audit log, with every word that is not a number hidden."""
    words = text.split()
    command = "message"
    if words and words[0].startswith("/"):
        command = words.pop(0)[1:].split("@", 1)[0].lower()
    hidden = " ".join(w if w.isascii() and w.isdigit() else "[key hidden]" for w in words)
    return command, hidden


async def guard_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    text = message.text or message.caption or ""
    if not contains_secret(text):
        return
    services = services_of(context)
    try:
        deleted = bool(await context.bot.delete_message(chat.id, message.message_id))
    except TelegramError as exc:
        log.info("could not delete a message with a key in chat %s: %s", chat.id, exc)
        deleted = False
    request = request_from_update(update, context, "connect")
    if request is not None:
        warning = request.t("connect.in_group", link=services.private_link())
        if not deleted:
            warning += "\n" + request.t("connect.not_deleted")
        await send_text(
            context.bot,
            chat.id,
            warning,
            reply_to=None if deleted else message.message_id,
            thread_id=request.thread_id,
        )
    command, arguments = _audit_words(text)
    audit.record(
        services.db,
        now=services.clock(),
        user_id=message.from_user.id if message.from_user else None,
        chat_id=chat.id,
        campaign_id=None,
        command=command,
        arguments=arguments,
        outcome="refused:key_in_group",
    )
    raise ApplicationHandlerStop
