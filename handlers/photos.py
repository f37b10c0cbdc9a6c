"""A photo of the parcel label fills in the track code.

The photo (or an image sent as a file) is read for barcodes (``handlers.labels``: zxing-cpp,
off the event loop, with a size and a time cap); the codes found go through the same
normalisation and validation as a typed one, likeliest track code first. Where a photo counts:

- its caption is ``/track 124 51`` or ``/track 124`` (the shop's default service): the code comes
  from the photo; a caption with its own code is an ordinary caption command;
- it replies to the bot's "send the track code" prompt (an order card's Track button);
- alone in a private chat: "which order?" with the sender's open orders that have no track code
  yet (from the order feed), most urgent first.

Several codes on a label give a button each; none found says so in one line and asks to type
the code or retake the photo closer. The photo itself is never stored, only the code read from
it, in the operation like a typed one. In a group, a photo that is none of the above is not
even downloaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.market.models import BusinessOrder
from bot.market.orders import OPEN, Need, needs, urgency
from handlers import captions, labels, questions, track_prompts
from handlers.access import ChatKind
from handlers.context import Request, request_from_update, services_of
from handlers.dispatch import run_command, throttled
from handlers.parsing import InputError, parse_track_code
from handlers.questions import Rerun
from handlers.spec import CommandSpec
from storage import feed, members, pending
from storage.pending import Choice

log = logging.getLogger(__name__)

# Telegram sends a photo in several sizes; the largest up to about this many pixels is read.
MAX_PIXELS = 2_600_000
MAX_BUTTONS = 8
# Decoding takes a core for up to a few hundred milliseconds: two at a time at most.
_READERS = asyncio.Semaphore(2)


async def on_photo(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    commands: Mapping[str, CommandSpec],
    rerun: Rerun,
) -> None:
    """A new photo or image file: read its label where it counts (see the module docstring)."""
    message = update.message
    if message is None:
        return
    services = services_of(context)
    name = captions.command_in(message.caption or "", services.bot_username, commands)
    if name is not None:
        args = (message.caption or "").split("\n", 1)[0].split()[1:]
        if name != "track" or not _code_missing(args):
            await captions.on_caption(update, context, commands=commands)
            return
        await _caption_track(update, context, commands["track"], args)
        return
    replied = message.reply_to_message
    if replied is not None and _prompt(update, context, replied) is not None:
        await _prompt_answer(update, context, rerun)
        return
    if message.chat.type == "private" and not message.caption:
        await _alone(update, context)


def _code_missing(args: list[str]) -> bool:
    """``/track 124`` or ``/track 124 51``: an order, perhaps a service id, and no code."""
    if len(args) == 1:
        return True
    return len(args) == 2 and args[1].isascii() and args[1].isdigit() and len(args[1]) <= 6


def _prompt(update: Update, context: ContextTypes.DEFAULT_TYPE, replied: Message) -> int | None:
    db = services_of(context).db
    chat_id = update.effective_chat.id if update.effective_chat else 0
    return feed.prompt_at(db, chat_id, replied.message_id, track_prompts.TRACK_PROMPT)


async def _codes(request: Request) -> list[str] | None:
    """The valid track codes on the message's image, likeliest first; None after saying why
    there are none (nothing read, an unreadable image)."""
    data = await _download(request)
    reading = None
    if data is not None:
        async with _READERS:
            reading = await labels.read_label(data)
    if reading is None or reading.outcome is not labels.Outcome.FOUND:
        why = "photo.unreadable" if reading is None else f"photo.{reading.outcome.value}"
        await request.reply(request.t(why))
        return None
    found: list[str] = []
    for text in reading.codes:
        code = parse_track_code(text)
        if not isinstance(code, InputError) and code not in found:
            found.append(code)
    if not found:
        await request.reply(request.t("photo.none_found"))
        return None
    return found[:MAX_BUTTONS]


async def _download(request: Request) -> bytes | None:
    message = request.update.message
    if message is None:
        return None
    file_id, size = None, 0
    if message.photo:
        fitting = [p for p in message.photo if p.width * p.height <= MAX_PIXELS]
        best = max(fitting, key=lambda p: p.width * p.height) if fitting else message.photo[0]
        file_id, size = best.file_id, best.file_size or 0
    elif message.document is not None:
        file_id, size = message.document.file_id, message.document.file_size or 0
    if file_id is None or size > labels.MAX_BYTES:
        return None
    try:
        found = await request.context.bot.get_file(file_id)
        return bytes(await found.download_as_bytearray())
    except TelegramError as exc:
        log.info("could not download a label photo: %s", type(exc).__name__)
        return None


async def _caption_track(
    update: Update, context: ContextTypes.DEFAULT_TYPE, spec: CommandSpec, args: list[str]
) -> None:
    request = request_from_update(update, context, "track")
    if request is None or throttled(request):
        return
    codes = await _codes(request)
    if not codes:
        return
    order, service = args[0], args[1:]
    if len(codes) == 1:
        await run_command(spec, request.with_text(" ".join(["/track", order, codes[0], *service])))
        return
    choices = [(code, Choice(" ".join(["/track", order, code, *service]))) for code in codes]
    await questions.ask(request, request.t("photo.which_code"), choices, per_row=1)


async def _prompt_answer(update: Update, context: ContextTypes.DEFAULT_TYPE, rerun: Rerun) -> None:
    request = request_from_update(update, context, "track")
    message = update.message
    if request is None or message is None or message.reply_to_message is None:
        return
    prompt_id = _prompt(update, context, message.reply_to_message)
    row = pending.get_pending(request.services.db, prompt_id) if prompt_id else None
    if row is None or row.user_id != request.user_id:
        return  # a prompt answers its presser only
    codes = await _codes(request)
    if not codes:
        return
    if len(codes) == 1:
        await track_prompts.answer_prompt(update, context, [codes[0]], rerun)
        return
    # Several codes: the prompt's order, one button per code; the prompt is answered by that.
    choice = row.choice(0)
    if choice is None or not pending.delete_pending(request.services.db, row.id):
        return
    choices = [(c, Choice(f"{choice.text} {c}", campaign_id=choice.campaign_id)) for c in codes]
    await questions.ask(request, request.t("photo.which_code"), choices, per_row=1)


async def _alone(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo alone in private: which of the sender's orders waiting for a code is it?"""
    request = request_from_update(update, context, "track")
    if request is None or request.user_id is None or throttled(request):
        return
    shops = [m.campaign_id for m in members.memberships_of(request.services.db, request.user_id)]
    if not shops:
        await request.reply(request.t("photo.no_shop", user_id=request.user_id))
        return
    codes = await _codes(request)
    if not codes:
        return
    waiting = _waiting_for_a_code(request, shops)
    if not waiting:
        await request.reply(request.t("photo.no_orders", code=codes[0]))
        return
    choices = [
        (
            request.t("photo.order_button", order_id=order.order_id, code=code),
            Choice(f"/track {order.order_id} {code}", campaign_id=order.campaign_id),
        )
        for code in codes
        for order in waiting
    ][:MAX_BUTTONS]
    await questions.ask(
        replace(request, chat_kind=ChatKind.PRIVATE),
        request.t("photo.which_order", code=codes[0]),
        choices,
        per_row=1,
    )


def _waiting_for_a_code(request: Request, shops: list[int]) -> list[BusinessOrder]:
    """The sender's shops' open orders without a track code, most urgent first."""
    today = request.services.today()
    orders = [
        BusinessOrder.model_validate(row.snapshot)
        for campaign_id in shops
        for row in feed.open_orders(request.services.db, campaign_id, sorted(OPEN))
    ]
    orders = [o for o in orders if Need.NO_TRACK in needs(o, today)]
    return sorted(orders, key=lambda o: urgency(o, today))[:MAX_BUTTONS]
