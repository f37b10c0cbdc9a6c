"""Sending and editing plain-text messages, the one way the bot talks in chats.

Plain text only (no parse mode), so nothing a user typed can turn into markup; link previews
off; a reply quotes its command when asked and still goes out if that message is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.error import BadRequest, Forbidden, TelegramError

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def _ignore(reason: str) -> None:
    return None


# Told the kind of every refused send (metrics set it; nothing else depends on it).
on_failure: Callable[[str], None] = _ignore
# Telegram refuses longer messages; long lists are cut with a note rather than failing.
MAX_TEXT = 4000


def clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


async def send(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    reply_to: int | None = None,
    thread_id: int | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> Message:
    """Send ``text``. Raises telegram.error.TelegramError when Telegram refuses."""
    return await bot.send_message(
        chat_id=chat_id,
        text=clip(text),
        reply_markup=markup,
        message_thread_id=thread_id,
        reply_parameters=(
            ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
            if reply_to
            else None
        ),
        link_preview_options=NO_PREVIEW,
    )


async def send_text(
    bot: Bot,
    chat_id: int,
    text: str,
    *,
    reply_to: int | None = None,
    thread_id: int | None = None,
    markup: InlineKeyboardMarkup | None = None,
) -> Message | None:
    """Send ``text``; None (logged) when Telegram refuses, so a failed reply never crashes."""
    try:
        return await send(bot, chat_id, text, reply_to=reply_to, thread_id=thread_id, markup=markup)
    except TelegramError as exc:
        log.warning("sending to chat %s failed: %s", chat_id, type(exc).__name__)
        on_failure(type(exc).__name__)
        return None


def will_never_arrive(exc: TelegramError) -> bool:
    """True when Telegram refused for good: blocked by the person, chat gone, not allowed."""
    if isinstance(exc, Forbidden):
        return True
    text = str(exc).lower()
    return isinstance(exc, BadRequest) and any(
        marker in text for marker in ("chat not found", "user not found", "chat_write_forbidden")
    )


async def delete(bot: Bot, chat_id: int, message_id: int) -> bool:
    """Delete one of the bot's messages; False (logged) when Telegram refuses."""
    try:
        return bool(await bot.delete_message(chat_id=chat_id, message_id=message_id))
    except TelegramError as exc:
        log.info("deleting a message in chat %s failed: %s", chat_id, type(exc).__name__)
        return False


async def edit_text(
    bot: Bot,
    chat_id: int,
    message_id: int,
    text: str,
    *,
    markup: InlineKeyboardMarkup | None = None,
) -> bool:
    """Edit one of the bot's messages; False when it is gone or cannot be edited."""
    try:
        await bot.edit_message_text(
            chat_id=chat_id,
            message_id=message_id,
            text=clip(text),
            reply_markup=markup,
            link_preview_options=NO_PREVIEW,
        )
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return True
        log.info("editing message in chat %s failed: %s", chat_id, exc.message)
        return False
    except TelegramError as exc:
        log.warning("editing message in chat %s failed: %s", chat_id, type(exc).__name__)
        return False
    return True
