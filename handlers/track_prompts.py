"""The track code of an order card: a prompt the presser answers by replying to it.

Track on a card (``handlers.card_presses``) asks with a message that names the presser and
carries ``ForceReply(selective=True)``, so only their phone opens the reply field. The prompt is
kept as a pending question (``storage.pending``) of the prompt's own message. A text reply of
the presser runs ``/track <order> <code> [service]`` through the command wrapper (access is
decided again then); the shop's default delivery service applies, and without one ``/track``
asks for it. A prompt is answered once. ``answer_prompt`` takes the code's words from anywhere
(a photo of the label, read, may call it too); a reply to anything else goes on to the next
handler (``otherwise``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace

from telegram import ForceReply, MessageEntity, ReplyParameters, Update
from telegram.constants import MessageEntityType
from telegram.ext import ContextTypes

from handlers.access import Allowed
from handlers.context import Outcome, Request, Result, request_from_update, services_of
from handlers.messaging import NO_PREVIEW
from handlers.questions import Rerun
from storage import feed, pending
from storage.pending import Choice

TRACK_PROMPT = "track"
MAX_CODE_WORDS = 2
Otherwise = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def ask(order_id: int, request: Request, access: Allowed) -> Outcome:
    """Ask the presser for the code: a prompt they answer by replying to it."""
    assert access.campaign_id is not None and request.user_id is not None
    query = request.update.callback_query
    name = request.user_name
    text = request.t("card.track_prompt", name=name, order_id=order_id)
    # The prompt names the presser, so that only their phone opens the reply field.
    mention = None
    if query is not None and text.startswith(name):
        mention = MessageEntity(
            MessageEntityType.TEXT_MENTION, 0, _utf16(name), user=query.from_user
        )
    sent = await request.context.bot.send_message(
        chat_id=request.chat_id,
        text=text,
        entities=[mention] if mention else None,
        reply_markup=ForceReply(selective=True, input_field_placeholder="RR123456789RU"),
        reply_parameters=ReplyParameters(request.message_id, allow_sending_without_reply=True),
        message_thread_id=request.thread_id,
        link_preview_options=NO_PREVIEW,
    )
    pending.save_pending(
        request.services.db,
        chat_id=request.chat_id,
        message_id=sent.message_id,
        thread_id=request.thread_id,
        user_id=request.user_id,
        language=request.lang,
        command=TRACK_PROMPT,
        text=f"/track {order_id}",
        choices=[Choice(f"/track {order_id}", campaign_id=access.campaign_id)],
        now=request.services.clock(),
    )
    return Outcome(Result.ASKED, "track_code")


async def on_reply(
    update: Update, context: ContextTypes.DEFAULT_TYPE, rerun: Rerun, otherwise: Otherwise
) -> None:
    """A text message replying to something: the track code when it answers a prompt of its
    sender's; anything else goes to ``otherwise`` (the handler it would have reached)."""
    message = update.message
    words = (message.text or "").split("\n", 1)[0].split() if message else []
    if not await answer_prompt(update, context, words, rerun):
        await otherwise(update, context)


async def answer_prompt(
    update: Update, context: ContextTypes.DEFAULT_TYPE, words: list[str], rerun: Rerun
) -> bool:
    """Run ``/track <order> <words>`` when the message of ``update`` replies to an open
    track-code prompt of the person who sent it (``words``: the code, perhaps its service).

    Returns False when the message replies to no open prompt (nothing is done), True when it
    does: answered, or left alone because the prompt asks someone else. A prompt is answered
    once; access is decided again when ``/track`` runs.
    """
    message = update.message
    replied = message.reply_to_message if message else None
    if message is None or replied is None or message.from_user is None:
        return False
    db = services_of(context).db
    prompt_id = feed.prompt_at(db, message.chat_id, replied.message_id, TRACK_PROMPT)
    row = pending.get_pending(db, prompt_id) if prompt_id is not None else None
    choice = row.choice(0) if row else None
    if row is None or choice is None:
        return False
    if row.user_id != message.from_user.id or not words:
        return True  # the prompt asks its presser; another's reply is not an answer
    if not pending.delete_pending(db, row.id):
        return True
    base = request_from_update(update, context, "track")
    if base is None:
        return True
    # One word more than a code and its service may take: /track then says what is extra.
    text = " ".join([choice.text, *words[: MAX_CODE_WORDS + 1]])
    request = replace(
        base.with_text(text),
        forced_campaign=choice.campaign_id,
        question_message_id=replied.message_id,
    )
    await rerun(request)
    return True
