"""Button presses: choosing a campaign, the reason of /move, confirming /disconnect.

A button only completes a command already typed; it is checked again through the same access
layer, and only the person who typed the command may press it.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers.access import ChatKind
from handlers.context import Request
from handlers.guard import request_from_update, run_handler, services_of
from handlers.texts import language_for, t
from storage import pending


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or query.data is None or query.message is None:
        return
    services = services_of(context)
    parts = query.data.split(":")
    user = query.from_user
    lang = language_for(user.language_code if user else None)
    from handlers.registry import BY_NAME  # the registry imports this module

    if parts[0] in ("pick", "why") and len(parts) >= 3 and parts[1].isdigit():
        row = pending.get_pending(services.db, int(parts[1]))
        if row is None:
            await query.answer(t(lang, "button.expired"), show_alert=True)
            return
        if user is None or user.id != row.user_id:
            await query.answer(t(lang, "button.not_yours"), show_alert=True)
            return
        await query.answer()
        spec = BY_NAME.get(row.command)
        base = request_from_update(update, context, row.command)
        if spec is None or base is None:
            return
        request = replace(
            base,
            text=row.text,
            args=row.text.split("\n", 1)[0].split()[1:],
            lang="ru" if row.language == "ru" else "en",
            chat_id=row.chat_id,
            thread_id=row.thread_id,
            message_id=row.message_id,
            extra={},
        )
        if parts[0] == "pick" and parts[2].isdigit():
            request.forced_campaign = int(parts[2])
        if parts[0] == "why":
            request.forced_reason = (
                "USER_MOVED_DELIVERY_DATES" if parts[2] == "u" else "PARTNER_MOVED_DELIVERY_DATES"
            )
            if len(parts) > 3 and parts[3].isdigit() and int(parts[3]):
                request.forced_campaign = int(parts[3])
        # The question message becomes the answer: the runner edits it into the result.
        request.button_message_id = query.message.message_id
        pending.delete_pending(services.db, row.id)
        await _clear_buttons(update, context)
        await run_handler(request, spec.handler)
        return
    if parts[0] == "disc" and len(parts) == 3 and parts[1].isdigit():
        from handlers.shops import confirm_disconnect

        await query.answer()
        confirm = request_from_update(update, context, "disconnect")
        if confirm is None:
            return
        await _clear_buttons(update, context)
        campaign_id, yes = int(parts[1]), parts[2] == "y"

        async def handler(req: Request) -> str:
            return await confirm_disconnect(req, campaign_id, yes)

        await run_handler(confirm, handler)
        return
    await query.answer(t(lang, "button.expired"), show_alert=True)


async def _clear_buttons(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    # If this fails the question stays visible; the answer follows anyway.
    with contextlib.suppress(TelegramError):
        await context.bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
        )


__all__ = ["ChatKind", "on_button"]
