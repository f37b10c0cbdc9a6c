"""The fake Telegram Bot API, driven by python-telegram-bot itself over real HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    ChatMemberAdministrator,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageOriginChannel,
    MessageOriginUser,
    ReplyParameters,
    Update,
)
from telegram.error import BadRequest, Conflict, InvalidToken, RetryAfter
from telegram.ext import AIORateLimiter, ApplicationBuilder, CommandHandler, ContextTypes, ExtBot
from telegram.request import HTTPXRequest

from tests.fakes.telegram import (
    GROUP_ANONYMOUS_BOT_ID,
    LINKED_CHANNEL_ID,
    TELEGRAM_SERVICE_USER_ID,
    Call,
    FakeTelegram,
    command_entities,
)

GROUP = -100123
USER = 42
# A JPEG's first segments (JFIF, then SOF0 for 640×480) and some bytes: the fake never decodes.
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    b"\xff\xc0\x00\x11\x08\x01\xe0\x02\x80\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
) + bytes(range(256)) * 8


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.file_base_url) as client:
        yield client


async def ignore(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A command callback for checking which updates a CommandHandler accepts."""


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in pairs]]
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", [(0, 6)]),
        ("/track@DbsTestBot 1 RR 2", [(0, 17)]),
        ("hello /start", []),
        ("/трек 1", []),
        ("/track 1\n/move 2 2025-01-01 user", [(0, 6), (9, 5)]),
        # Offsets count UTF-16 code units: the emoji takes two.
        ("🚚\n/help", [(3, 5)]),
    ],
)
def test_command_entities(text: str, expected: list[tuple[int, int]]) -> None:
    entities = command_entities(text)
    assert [(e["offset"], e["length"]) for e in entities] == expected
    assert all(e["type"] == "bot_command" for e in entities)


async def test_get_me_identifies_the_fake_bot(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (fake.bot_id, fake.bot_username, True)
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert fake.calls_of("getme")[0].ok


async def test_private_command_reaches_command_handler(fake: FakeTelegram, bot: Bot) -> None:
    message_id = fake.send_private(
        USER, "/track 123 RR456 51\n/move 1 2025-01-01 user", language_code="ru"
    )
    (update,) = await bot.get_updates(timeout=0)
    message = update.message
    assert message is not None and message.message_id == message_id
    assert message.chat.type == "private" and message.chat.id == USER
    assert message.from_user is not None and message.from_user.language_code == "ru"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bot_command", 0, 6),
        ("bot_command", 20, 5),
    ]
    track = CommandHandler("track", ignore)
    assert track.check_update(update)
    assert not CommandHandler("move", ignore).check_update(update)


async def test_group_messages_anonymous_admin_and_replies(fake: FakeTelegram, bot: Bot) -> None:
    first = fake.send_group(GROUP, USER, "/track@DbsTestBot 1 RR 2", first_name="Ann")
    fake.send_group(GROUP, None, "/track 5 RR 6", sender_chat_id=GROUP)
    fake.send_group(GROUP, 43, "yes", reply_to=first, thread_id=7)
    fake.send_group(GROUP, 43, "to the bot", reply_to=999, reply_to_user_id=fake.bot_id)
    updates = await bot.get_updates(timeout=0)
    named, anonymous, reply, reply_to_bot = (u.message for u in updates)
    assert named is not None and anonymous is not None
    assert reply is not None and reply_to_bot is not None

    assert named.chat.type == "supergroup" and named.chat.title == "Shop group"
    assert CommandHandler("track", ignore).check_update(updates[0])

    assert anonymous.sender_chat is not None and anonymous.sender_chat.id == GROUP
    assert anonymous.from_user is not None
    assert anonymous.from_user.id == GROUP_ANONYMOUS_BOT_ID

    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == first
    assert reply.reply_to_message.from_user is not None
    assert reply.reply_to_message.from_user.first_name == "Ann"
    assert reply.message_thread_id == 7 and reply.is_topic_message

    assert reply_to_bot.reply_to_message is not None
    assert reply_to_bot.reply_to_message.from_user is not None
    assert reply_to_bot.reply_to_message.from_user.id == fake.bot_id


async def test_offset_confirms_updates(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_private(USER, "one")
    fake.send_private(USER, "two")
    first, second = await bot.get_updates(timeout=0)
    assert second.update_id == first.update_id + 1
    assert [u.update_id for u in await bot.get_updates(offset=second.update_id)] == [
        second.update_id
    ]
    assert await bot.get_updates(offset=second.update_id + 1, timeout=0) == ()
    assert fake.pending_updates() == 0
    assert fake.polls == 3 and fake.first_poll_at is not None


async def test_long_poll_returns_when_an_update_arrives(fake: FakeTelegram, bot: Bot) -> None:
    timer = threading.Timer(0.2, fake.send_private, args=(USER, "late"))
    timer.start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    elapsed = time.monotonic() - started
    timer.join()
    assert [u.message.text for u in updates if u.message] == ["late"]
    assert 0.15 < elapsed < 2


async def test_stop_ends_a_waiting_long_poll_promptly() -> None:
    fake = FakeTelegram().start()
    async with Bot(fake.token, base_url=fake.base_url) as client:
        poll = asyncio.create_task(client.get_updates(timeout=30))
        await fake.await_call(lambda c: c.method == "getUpdates")
        started = time.monotonic()
        await asyncio.to_thread(fake.stop)
        assert time.monotonic() - started < 1
        assert await poll == ()
    fake.stop()


async def test_send_message_records_decoded_markup(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_private(USER, "/start")
    sent = await bot.send_message(
        USER,
        "Confirm?",
        reply_markup=keyboard(("Yes", "yes"), ("No", "no")),
        reply_parameters=ReplyParameters(message_id=1),
    )
    assert sent.from_user is not None and sent.from_user.id == fake.bot_id
    assert sent.reply_markup == keyboard(("Yes", "yes"), ("No", "no"))
    assert sent.reply_to_message is not None and sent.reply_to_message.text == "/start"

    call = fake.wait_for(lambda c: c.method == "sendMessage")
    assert call.chat_id == USER and call.text == "Confirm?"
    assert call.params["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]
        ]
    }
    assert call.params["reply_parameters"] == {"message_id": 1}
    stored = fake.messages(USER)
    assert list(stored) == [sent.message_id]
    assert stored[sent.message_id].reply_to_message_id == 1
    assert fake.sent_texts(USER) == ["Confirm?"]


async def test_reply_to_a_deleted_message_fails(fake: FakeTelegram, bot: Bot) -> None:
    key_message = fake.send_group(GROUP, USER, "secret-key")
    assert await bot.delete_message(GROUP, key_message)
    with pytest.raises(BadRequest, match="replied not found"):
        await bot.send_message(GROUP, "Deleted", reply_parameters=ReplyParameters(key_message))
    assert fake.deleted == [(GROUP, key_message)]
    assert fake.sent_texts(GROUP) == []


async def test_edit_message_text(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "Working…", reply_markup=keyboard(("Stop", "stop")))
    edited = await bot.edit_message_text("Done", chat_id=GROUP, message_id=sent.message_id)
    assert isinstance(edited, type(sent)) and edited.text == "Done"
    assert edited.reply_markup is None and edited.edit_date is not None

    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("Done", chat_id=GROUP, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="to edit not found"):
        await bot.edit_message_text("Done", chat_id=GROUP, message_id=sent.message_id + 5)
    await bot.edit_message_reply_markup(
        GROUP, sent.message_id, reply_markup=keyboard(("Again", "again"))
    )

    current = fake.messages(GROUP)[sent.message_id]
    assert current.text == "Done" and current.edited and not current.deleted
    assert current.reply_markup == {
        "inline_keyboard": [[{"text": "Again", "callback_data": "again"}]]
    }
    assert fake.sent_texts(GROUP) == ["Working…", "Done"]


async def test_delete_message_allowed_and_refused(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "bye")
    user_message = fake.send_group(GROUP, USER, "my key")
    assert await bot.delete_message(GROUP, sent.message_id)
    assert fake.messages(GROUP)[sent.message_id].deleted
    with pytest.raises(BadRequest, match="to delete not found"):
        await bot.delete_message(GROUP, sent.message_id)

    fake.set_can_delete(GROUP, False)
    with pytest.raises(BadRequest, match="can't be deleted"):
        await bot.delete_message(GROUP, user_message)
    assert fake.deleted == [(GROUP, sent.message_id)]


async def test_commands_per_scope(fake: FakeTelegram, bot: Bot) -> None:
    private = [BotCommand("track", "Send a track number"), BotCommand("help", "Help")]
    group = [BotCommand("track", "Send a track number")]
    assert await bot.set_my_commands(private, scope=BotCommandScopeAllPrivateChats())
    assert await bot.set_my_commands(
        group, scope=BotCommandScopeAllGroupChats(), language_code="ru"
    )

    assert await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == tuple(private)
    assert await bot.get_my_commands(scope=BotCommandScopeAllGroupChats()) == ()
    assert fake.commands_for("all_group_chats", "ru") == [
        {"command": "track", "description": "Send a track number"}
    ]
    call = fake.calls_of("setMyCommands")[0]
    assert call.params["scope"] == {"type": "all_private_chats"}
    assert call.params["commands"][1] == {"command": "help", "description": "Help"}

    assert await bot.delete_my_commands(scope=BotCommandScopeAllPrivateChats())
    assert fake.commands_for("all_private_chats") is None


async def test_button_press_and_answer(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(USER, "Move the date?", reply_markup=keyboard(("Yes", "y")))
    query_id = fake.press_button(USER, USER, sent.message_id, "y", language_code="ru")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None and query.id == query_id and query.data == "y"
    assert query.from_user.id == USER and query.from_user.language_code == "ru"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert getattr(query.message, "text", None) == "Move the date?"

    assert await bot.answer_callback_query(query_id, text="Moved")
    assert fake.answered_callbacks[query_id]["text"] == "Moved"
    with pytest.raises(BadRequest, match="query id is invalid"):
        await bot.answer_callback_query(query_id)


@pytest.mark.parametrize(
    "status", ["creator", "administrator", "member", "restricted", "left", "kicked"]
)
async def test_get_chat_member_statuses(fake: FakeTelegram, bot: Bot, status: str) -> None:
    fake.send_group(GROUP, USER, "hi", first_name="Ann")
    fake.set_member_status(GROUP, USER, status)
    member = await bot.get_chat_member(GROUP, USER)
    assert member.status == status
    assert member.user.id == USER and member.user.first_name == "Ann"


async def test_get_chat_member_defaults(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_chat_member(GROUP, fake.bot_id)
    assert isinstance(me, ChatMemberAdministrator) and me.can_delete_messages
    assert (await bot.get_chat_member(GROUP, 77)).status == "member"
    with pytest.raises(ValueError, match="unknown chat member status"):
        fake.set_member_status(GROUP, USER, "owner")


async def test_wrong_token_is_invalid(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("123456:wrong-token", base_url=fake.base_url):
            pass
    assert fake.calls == []


async def test_flood_limit_answers_retry_after(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Opt in to PTB's timedelta retry_after, which otherwise warns when read.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    fake.flood_limit(GROUP, 2)
    await bot.send_message(GROUP, "one")
    await bot.send_message(GROUP, "two")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "three")
    retry_after = caught.value.retry_after
    assert isinstance(retry_after, dtm.timedelta)
    assert dtm.timedelta(seconds=55) <= retry_after <= dtm.timedelta(seconds=60)
    assert await bot.send_message(USER, "private is not limited")
    assert fake.sent_texts(GROUP) == ["one", "two"]
    assert [c.status for c in fake.calls_of("sendMessage")] == [200, 200, 429, 200]


async def test_raw_http_bodies_and_errors(fake: FakeTelegram) -> None:
    url = f"{fake.base_url}{fake.token}"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with httpx.AsyncClient() as client:
        as_json = await client.post(
            f"{url}/SENDMESSAGE", json={"chat_id": GROUP, "text": "[json]", "reply_markup": markup}
        )
        as_multipart = await client.post(
            f"{url}/sendMessage",
            data={"chat_id": str(GROUP), "reply_markup": json.dumps(markup)},
            files={"text": (None, "multipart"), "document": ("a.txt", b"abc")},
        )
        as_query = await client.get(f"{url}/sendChatAction?chat_id={GROUP}&action=typing")
        unknown = await client.post(f"{url}/noSuchMethod")
        no_bot = await client.get(f"http://127.0.0.1:{fake.port}/elsewhere")
    assert as_json.json()["result"]["text"] == "[json]"
    assert as_multipart.json()["result"]["reply_markup"] == markup
    assert as_query.json() == {"ok": True, "result": True}
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert no_bot.status_code == 404

    json_call, multipart_call, query_call, unknown_call = fake.calls
    assert json_call.method == "sendMessage" and json_call.params["text"] == "[json]"
    assert multipart_call.params["reply_markup"] == markup
    assert multipart_call.text == "multipart" and multipart_call.files == {"document": b"abc"}
    assert query_call.params == {"chat_id": str(GROUP), "action": "typing"}
    assert unknown_call.method == "noSuchMethod" and unknown_call.status == 404
    assert fake.server_errors == []


def test_wait_for_times_out_with_a_summary(fake: FakeTelegram) -> None:
    with pytest.raises(AssertionError, match="no matching Telegram call") as caught:
        fake.wait_for(lambda c: c.method == "sendMessage", timeout=0.1)
    assert "(none)" in str(caught.value)


async def test_application_answers_start(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Hello!")

    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        message_id = fake.send_private(USER, "/start")

        def is_reply(call: Call) -> bool:
            return call.method == "sendMessage" and call.chat_id == USER

        call = await fake.await_call(is_reply)
        await app.updater.stop()
        await app.stop()
    assert call.text == "Hello!"
    assert fake.messages(USER)[message_id + 1].text == "Hello!"
    assert fake.first_poll_at is not None and fake.first_poll_at <= call.at
    assert fake.pending_updates() == 0


async def test_flood_limit_per_bot_second(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    started = time.monotonic()
    first = await bot.send_message(USER, "first")
    await bot.edit_message_text("edited", chat_id=USER, message_id=first.message_id)
    for n in range(27):
        await bot.send_message(USER + 1 + n, "hi")
    assert await bot.delete_message(USER, first.message_id)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "the 31st within a second")
    assert time.monotonic() - started < 1  # else the 429 above would prove nothing
    assert caught.value.retry_after == dtm.timedelta(seconds=1)
    assert fake.flood_rejections == 1
    await asyncio.sleep(1)
    assert await bot.send_message(USER, "a second later")
    assert [c.status for c in fake.calls_of("sendMessage")][-2:] == [429, 200]


async def test_flood_limit_per_group_minute(
    fake: FakeTelegram, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    first = await bot.send_message(GROUP, "first")
    await bot.edit_message_reply_markup(GROUP, first.message_id, reply_markup=keyboard(("A", "a")))
    for _ in range(18):
        await bot.send_message(GROUP, "hi")
    assert await bot.delete_message(GROUP, first.message_id)  # counted per bot only
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "the 21st within a minute")
    assert dtm.timedelta(seconds=55) <= caught.value.retry_after <= dtm.timedelta(seconds=60)
    async with httpx.AsyncClient() as client:
        raw = await client.post(
            f"{fake.base_url}{fake.token}/editMessageText",
            json={"chat_id": GROUP, "message_id": first.message_id + 1, "text": "edit"},
        )
    retry_after = raw.json()["parameters"]["retry_after"]
    expected = {"ok": False, "error_code": 429, "parameters": {"retry_after": retry_after}}
    expected["description"] = f"Too Many Requests: retry after {retry_after}"
    assert raw.status_code == 429 and raw.json() == expected
    assert await bot.send_message(GROUP - 1, "another group has its own minute")
    assert fake.flood_rejections == 2

    with FakeTelegram(flood_limits=False) as unlimited:
        async with Bot(unlimited.token, base_url=unlimited.base_url) as client:
            for _ in range(40):
                await client.send_message(GROUP, "hi")
    assert unlimited.flood_rejections == 0


async def test_bot_rate_limiter_rides_out_the_flood_limits(
    fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot's limiter (bot/app.py) is a leaky bucket: it can exceed 30 in a sliding second,
    so some sends get a 429, which it retries after retry_after; none is lost."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    limiter = AIORateLimiter(max_retries=3)  # by default 30 a second, 20 a minute per group
    request = HTTPXRequest(connection_pool_size=16)
    client = ExtBot(fake.token, base_url=fake.base_url, rate_limiter=limiter, request=request)
    async with client:
        await asyncio.gather(*(client.send_message(1000 + n, "answer") for n in range(90)))
    statuses = [c.status for c in fake.calls_of("sendMessage")]
    assert statuses.count(200) == 90 and statuses.count(429) == fake.flood_rejections


async def test_photo_and_document_download(fake: FakeTelegram, bot: Bot) -> None:
    photo_id = fake.send_photo(USER, USER, JPEG, caption="/track 1", last_name="Lee", username="al")
    fake.send_document(GROUP, USER, b"%PDF-1.4", file_name="label.pdf", mime_type="application/pdf")
    private, group = (u.message for u in await bot.get_updates(timeout=0))
    assert private is not None and group is not None and private.message_id == photo_id
    assert private.from_user is not None and private.from_user.full_name == "User Lee"
    assert private.chat.username == "al" and private.caption == "/track 1"
    assert [(e.type, e.offset, e.length) for e in private.caption_entities] == [
        ("bot_command", 0, 6)
    ]
    thumbnail, full = private.photo
    assert (thumbnail.width, thumbnail.height, full.width, full.height) == (90, 68, 640, 480)
    ids = {thumbnail.file_id, full.file_id, thumbnail.file_unique_id, full.file_unique_id}
    assert len(ids) == 4 and full.file_size == len(JPEG)
    photo = await bot.get_file(full.file_id)
    assert photo.file_size == len(JPEG) and photo.file_path is not None
    assert photo.file_path.startswith(f"{fake.file_base_url}{fake.token}/")
    assert await photo.download_as_bytearray() == JPEG

    document = group.document
    assert document is not None and group.chat.id == GROUP
    assert (document.file_name, document.mime_type) == ("label.pdf", "application/pdf")
    assert await (await document.get_file()).download_as_bytearray() == b"%PDF-1.4"
    assert fake.downloads == ["photos/file_2.jpg", "documents/file_3.pdf"]

    with pytest.raises(BadRequest, match="Invalid file_id"):
        await bot.get_file("AgACnot-a-file")
    fake.send_document(USER, USER, bytes(20 * 1024 * 1024 + 1), file_name="scan.tiff")
    (update,) = await bot.get_updates(offset=-1, timeout=0)
    assert update.message is not None and update.message.document is not None
    with pytest.raises(BadRequest, match="File is too big"):
        await bot.get_file(update.message.document.file_id)
    with pytest.raises(ValueError, match="user_id == chat_id"):
        fake.send_photo(USER, USER + 1, JPEG)


async def test_edited_message_update(fake: FakeTelegram, bot: Bot) -> None:
    text_id = fake.send_group(GROUP, USER, "/track 1 RR 2")
    photo_id = fake.send_photo(GROUP, USER, JPEG, caption="label")
    fake.edit_user_message(GROUP, text_id, "fixed:\n/track 1 RR 3")
    fake.edit_user_message(GROUP, photo_id, "/track 5 RR 6")
    # get_updates parses every update with telegram.Update.de_json.
    updates = (await bot.get_updates(timeout=0))[2:]
    assert [u.message for u in updates] == [None, None]
    text, photo = (u.edited_message for u in updates)
    assert text is not None and photo is not None
    assert text.message_id == text_id and text.text == "fixed:\n/track 1 RR 3"
    assert text.edit_date is not None and text.date <= text.edit_date
    assert [(e.type, e.offset, e.length) for e in text.entities] == [("bot_command", 7, 6)]
    assert photo.message_id == photo_id and photo.photo and photo.edit_date is not None
    assert photo.caption == "/track 5 RR 6" and photo.caption_entities[0].type == "bot_command"

    sent = await bot.send_message(GROUP, "bot text")
    for message_id in (sent.message_id, 999):
        with pytest.raises(ValueError, match="no user message"):
            fake.edit_user_message(GROUP, message_id, "x")


async def test_forum_topic_messages_reply_to_the_topic(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_group(GROUP, USER, "hi", first_name="Ann")
    topic = fake.create_topic(GROUP, USER, "Returns")
    plain = fake.send_group(GROUP, 43, "/track 1 RR 2", thread_id=topic)
    fake.send_group(GROUP, 44, "answer", thread_id=topic, reply_to=plain)
    fake.send_group(GROUP, 43, "thread unknown to the fake", thread_id=77)
    updates = (await bot.get_updates(timeout=0))[1:]
    created, in_topic, replying, elsewhere = (u.message for u in updates)
    assert created is not None and created.forum_topic_created is not None
    assert created.forum_topic_created.name == "Returns" and created.chat.is_forum
    assert created.message_id == created.message_thread_id == topic
    assert in_topic is not None and in_topic.is_topic_message
    assert in_topic.message_thread_id == topic and not created.reply_to_message
    service = in_topic.reply_to_message
    assert service is not None and service.message_id == topic and service.forum_topic_created
    assert service.from_user is not None and service.from_user.first_name == "Ann"
    assert CommandHandler("track", ignore).check_update(updates[1])
    assert replying is not None and replying.reply_to_message is not None
    assert replying.reply_to_message.message_id == plain
    assert elsewhere is not None and elsewhere.reply_to_message is None

    sent = await bot.send_message(GROUP, "Done", message_thread_id=topic)
    assert sent.reply_to_message is not None and sent.reply_to_message.message_id == topic
    assert fake.messages(GROUP)[sent.message_id].reply_to_message_id == topic


async def test_forwards_and_automatic_forward(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_private(43, "hello", first_name="Bob", last_name="Stone", username="bobstone")
    fake.send_private(USER, "forwarded", forward_from_user_id=43)
    fake.send_group(GROUP, USER, "forwarded here", forwarded_from_user_id=43)
    fake.send_group(GROUP, None, "channel post", is_automatic_forward=True)
    named, private, group, automatic = (u.message for u in await bot.get_updates(timeout=0))
    assert named is not None and named.from_user is not None
    assert (named.from_user.full_name, named.from_user.username) == ("Bob Stone", "bobstone")
    assert named.chat.last_name == "Stone" and named.chat.username == "bobstone"
    for forwarded in (private, group):
        assert forwarded is not None and not forwarded.is_automatic_forward
        origin = forwarded.forward_origin
        assert isinstance(origin, MessageOriginUser) and origin.sender_user.id == 43
        assert origin.sender_user.username == "bobstone"

    assert automatic is not None and automatic.is_automatic_forward
    sender = automatic.from_user
    assert sender is not None and sender.id == TELEGRAM_SERVICE_USER_ID
    assert sender.first_name == "Telegram"
    assert automatic.sender_chat is not None and automatic.sender_chat.type == "channel"
    assert automatic.sender_chat.id == LINKED_CHANNEL_ID
    origin = automatic.forward_origin
    assert isinstance(origin, MessageOriginChannel) and origin.chat.id == LINKED_CHANNEL_ID
    with pytest.raises(ValueError, match="user_id=None"):
        fake.send_group(GROUP, USER, "post", is_automatic_forward=True)
    assert await bot.set_message_reaction(GROUP, automatic.message_id, "👍")


async def test_webhook_blocks_get_updates(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_private(USER, "waiting")
    with pytest.raises(BadRequest, match="an https url must be provided"):
        await bot.set_webhook("http://bot.example/hook")
    assert await bot.set_webhook(
        "https://bot.example/hook", secret_token="s3cret", allowed_updates=["message"]
    )
    assert fake.webhook == {
        "url": "https://bot.example/hook",
        "secret_token": "s3cret",
        "allowed_updates": ["message"],
        "drop_pending_updates": False,
    }
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("https://bot.example/hook", 1)
    with pytest.raises(Conflict, match="while webhook is active; use deleteWebhook"):
        await bot.get_updates(timeout=0)

    assert await bot.delete_webhook()
    assert fake.webhook is None and (await bot.get_webhook_info()).url == ""
    (update,) = await bot.get_updates(timeout=0)
    since = len(fake.calls)
    poll = asyncio.create_task(bot.get_updates(offset=update.update_id + 1, timeout=5))
    await fake.await_call(lambda c: c.method == "getUpdates", since=since)
    assert await bot.set_webhook("https://bot.example/hook", drop_pending_updates=True)
    with pytest.raises(Conflict, match="terminated by setWebhook request"):
        await poll
    assert fake.pending_updates() == 0
