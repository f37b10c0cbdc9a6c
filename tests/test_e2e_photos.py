"""A photo of the parcel label fills in the track code, end to end: real label images (made with
zxing-cpp's writer) sent through the fake Telegram (getFile and the download), read by the bot,
and ending in the right Market call or the right question."""

from __future__ import annotations

import asyncio
from functools import cache

import pytest

from tests.barcode_images import code128_label, no_barcode_photo, two_barcodes_label
from tests.conftest import CAMPAIGN, COURIER, GROUP, STRANGER, RunningBot
from tests.fakes.telegram import Call
from tests.test_e2e_shops import text_of

TRACK = "setOrderDeliveryTrackCode"
CODE = "RA123456789RU"
EAN = "4601234567893"


@cache
def label(kind: str) -> bytes:
    """Each image once per test run: drawing a 1600×1200 label takes a moment."""
    if kind == "plain":
        return code128_label(CODE, jpeg_quality=85)
    if kind == "rotated":
        return code128_label(CODE, rotate=90, jpeg_quality=85)
    if kind == "blurred":
        return code128_label(CODE, blur=1.5, jpeg_quality=70)
    if kind == "two":
        return two_barcodes_label(CODE, EAN, jpeg_quality=85)
    return no_barcode_photo()


def tracks(bot: RunningBot) -> list[dict[str, object]]:
    return [dict(r.body or {}) for r in bot.market.requests_for(TRACK)]


async def buttons_of(bot: RunningBot, chat_id: int, mark: int) -> tuple[Call, list[dict[str, str]]]:
    asked = await bot.telegram.await_call(
        lambda c: c.method == "sendMessage" and c.chat_id == chat_id and "reply_markup" in c.params,
        10,
        since=mark,
    )
    rows = asked.params["reply_markup"]["inline_keyboard"]
    return asked, [button for row in rows for button in row]


@pytest.mark.parametrize("kind", ["plain", "rotated", "blurred"])
async def test_a_caption_with_the_order_takes_the_code_from_the_photo(
    bot: RunningBot, kind: str
) -> None:
    mark = bot.mark()
    photo = bot.telegram.send_photo(COURIER, COURIER, label(kind), caption="/track 101 51")
    answer = await bot.final(COURIER, mark, timeout=15)
    assert text_of(answer).startswith("✅") and CODE in text_of(answer)
    assert answer.params["reply_parameters"]["message_id"] == photo
    assert tracks(bot) == [{"trackCode": CODE, "deliveryServiceId": 51}]
    assert bot.telegram.downloads  # fetched through getFile and the file URL
    assert bot.market.order(CAMPAIGN, 101).track_codes == [(CODE, 51)]


async def test_two_barcodes_give_a_button_each_the_track_code_first(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_photo(COURIER, COURIER, label("two"), caption="/track 102 51")
    asked, buttons = await buttons_of(bot, COURIER, mark)
    assert [b["text"] for b in buttons] == [CODE, EAN]
    assert tracks(bot) == []
    mark = bot.mark()
    bot.telegram.press_button(
        COURIER, COURIER, int(asked.result["message_id"]), buttons[0]["callback_data"]
    )
    assert text_of(await bot.final(COURIER, mark, timeout=10)).startswith("✅")
    assert tracks(bot) == [{"trackCode": CODE, "deliveryServiceId": 51}]


async def test_a_photo_without_a_barcode_says_so_in_one_line(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_photo(COURIER, COURIER, label("none"), caption="/track 103 51")
    answer = text_of(await bot.reply(COURIER, mark, timeout=15))
    assert answer.startswith("I found no barcode on this photo")
    assert "\n" not in answer
    assert tracks(bot) == []


async def test_a_caption_with_its_own_code_is_an_ordinary_command(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_photo(COURIER, COURIER, label("none"), caption="/track 104 RR104104 51")
    assert text_of(await bot.final(COURIER, mark, timeout=10)).startswith("✅")
    assert tracks(bot) == [{"trackCode": "RR104104", "deliveryServiceId": 51}]
    assert bot.telegram.downloads == []  # the photo was not even read


async def test_a_photo_in_a_group_without_a_command_is_left_alone(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_photo(GROUP, COURIER, label("plain"))
    await asyncio.sleep(1.0)
    assert bot.telegram.downloads == []
    assert [c for c in bot.telegram.calls[mark:] if c.method == "sendMessage"] == []


async def test_a_strangers_photo_reaches_nothing(bot: RunningBot) -> None:
    mark = bot.mark()
    bot.telegram.send_photo(STRANGER, STRANGER, label("plain"))
    answer = text_of(await bot.reply(STRANGER, mark, timeout=10))
    assert "Ask the shop's owner for an invite" in answer
    assert bot.telegram.downloads == [] and tracks(bot) == []


async def test_track_with_only_the_order_asks_for_a_reply_and_a_photo_answers(
    bot: RunningBot,
) -> None:
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 105")
    prompt = await bot.reply(COURIER, mark)
    assert "track code of order 105" in text_of(prompt)
    assert prompt.params["reply_markup"]["force_reply"] is True
    await bot.question_stored(COURIER, int(prompt.result["message_id"]))
    mark = bot.mark()
    bot.telegram.send_photo(
        COURIER, COURIER, label("plain"), reply_to=int(prompt.result["message_id"])
    )
    # /track 105 <code> without a service: the bot asks which service (no default yet).
    asked, buttons = await buttons_of(bot, COURIER, mark)
    choice = next(b for b in buttons if "51" in b["text"])
    mark = bot.mark()
    bot.telegram.press_button(
        COURIER, COURIER, int(asked.result["message_id"]), choice["callback_data"]
    )
    assert text_of(await bot.final(COURIER, mark, timeout=10)).startswith("✅")
    assert tracks(bot) == [{"trackCode": CODE, "deliveryServiceId": 51}]
