"""A fake Telegram Bot API served over real HTTP on 127.0.0.1 for end-to-end tests.

The bot under test reaches it through python-telegram-bot's ``base_url``: every call is
``POST {base_url}{token}/{method}`` and is answered the way the Bot API answers it, so the whole
stack (request encoding, error translation, rate limiting, the ``Updater``'s long polling) runs
for real.

Contract:

* ``FakeTelegram().start()`` serves on an ephemeral port in a daemon thread; ``stop()`` returns
  promptly even while a ``getUpdates`` long poll is waiting. It is a context manager too.
* Tests inject updates (``send_private``, ``send_group``, ``send_photo``, ``send_document``,
  ``edit_user_message``, ``create_topic``, ``press_button``, ``inject_raw``) and observe every
  API call in ``calls`` (``wait_for`` / ``await_call`` block until one matches).
* Errors look like Telegram's: ``{"ok": false, "error_code": N, "description": "..."}`` with the
  same HTTP status, so python-telegram-bot raises its usual exceptions (``InvalidToken`` for
  401/404, ``BadRequest`` for 400, ``Forbidden`` for 403, ``Conflict`` for 409, ``RetryAfter``
  for 429).
* Chats: a private chat's id is the user's id; groups have negative ids. Message ids count up per
  chat and are shared by the users' and the bot's messages, as in a real group.
* Flood limits are on by default, as on Telegram: at most ``per_second`` (30) of sendMessage,
  editMessageText, editMessageReplyMarkup and deleteMessage in any sliding second, and at most
  ``group_per_minute`` (20) of sendMessage and edits per group (negative chat id) in any sliding
  minute. Beyond them the call is answered 429 with ``parameters.retry_after`` = the whole
  seconds until the window has room again, has no effect and does not count; ``flood_limit``
  sets one chat's per-minute limit (it applies even with ``flood_limits=False``).
* Files: photos and documents users send are served by ``getFile`` and then downloaded with
  ``GET {file_base_url}{token}/{file_path}`` (the bytes given, as given); files over 20 MiB are
  refused by ``getFile`` like Telegram does.
* Forum topics made with ``create_topic``: every message in the topic that replies to nothing
  else is a reply to the topic's ``forum_topic_created`` service message, as Telegram sends it.
* Webhooks are only recorded (``webhook``): updates are never posted to the URL, they stay
  pending; ``getUpdates`` answers 409 while a webhook is set, as Telegram does.

Only the standard library is used, so the fake can also serve a bot running as a subprocess.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import email.message
import email.parser
import email.policy
import itertools
import json
import math
import posixpath
import re
import socket
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

JSON = dict[str, Any]

GROUP_ANONYMOUS_BOT_ID = 1087968824
CHANNEL_BOT_ID = 136817688
# The "Telegram" service account that posts automatic forwards into discussion groups.
TELEGRAM_SERVICE_USER_ID = 777000
# The channel an automatic forward comes from when ``send_group`` is not told another.
LINKED_CHANNEL_ID = -1001000000777
MAX_MESSAGE_LENGTH = 4096
# The Bot API lets bots download files of up to 20 MiB.
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
# Photos get a thumbnail that fits this box, like Telegram's smallest ("s") size.
THUMBNAIL_BOX = 90
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})

# Calls counted toward the per-bot limit, and those also counted toward a chat's limit.
FLOOD_PER_BOT_METHODS = frozenset(
    {"sendMessage", "editMessageText", "editMessageReplyMarkup", "deleteMessage"}
)
FLOOD_PER_CHAT_METHODS = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})

_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)

# Parameters whose values are free text: never JSON-decode them even when they look like JSON.
_TEXT_PARAMS = frozenset(
    {
        "text",
        "caption",
        "data",
        "title",
        "description",
        "short_description",
        "name",
        "question",
        "explanation",
        "url",
        "query",
        "callback_query_id",
        "language_code",
        "secret_token",
        "file_id",
    }
)
# Telegram makes a command entity of "/word" or "/word@botname" at the start of a line.
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{1,64})?")

_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_post_messages",
    "can_edit_messages",
    "can_pin_messages",
    "can_manage_topics",
)

_RESTRICTED_RIGHTS = (
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_send_messages",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_manage_topics",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_edit_tag",
    "can_react_to_messages",
)


@dataclass
class Call:
    """One Bot API call as the fake received it.

    ``params`` holds the request's parameters: form and multipart values stay strings except
    JSON objects/arrays (``reply_markup``, ``reply_parameters``, ``commands``, ``scope``, ...),
    which are decoded; a JSON body keeps its own types. ``chat_id`` is the integer chat id when
    the call named one. ``status`` is the HTTP status answered and ``result`` the ``result``
    field of a successful answer. A call appears in ``FakeTelegram.calls`` together with its
    effects, except ``getUpdates``: it appears when it arrives, with ``status`` None until the
    long poll is answered.
    """

    method: str
    params: dict[str, Any]
    at: float
    chat_id: int | None
    status: int | None = None
    result: Any = None
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def text(self) -> str | None:
        """The ``text`` parameter, if the call had one."""
        value = self.params.get("text")
        return None if value is None else str(value)

    @property
    def ok(self) -> bool:
        """Whether the fake answered the call successfully."""
        return self.status == 200

    def summary(self) -> str:
        """A one-line description for assertion messages (never contains the token)."""
        extra = f" text={self.text[:60]!r}" if self.text is not None else ""
        return f"{self.method} chat_id={self.chat_id} status={self.status}{extra}"


@dataclass
class SentMessage:
    """A message in a chat as it currently stands (edits applied, deletion marked).

    ``text`` is the text, or the caption of a photo or document ("" when none); ``reply_markup``
    is the markup the bot last set (any kind); ``payload`` is the Message JSON Telegram would
    return for it now. ``reply_to_message_id`` is the message the payload replies to, including
    the service message of a forum topic made with ``create_topic``.
    """

    chat_id: int
    message_id: int
    text: str
    reply_markup: JSON | None
    from_bot: bool
    date: int
    payload: JSON
    reply_to_message_id: int | None = None
    thread_id: int | None = None
    edited: bool = False
    deleted: bool = False


class _ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad_request(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


def _utf16_len(text: str) -> int:
    """Telegram measures entity offsets and lengths in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSON]:
    """The ``bot_command`` entities Telegram gives ``text``: one per line starting with one."""
    entities: list[JSON] = []
    position = 0
    for line in text.split("\n"):
        match = _COMMAND_RE.match(line)
        if match:
            entities.append(
                {
                    "type": "bot_command",
                    "offset": _utf16_len(text[:position]),
                    "length": _utf16_len(match.group()),
                }
            )
        position += len(line) + 1
    return entities


def _to_int(value: Any, default: int | None = None) -> int | None:
    if value is None or isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        return default


def _to_float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1"}
    return bool(value)


def _decode_value(name: str, value: str) -> Any:
    """JSON-decode a form value that carries an object or array (how PTB sends complex values)."""
    stripped = value.lstrip()
    if name in _TEXT_PARAMS or not stripped.startswith(("{", "[")):
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    return decoded if isinstance(decoded, dict | list) else value


def _decode_pairs(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {name: _decode_value(name, value) for name, value in pairs}


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    params: dict[str, Any] = {}
    files: dict[str, bytes] = {}
    if not message.is_multipart():
        return params, files
    for part in message.get_payload():
        if not isinstance(part, email.message.Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is None:
            params[name] = _decode_value(name, data.decode("utf-8"))
        else:
            files[name] = data
    return params, files


@dataclass
class _StoredFile:
    """A file a user sent, as getFile describes it and the file URL serves it."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    mime_type: str

    def json(self) -> JSON:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG's or a baseline/progressive JPEG's header, if it has one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if not data.startswith(b"\xff\xd8"):
        return None
    index = 2
    while index + 9 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            index += 2
            continue
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + int.from_bytes(data[index + 2 : index + 4], "big")
    return None


def _set_text(message: JSON, text: str) -> None:
    """Set a text message's text and the entities Telegram derives from it."""
    message["text"] = text
    entities = command_entities(text)
    if entities:
        message["entities"] = entities
    else:
        message.pop("entities", None)


def _set_caption(message: JSON, caption: str | None) -> None:
    """Set (or with None or "" remove) a media message's caption and its entities."""
    message.pop("caption", None)
    message.pop("caption_entities", None)
    if caption:
        message["caption"] = caption
        entities = command_entities(caption)
        if entities:
            message["caption_entities"] = entities


def _has_media(message: JSON) -> bool:
    return "photo" in message or "document" in message


class FakeTelegram:
    """A fake Telegram Bot API server; see the module docstring for the contract."""

    def __init__(
        self,
        *,
        token: str = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz",
        bot_id: int = 999000,
        bot_username: str = "DbsTestBot",
        flood_limits: bool = True,
        per_second: int = 30,
        group_per_minute: int = 20,
    ) -> None:
        if per_second < 1 or group_per_minute < 1:
            raise ValueError("flood limits must allow at least one message")
        self.token = token
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.flood_limits = flood_limits
        self.per_second = per_second
        self.group_per_minute = group_per_minute
        self.calls: list[Call] = []
        self.deleted: list[tuple[int, int]] = []
        self.polls = 0
        self.first_poll_at: float | None = None
        # Handler exceptions: a bug in the fake must not pass silently as a network error.
        self.server_errors: list[str] = []
        # (scope as canonical JSON, language_code) -> commands, as setMyCommands stored them.
        self.my_commands: dict[tuple[str, str], list[JSON]] = {}
        self.answered_callbacks: dict[str, JSON] = {}
        # Calls answered 429 because of a flood limit.
        self.flood_rejections = 0
        # The file_path of every file downloaded, in order.
        self.downloads: list[str] = []
        # What setWebhook set (url, secret_token, allowed_updates, drop_pending_updates); None
        # while no webhook is set.
        self.webhook: JSON | None = None

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stopping = False
        self._pending: list[JSON] = []
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_numbers = itertools.count(1)
        self._next_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], SentMessage] = {}
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, JSON] = {}
        self._can_delete: dict[int, bool] = {}
        self._member_status: dict[tuple[int, int], str] = {}
        self._flood: dict[int, int] = {}
        # Monotonic times of the calls counted toward the per-bot and the per-chat limits.
        self._bot_sent_at: deque[float] = deque()
        self._sent_at: dict[int, list[float]] = {}
        self._callback_queries: set[str] = set()
        self._files: dict[str, _StoredFile] = {}
        self._file_paths: dict[str, _StoredFile] = {}
        self._topics: set[tuple[int, int]] = set()

        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._port = 0

    # ----------------------------------------------------------------------------------------
    # Life cycle

    @property
    def base_url(self) -> str:
        """The ``base_url`` to give python-telegram-bot (it appends the token)."""
        if self._server is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def file_base_url(self) -> str:
        """The ``base_file_url`` to give python-telegram-bot (it appends the token)."""
        if self._server is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}/file/bot"

    @property
    def port(self) -> int:
        """The TCP port the server listens on (0 before ``start``)."""
        return self._port

    def start(self) -> FakeTelegram:
        """Start serving in a daemon thread. Raises RuntimeError if already started."""
        if self._server is not None:
            raise RuntimeError("FakeTelegram is already started")
        server = _Server(("127.0.0.1", 0), _make_handler(self))
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; waiting long polls answer at once. Safe to call twice."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            # Idle keep-alive connections would otherwise keep handler threads reading.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------------------------------
    # Configuration

    def set_can_delete(self, chat_id: int, allowed: bool) -> None:
        """Whether deleteMessage succeeds in ``chat_id`` (default True)."""
        with self._lock:
            self._can_delete[chat_id] = allowed

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """The status getChatMember reports (default "member"; the bot itself: administrator).

        Raises ValueError for a status Telegram does not have.
        """
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unknown chat member status {status!r}")
        with self._lock:
            self._member_status[(chat_id, user_id)] = status

    def flood_limit(self, chat_id: int, per_minute: int) -> None:
        """Answer 429 to sendMessage and edits in ``chat_id`` beyond ``per_minute`` a minute.

        It replaces the default per-group limit for that chat, also counts the calls already
        made in the last 60 seconds, and applies even with ``flood_limits=False``.
        """
        with self._lock:
            self._flood[chat_id] = per_minute

    # ----------------------------------------------------------------------------------------
    # Injecting updates

    def send_private(
        self,
        user_id: int,
        text: str,
        *,
        language_code: str | None = "en",
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
        is_bot: bool = False,
        reply_to: int | None = None,
        forward_from_user_id: int | None = None,
    ) -> int:
        """A user writes ``text`` to the bot in private; returns the new message id.

        With ``forward_from_user_id`` the message is a forward of that user's message
        (``forward_origin`` of type "user").
        """
        with self._cond:
            user = self._remember_user(
                user_id, first_name, language_code, is_bot, last_name, username
            )
            extra: JSON = {}
            if forward_from_user_id is not None:
                extra["forward_origin"] = self._user_origin(forward_from_user_id)
            return self._post(
                self._private_chat(user), user, {"text": text}, reply_to=reply_to, extra=extra
            )

    def send_group(
        self,
        chat_id: int,
        user_id: int | None,
        text: str,
        *,
        language_code: str | None = "en",
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
        chat_type: str = "supergroup",
        title: str = "Shop group",
        reply_to: int | None = None,
        reply_to_user_id: int | None = None,
        sender_chat_id: int | None = None,
        is_bot: bool = False,
        thread_id: int | None = None,
        forwarded_from_user_id: int | None = None,
        is_automatic_forward: bool = False,
    ) -> int:
        """Someone writes ``text`` in group ``chat_id``; returns the new message id.

        With ``sender_chat_id`` (or ``user_id=None``) the sender is anonymous: ``sender_chat`` is
        the group itself (an anonymous admin, ``from`` = GroupAnonymousBot) or another chat (a
        channel, ``from`` = Channel_Bot). ``reply_to`` makes the message a reply to that message;
        ``reply_to_user_id`` sets who wrote it when the fake does not know the message. In a
        topic made with ``create_topic`` a message without ``reply_to`` replies to the topic's
        service message. ``forwarded_from_user_id`` makes it a forward of that user's message.

        ``is_automatic_forward`` makes it a channel post Telegram forwarded into the channel's
        discussion group: ``from`` is the Telegram service user (777000), ``sender_chat`` and
        ``forward_origin`` name the channel (``sender_chat_id``, default ``LINKED_CHANNEL_ID``);
        ``user_id`` must then be None. Raises ValueError otherwise.
        """
        with self._cond:
            chat, user, extra = self._group_sender(
                chat_id,
                user_id,
                chat_type=chat_type,
                title=title,
                sender_chat_id=sender_chat_id,
                is_bot=is_bot,
                first_name=first_name,
                last_name=last_name,
                username=username,
                language_code=language_code,
                thread_id=thread_id,
                is_automatic_forward=is_automatic_forward,
            )
            if forwarded_from_user_id is not None and not is_automatic_forward:
                extra["forward_origin"] = self._user_origin(forwarded_from_user_id)
            return self._post(
                chat,
                user,
                {"text": text},
                reply_to=reply_to,
                reply_to_user_id=reply_to_user_id,
                thread_id=thread_id,
                extra=extra,
            )

    def send_photo(
        self,
        chat_id: int,
        user_id: int | None,
        image: bytes,
        *,
        caption: str | None = None,
        width: int | None = None,
        height: int | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
        language_code: str | None = "en",
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """A user sends the photo ``image`` (any bytes) to a chat; returns the new message id.

        ``chat_id`` is the user's id for a private chat (``user_id`` must equal it) or a group's
        negative id (as in ``send_group``: ``user_id=None`` is an anonymous admin). The message's
        ``photo`` lists a thumbnail that fits 90×90 and the full size, each with its own
        ``file_id``; both serve ``image`` as given. ``width``/``height`` default to the size in
        a PNG or JPEG header, else 1280×960. ``caption`` gets ``caption_entities`` for commands.
        """
        size = _image_size(image) or (1280, 960)
        full_width, full_height = width or size[0], height or size[1]
        scale = min(1.0, THUMBNAIL_BOX / max(full_width, full_height, 1))
        with self._cond:
            chat, user, extra = self._media_sender(
                chat_id, user_id, first_name, last_name, username, language_code, thread_id
            )
            thumbnail = self._add_file(image, "photos", ".jpg", "image/jpeg").json()
            thumbnail["width"] = max(1, round(full_width * scale))
            thumbnail["height"] = max(1, round(full_height * scale))
            full = self._add_file(image, "photos", ".jpg", "image/jpeg").json()
            full.update(width=full_width, height=full_height)
            content: JSON = {"photo": [thumbnail, full]}
            _set_caption(content, caption)
            return self._post(
                chat, user, content, reply_to=reply_to, thread_id=thread_id, extra=extra
            )

    def send_document(
        self,
        chat_id: int,
        user_id: int | None,
        data: bytes,
        *,
        file_name: str = "label.jpg",
        mime_type: str = "image/jpeg",
        caption: str | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
        language_code: str | None = "en",
        first_name: str = "User",
        last_name: str | None = None,
        username: str | None = None,
    ) -> int:
        """A user sends ``data`` as a file (a ``document``); otherwise like ``send_photo``."""
        extension = posixpath.splitext(file_name)[1] or ".bin"
        with self._cond:
            chat, user, extra = self._media_sender(
                chat_id, user_id, first_name, last_name, username, language_code, thread_id
            )
            document = self._add_file(data, "documents", extension, mime_type).json()
            content: JSON = {
                "document": {"file_name": file_name, "mime_type": mime_type, **document}
            }
            _set_caption(content, caption)
            return self._post(
                chat, user, content, reply_to=reply_to, thread_id=thread_id, extra=extra
            )

    def edit_user_message(self, chat_id: int, message_id: int, new_text: str) -> None:
        """The author edits message ``message_id``: an ``edited_message`` update is queued.

        A text message gets ``new_text`` as text, a photo or document as caption (an empty one
        removes it); entities are recomputed and ``edit_date`` is set. Raises ValueError for an
        unknown or deleted message, one the bot sent, or one without text or caption to edit.
        """
        with self._cond:
            stored = self._messages.get((chat_id, message_id))
            if stored is None or stored.deleted or stored.from_bot:
                raise ValueError(f"no user message {message_id} in chat {chat_id} to edit")
            payload = stored.payload
            if _has_media(payload):
                _set_caption(payload, new_text)
            elif "text" in payload and new_text.strip():
                _set_text(payload, new_text)
            else:
                raise ValueError(f"message {message_id} in chat {chat_id} has no text to edit")
            payload["edit_date"] = int(time.time())
            stored.text = new_text
            stored.edited = True
            self._push({"edited_message": copy.deepcopy(payload)})

    def create_topic(
        self, chat_id: int, user_id: int, name: str, *, icon_color: int = 0x6FB9F0
    ) -> int:
        """``user_id`` creates forum topic ``name`` in supergroup ``chat_id``; returns its id.

        Queues the ``forum_topic_created`` service message, whose message id is the topic's
        ``message_thread_id``; the chat becomes a forum. Raises ValueError for a non-group id.
        """
        if chat_id >= 0:
            raise ValueError("forum topics exist only in supergroups (negative chat ids)")
        with self._cond:
            known = self._chats.get(chat_id, {})
            chat: JSON = {
                "id": chat_id,
                "type": "supergroup",
                "title": known.get("title", "Shop group"),
                "is_forum": True,
            }
            self._chats[chat_id] = chat
            user = copy.deepcopy(self._users.get(user_id, _default_user(user_id)))
            thread_id = self._next_message_id.get(chat_id, 1)
            self._topics.add((chat_id, thread_id))
            content = {"forum_topic_created": {"name": name, "icon_color": icon_color}}
            return self._post(chat, user, content, reply_to=None, thread_id=thread_id)

    def press_button(
        self,
        user_id: int,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        language_code: str | None = "en",
    ) -> str:
        """A user presses an inline button with ``data`` under message ``message_id``.

        Returns the callback query id the bot must answer.
        """
        with self._cond:
            known = self._users.get(user_id, {})
            user = self._remember_user(
                user_id,
                known.get("first_name", "User"),
                language_code,
                known.get("is_bot", False),
                known.get("last_name"),
                known.get("username"),
            )
            stored = self._messages.get((chat_id, message_id))
            if stored is not None:
                message = copy.deepcopy(stored.payload)
            else:
                message = {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": self._chat_json(chat_id),
                    "from": self._bot_user(),
                    "text": "",
                }
            query_id = str(4_000_000_000 + next(self._callback_ids))
            self._callback_queries.add(query_id)
            query = {
                "id": query_id,
                "from": user,
                "chat_instance": str(abs(chat_id) * 31 + 7),
                "message": message,
                "data": data,
            }
            self._push({"callback_query": query})
            return query_id

    def inject_raw(self, update: JSON) -> None:
        """Queue ``update`` as is, with a fresh ``update_id``."""
        with self._cond:
            update = copy.deepcopy(update)
            update.pop("update_id", None)
            message = update.get("message")
            if isinstance(message, dict):
                self._remember_raw_message(message)
            self._push(update)

    # ----------------------------------------------------------------------------------------
    # Observing

    def calls_of(self, method: str) -> list[Call]:
        """The recorded calls of ``method`` (case-insensitive), in order."""
        wanted = method.lower()
        with self._lock:
            return [call for call in self.calls if call.method.lower() == wanted]

    def wait_for(
        self, predicate: Callable[[Call], bool], timeout: float = 5.0, *, since: int = 0
    ) -> Call:
        """Block until a recorded call (from index ``since`` on) matches ``predicate``.

        Raises AssertionError listing the recent calls if none matches within ``timeout``.
        """
        deadline = time.monotonic() + timeout
        checked = since
        with self._cond:
            while True:
                while checked < len(self.calls):
                    call = self.calls[checked]
                    checked += 1
                    if predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_report(timeout))
                self._cond.wait(remaining)

    async def await_call(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> Call:
        """``wait_for`` for async tests; the event loop keeps running meanwhile."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout, since=since)

    def sent_texts(self, chat_id: int) -> list[str]:
        """Texts of successful sendMessage and editMessageText calls to ``chat_id``, in order."""
        with self._lock:
            return [
                str(call.params.get("text", ""))
                for call in self.calls
                if call.method in ("sendMessage", "editMessageText")
                and call.chat_id == chat_id
                and call.ok
            ]

    def messages(self, chat_id: int) -> dict[int, SentMessage]:
        """The bot's messages in ``chat_id`` by id: current text and markup, deletions marked."""
        with self._lock:
            return {
                message_id: dataclasses.replace(stored, payload=copy.deepcopy(stored.payload))
                for (chat, message_id), stored in sorted(self._messages.items())
                if chat == chat_id and stored.from_bot
            }

    def pending_updates(self) -> int:
        """How many injected updates the bot has not confirmed yet."""
        with self._lock:
            return len(self._pending)

    def commands_for(
        self, scope: JSON | str = "default", language_code: str = ""
    ) -> list[JSON] | None:
        """The commands set for ``scope`` (a scope object or just its type), or None if unset."""
        scope_json = {"type": scope} if isinstance(scope, str) else scope
        with self._lock:
            commands = self.my_commands.get((_scope_key(scope_json), language_code))
            return copy.deepcopy(commands)

    # ----------------------------------------------------------------------------------------
    # Internals (called with the lock held unless said otherwise)

    def _timeout_report(self, timeout: float) -> str:
        recent = self.calls[-15:]
        lines = "\n".join(f"  {call.summary()}" for call in recent) or "  (none)"
        return (
            f"no matching Telegram call within {timeout:.1f} s; "
            f"{len(self.calls)} calls, the last ones:\n{lines}"
        )

    def _push(self, update: JSON) -> None:
        update["update_id"] = next(self._update_ids)
        self._pending.append(update)
        self._cond.notify_all()

    def _bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "DBS Test Bot",
            "username": self.bot_username,
        }

    def _remember_user(
        self,
        user_id: int,
        first_name: str,
        language_code: str | None,
        is_bot: bool,
        last_name: str | None = None,
        username: str | None = None,
    ) -> JSON:
        user: JSON = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        return copy.deepcopy(user)

    def _private_chat(self, user: JSON) -> JSON:
        chat: JSON = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        self._chats[user["id"]] = chat
        return chat

    def _user_origin(self, user_id: int) -> JSON:
        """``forward_origin`` of a message forwarded from ``user_id``'s."""
        sender = copy.deepcopy(self._users.get(user_id, _default_user(user_id)))
        sender.pop("language_code", None)
        return {"type": "user", "date": int(time.time()) - 60, "sender_user": sender}

    def _group_sender(
        self,
        chat_id: int,
        user_id: int | None,
        *,
        chat_type: str,
        title: str,
        sender_chat_id: int | None,
        is_bot: bool,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        thread_id: int | None,
        is_automatic_forward: bool = False,
    ) -> tuple[JSON, JSON, JSON]:
        """The chat, the ``from`` user and the sender's extra message fields in a group."""
        chat: JSON = {"id": chat_id, "type": chat_type, "title": title}
        if thread_id is not None or self._chats.get(chat_id, {}).get("is_forum"):
            chat["is_forum"] = True
        extra: JSON = {}
        if is_automatic_forward:
            if user_id is not None:
                raise ValueError("an automatic forward is sent by Telegram: pass user_id=None")
            channel_id = LINKED_CHANNEL_ID if sender_chat_id is None else sender_chat_id
            if channel_id == chat_id:
                raise ValueError("an automatic forward comes from a channel, not the group")
            channel: JSON = {"id": channel_id, "type": "channel", "title": "Channel"}
            extra["sender_chat"] = channel
            extra["is_automatic_forward"] = True
            extra["forward_origin"] = {
                "type": "channel",
                "date": int(time.time()),
                "chat": channel,
                "message_id": self._new_message_id(channel_id),
            }
            user = {"id": TELEGRAM_SERVICE_USER_ID, "is_bot": False, "first_name": "Telegram"}
        elif sender_chat_id is None and user_id is not None:
            user = self._remember_user(
                user_id, first_name, language_code, is_bot, last_name, username
            )
        elif sender_chat_id is None or sender_chat_id == chat_id:
            extra["sender_chat"] = chat
            user = {
                "id": GROUP_ANONYMOUS_BOT_ID,
                "is_bot": True,
                "first_name": "Group",
                "username": "GroupAnonymousBot",
            }
        else:
            extra["sender_chat"] = {"id": sender_chat_id, "type": "channel", "title": "Channel"}
            user = {
                "id": CHANNEL_BOT_ID,
                "is_bot": True,
                "first_name": "Channel",
                "username": "Channel_Bot",
            }
        self._chats[chat_id] = chat
        return chat, user, copy.deepcopy(extra)

    def _media_sender(
        self,
        chat_id: int,
        user_id: int | None,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        thread_id: int | None,
    ) -> tuple[JSON, JSON, JSON]:
        """``_group_sender`` for a photo or document, in a private chat or a known group."""
        if chat_id > 0:
            if user_id != chat_id:
                raise ValueError("in a private chat the sender is the chat: user_id == chat_id")
            user = self._remember_user(
                chat_id, first_name, language_code, False, last_name, username
            )
            return self._private_chat(user), user, {}
        known = self._chats.get(chat_id, {})
        return self._group_sender(
            chat_id,
            user_id,
            chat_type=known.get("type", "supergroup"),
            title=known.get("title", "Shop group"),
            sender_chat_id=None,
            is_bot=False,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            thread_id=thread_id,
        )

    def _add_file(self, data: bytes, folder: str, extension: str, mime_type: str) -> _StoredFile:
        number = next(self._file_numbers)
        kind = "AgAC" if folder == "photos" else "BQAC"
        stored = _StoredFile(
            file_id=f"{kind}fake{number:06d}",
            file_unique_id=f"AQADfake{number:06d}",
            file_path=f"{folder}/file_{number}{extension}",
            data=bytes(data),
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        self._file_paths[stored.file_path] = stored
        return stored

    def _chat_json(self, chat_id: int) -> JSON:
        known = self._chats.get(chat_id)
        if known is not None:
            return copy.deepcopy(known)
        if chat_id > 0:
            first_name = self._users.get(chat_id, {}).get("first_name", "User")
            return {"id": chat_id, "type": "private", "first_name": first_name}
        chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": chat_type, "title": "Group"}

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        return message_id

    def _reply_json(self, chat_id: int, message_id: int, user_id: int | None) -> JSON:
        """The ``reply_to_message`` Telegram nests: the replied message without its own reply."""
        stored = self._messages.get((chat_id, message_id))
        if stored is not None and not stored.deleted:
            reply = copy.deepcopy(stored.payload)
            reply.pop("reply_to_message", None)
            if user_id is not None:
                reply["from"] = copy.deepcopy(self._users.get(user_id, _default_user(user_id)))
            return reply
        if user_id is None or user_id == self.bot_id:
            author = self._bot_user()
        else:
            author = copy.deepcopy(self._users.get(user_id, _default_user(user_id)))
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat_json(chat_id),
            "from": author,
            "text": "",
        }

    def _topic_reply(self, chat_id: int, thread_id: int | None, message_id: int) -> int | None:
        """The topic service message a message in a ``create_topic`` topic implicitly replies to."""
        if thread_id is None or thread_id == message_id or (chat_id, thread_id) not in self._topics:
            return None
        stored = self._messages.get((chat_id, thread_id))
        return None if stored is None or stored.deleted else thread_id

    def _post(
        self,
        chat: JSON,
        user: JSON,
        content: JSON,
        *,
        reply_to: int | None,
        reply_to_user_id: int | None = None,
        thread_id: int | None = None,
        extra: JSON | None = None,
    ) -> int:
        """Store a user's message with ``content`` (text, photo, ...) and queue it as an update."""
        chat_id = int(chat["id"])
        message_id = self._new_message_id(chat_id)
        message: JSON = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": copy.deepcopy(chat),
            "from": user,
        }
        if "text" in content:
            _set_text(message, str(content["text"]))
        message.update({key: value for key, value in content.items() if key != "text"})
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if reply_to is None:
            reply_to = self._topic_reply(chat_id, thread_id, message_id)
        if reply_to is not None:
            message["reply_to_message"] = self._reply_json(chat_id, reply_to, reply_to_user_id)
        message.update(extra or {})
        self._store(message, from_bot=False, reply_to=reply_to, thread_id=thread_id)
        self._push({"message": message})
        return message_id

    def _store(
        self,
        message: JSON,
        *,
        from_bot: bool,
        reply_to: int | None,
        thread_id: int | None,
        markup: JSON | None = None,
    ) -> None:
        chat_id = int(message["chat"]["id"])
        self._messages[(chat_id, int(message["message_id"]))] = SentMessage(
            chat_id=chat_id,
            message_id=int(message["message_id"]),
            text=str(message.get("text", message.get("caption", ""))),
            reply_markup=copy.deepcopy(markup),
            from_bot=from_bot,
            date=int(message["date"]),
            payload=copy.deepcopy(message),
            reply_to_message_id=reply_to,
            thread_id=thread_id,
        )

    def _remember_raw_message(self, message: JSON) -> None:
        chat = message.get("chat")
        message_id = _to_int(message.get("message_id"))
        if not isinstance(chat, dict) or message_id is None:
            return
        chat_id = _to_int(chat.get("id"))
        if chat_id is None:
            return
        self._next_message_id[chat_id] = max(self._next_message_id.get(chat_id, 1), message_id + 1)
        self._messages.setdefault(
            (chat_id, message_id),
            SentMessage(
                chat_id=chat_id,
                message_id=message_id,
                text=str(message.get("text", message.get("caption", ""))),
                reply_markup=None,
                from_bot=False,
                date=_to_int(message.get("date"), 0) or 0,
                payload=copy.deepcopy(message),
            ),
        )

    # ----------------------------------------------------------------------------------------
    # Request handling (called from the server's threads)

    def handle(
        self, method: str, params: dict[str, Any], files: dict[str, bytes]
    ) -> tuple[int, JSON]:
        """Answer one Bot API call: returns the HTTP status and the JSON body."""
        canonical = _METHODS.get(method.lower())
        call = Call(
            method=canonical or method,
            params=params,
            at=time.monotonic(),
            chat_id=_to_int(params.get("chat_id")),
            files=files,
        )
        if canonical == "getUpdates":
            # Recorded before the long poll so that tests and benchmarks see it start.
            with self._cond:
                self.calls.append(call)
                self.polls += 1
                if self.first_poll_at is None:
                    self.first_poll_at = call.at
                self._cond.notify_all()
            status, body = self._answer(lambda: self._get_updates(params))
            with self._cond:
                call.status, call.result = status, body.get("result")
                self._cond.notify_all()
            return status, body
        with self._cond:
            self.calls.append(call)
            if canonical is None:
                status, body = 404, _error_body(_ApiError(404, "Not Found"))
            else:
                handler = getattr(self, f"_api_{canonical}")
                status, body = self._answer(lambda: self._limited(canonical, call, handler))
            call.status, call.result = status, copy.deepcopy(body.get("result"))
            self._cond.notify_all()
            return status, body

    def _answer(self, produce: Callable[[], Any]) -> tuple[int, JSON]:
        try:
            return 200, {"ok": True, "result": produce()}
        except _ApiError as error:
            return error.code, _error_body(error)
        except Exception:
            self.server_errors.append(traceback.format_exc())
            return 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}

    def _limited(self, method: str, call: Call, handler: Callable[[dict[str, Any]], Any]) -> Any:
        """Run ``handler`` within the flood limits: a 429 instead, or the call counted."""
        now = time.monotonic()
        self._check_flood(method, call.chat_id, now)
        result = handler(call.params)
        if method in FLOOD_PER_BOT_METHODS:
            self._bot_sent_at.append(now)
            if call.chat_id is not None and method in FLOOD_PER_CHAT_METHODS:
                sent = self._sent_at.setdefault(call.chat_id, [])
                if sent and now - sent[0] >= 60:
                    sent[:] = [at for at in sent if now - at < 60]
                sent.append(now)
        return result

    def _check_flood(self, method: str, chat_id: int | None, now: float) -> None:
        if method not in FLOOD_PER_BOT_METHODS:
            return
        bot_window = self._bot_sent_at
        while bot_window and now - bot_window[0] >= 1:
            bot_window.popleft()
        retry_after = 0
        if self.flood_limits and len(bot_window) >= self.per_second:
            # Room again once the call that leaves the count at the limit is a second old.
            retry_after = math.ceil(1 - (now - bot_window[len(bot_window) - self.per_second]))
        limit = None if chat_id is None else self._flood.get(chat_id)
        if limit is None and self.flood_limits and chat_id is not None and chat_id < 0:
            limit = self.group_per_minute
        if limit is not None and method in FLOOD_PER_CHAT_METHODS:
            assert chat_id is not None
            recent = [at for at in self._sent_at.get(chat_id, []) if now - at < 60]
            self._sent_at[chat_id] = recent
            if len(recent) >= limit:
                oldest = recent[len(recent) - limit] if limit > 0 else now
                retry_after = max(retry_after, math.ceil(60 - (now - oldest)))
        if retry_after:
            self.flood_rejections += 1
            retry_after = max(1, retry_after)
            raise _ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )

    def _get_updates(self, params: dict[str, Any]) -> list[JSON]:
        offset = _to_int(params.get("offset"), 0) or 0
        limit = min(max(_to_int(params.get("limit"), 100) or 100, 1), 100)
        timeout = max(_to_float(params.get("timeout"), 0.0), 0.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self.webhook is not None:
                raise _ApiError(409, _WEBHOOK_CONFLICT)
            while True:
                if self.webhook is not None:
                    raise _ApiError(409, "Conflict: terminated by setWebhook request")
                if offset > 0:
                    self._pending = [u for u in self._pending if u["update_id"] >= offset]
                elif offset < 0:
                    self._pending = self._pending[offset:]
                if self._pending or self._stopping:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return copy.deepcopy(self._pending[:limit])

    def _api_getMe(self, params: dict[str, Any]) -> JSON:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "").strip()
        if not url:
            # An empty URL removes the webhook, as deleteWebhook does.
            return self._api_deleteWebhook(params)
        if not url.lower().startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        allowed = params.get("allowed_updates")
        drop = _to_bool(params.get("drop_pending_updates", False))
        if drop:
            self._pending.clear()
        secret = params.get("secret_token")
        self.webhook = {
            "url": url,
            "secret_token": None if secret is None else str(secret),
            "allowed_updates": copy.deepcopy(allowed) if isinstance(allowed, list) else None,
            "drop_pending_updates": drop,
        }
        return True

    def _api_deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        if _to_bool(params.get("drop_pending_updates", False)):
            self._pending.clear()
        return True

    def _api_getWebhookInfo(self, params: dict[str, Any]) -> JSON:
        info: JSON = {
            "url": "" if self.webhook is None else self.webhook["url"],
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None:
            info["max_connections"] = 40
            if self.webhook["allowed_updates"] is not None:
                info["allowed_updates"] = copy.deepcopy(self.webhook["allowed_updates"])
        return info

    def _require_chat(self, params: dict[str, Any]) -> int:
        chat_id = _to_int(params.get("chat_id"))
        if chat_id is None:
            if params.get("chat_id") in (None, ""):
                raise _bad_request("chat_id is empty")
            raise _bad_request("chat not found")
        return chat_id

    def _require_message_id(self, params: dict[str, Any]) -> int:
        message_id = _to_int(params.get("message_id"))
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        return message_id

    def _api_sendMessage(self, params: dict[str, Any]) -> JSON:
        chat_id = self._require_chat(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise _bad_request("message text is empty")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")

        reply_parameters = params.get("reply_parameters")
        reply_to: int | None = None
        allow_without_reply = _to_bool(params.get("allow_sending_without_reply", False))
        if isinstance(reply_parameters, dict):
            reply_to = _to_int(reply_parameters.get("message_id"))
            allow_without_reply = allow_without_reply or _to_bool(
                reply_parameters.get("allow_sending_without_reply", False)
            )
        elif params.get("reply_to_message_id") is not None:
            reply_to = _to_int(params.get("reply_to_message_id"))
        reply_json: JSON | None = None
        if reply_to is not None:
            replied = self._messages.get((chat_id, reply_to))
            if replied is None or replied.deleted:
                if not allow_without_reply:
                    raise _bad_request("message to be replied not found")
                reply_to = None
            else:
                reply_json = self._reply_json(chat_id, reply_to, None)

        markup = params.get("reply_markup")
        markup = markup if isinstance(markup, dict) else None
        thread_id = _to_int(params.get("message_thread_id"))
        message_id = self._new_message_id(chat_id)
        message: JSON = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat_json(chat_id),
            "from": self._bot_user(),
        }
        _set_text(message, text)
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if reply_json is None:
            reply_to = self._topic_reply(chat_id, thread_id, message_id)
            if reply_to is not None:
                reply_json = self._reply_json(chat_id, reply_to, None)
        if reply_json is not None:
            message["reply_to_message"] = reply_json
        _set_markup(message, markup)
        self._store(message, from_bot=True, reply_to=reply_to, thread_id=thread_id, markup=markup)
        return message

    def _editable(self, params: dict[str, Any]) -> SentMessage:
        if params.get("inline_message_id") is not None:
            raise _bad_request("inline messages are not supported by the fake")
        chat_id = self._require_chat(params)
        message_id = self._require_message_id(params)
        stored = self._messages.get((chat_id, message_id))
        if stored is None or stored.deleted:
            raise _bad_request("message to edit not found")
        if not stored.from_bot:
            raise _bad_request("message can't be edited")
        return stored

    def _api_editMessageText(self, params: dict[str, Any]) -> JSON:
        stored = self._editable(params)
        text = str(params.get("text", ""))
        if not text.strip():
            raise _bad_request("message text is empty")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")
        markup = params.get("reply_markup")
        markup = markup if isinstance(markup, dict) else None
        if text == stored.text and _inline(markup) == _inline(stored.reply_markup):
            raise _not_modified()
        stored.text = text
        _set_text(stored.payload, text)
        # Telegram drops the inline keyboard when an edit does not repeat it.
        stored.reply_markup = copy.deepcopy(markup)
        _set_markup(stored.payload, markup)
        return self._mark_edited(stored)

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> JSON:
        stored = self._editable(params)
        markup = params.get("reply_markup")
        markup = markup if isinstance(markup, dict) else None
        if _inline(markup) == _inline(stored.reply_markup):
            raise _not_modified()
        stored.reply_markup = copy.deepcopy(markup)
        _set_markup(stored.payload, markup)
        return self._mark_edited(stored)

    def _mark_edited(self, stored: SentMessage) -> JSON:
        stored.edited = True
        stored.payload["edit_date"] = int(time.time())
        return copy.deepcopy(stored.payload)

    def _api_deleteMessage(self, params: dict[str, Any]) -> bool:
        chat_id = self._require_chat(params)
        message_id = self._require_message_id(params)
        stored = self._messages.get((chat_id, message_id))
        if stored is None or stored.deleted:
            raise _bad_request("message to delete not found")
        if not self._can_delete.get(chat_id, True):
            raise _bad_request("message can't be deleted")
        stored.deleted = True
        self.deleted.append((chat_id, message_id))
        return True

    def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        self.my_commands[self._commands_key(params)] = copy.deepcopy(commands)
        return True

    def _api_deleteMyCommands(self, params: dict[str, Any]) -> bool:
        self.my_commands.pop(self._commands_key(params), None)
        return True

    def _api_getMyCommands(self, params: dict[str, Any]) -> list[JSON]:
        return copy.deepcopy(self.my_commands.get(self._commands_key(params), []))

    def _commands_key(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope")
        scope_json = scope if isinstance(scope, dict) else {"type": "default"}
        return _scope_key(scope_json), str(params.get("language_code") or "")

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._callback_queries or query_id in self.answered_callbacks:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.answered_callbacks[query_id] = copy.deepcopy(params)
        return True

    def _api_getChatMember(self, params: dict[str, Any]) -> JSON:
        chat_id = self._require_chat(params)
        user_id = _to_int(params.get("user_id"))
        if user_id is None:
            raise _bad_request("invalid user_id specified")
        status = self._member_status.get((chat_id, user_id))
        if user_id == self.bot_id:
            user = self._bot_user()
            status = status or "administrator"
        else:
            user = copy.deepcopy(
                self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": "User"})
            )
            status = status or "member"
        return _chat_member(user, status)

    def _api_sendChatAction(self, params: dict[str, Any]) -> bool:
        self._require_chat(params)
        return True

    def _api_setMessageReaction(self, params: dict[str, Any]) -> bool:
        self._require_chat(params)
        self._require_message_id(params)
        return True

    def _api_getFile(self, params: dict[str, Any]) -> JSON:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_SIZE:
            raise _bad_request("file is too big")
        return {**stored.json(), "file_path": stored.file_path}

    def _serve_file(self, path: str) -> tuple[int, bytes, str]:
        """Serve ``GET /file/bot<token>/<file_path>``: the status, body and content type.

        Called from the server's threads without the lock held.
        """
        prefix = f"/file/bot{self.token}/"
        path = unquote(path)
        with self._cond:
            stored = self._file_paths.get(path[len(prefix) :]) if path.startswith(prefix) else None
            if stored is not None and len(stored.data) <= MAX_DOWNLOAD_SIZE:
                self.downloads.append(stored.file_path)
                self._cond.notify_all()
                return 200, stored.data, stored.mime_type
        body = json.dumps(_error_body(_ApiError(404, "Not Found"))).encode()
        return 404, body, "application/json"

    def _api_close(self, params: dict[str, Any]) -> bool:
        return True

    def _api_logOut(self, params: dict[str, Any]) -> bool:
        return True


_METHODS = {
    name.lower(): name
    for name in (
        "getMe",
        "deleteWebhook",
        "getWebhookInfo",
        "setWebhook",
        "getUpdates",
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
        "setMessageReaction",
        "getFile",
        "setMyCommands",
        "deleteMyCommands",
        "getMyCommands",
        "answerCallbackQuery",
        "getChatMember",
        "sendChatAction",
        "close",
        "logOut",
    )
}


def _error_body(error: _ApiError) -> JSON:
    body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return body


def _not_modified() -> _ApiError:
    return _bad_request(
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )


def _inline(markup: JSON | None) -> JSON | None:
    """The part of a markup a Message keeps: only inline keyboards belong to a message."""
    if markup is None or "inline_keyboard" not in markup:
        return None
    return markup


def _set_markup(message: JSON, markup: JSON | None) -> None:
    inline = _inline(markup)
    if inline is None:
        message.pop("reply_markup", None)
    else:
        message["reply_markup"] = copy.deepcopy(inline)


def _scope_key(scope: JSON) -> str:
    return json.dumps(scope, sort_keys=True, separators=(",", ":"))


def _chat_member(user: JSON, status: str) -> JSON:
    member: JSON = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update({"can_be_edited": False, "is_anonymous": False})
        member.update(dict.fromkeys(_ADMIN_RIGHTS, True))
    elif status == "restricted":
        member.update({"is_member": True, "until_date": 0})
        member.update(dict.fromkeys(_RESTRICTED_RIGHTS, False))
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _read_chunked(stream: Any) -> bytes:
    chunks: list[bytes] = []
    while True:
        size_line = stream.readline()
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            # Trailer section ends with an empty line.
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        chunks.append(stream.read(size))
        stream.readline()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops connections when a burst opens many at once.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection resets are normal for a test server; anything else is a bug worth printing."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        traceback.print_exc()


def _default_user(user_id: int) -> JSON:
    return {"id": user_id, "is_bot": False, "first_name": "User"}


def _make_handler(fake: FakeTelegram) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive, as httpx pools connections: the bot's requests then cost no new handshake.
        protocol_version = "HTTP/1.1"
        # Headers and body leave in one segment: with Nagle's algorithm and delayed ACKs a
        # split answer costs 40 ms per call on loopback.
        disable_nagle_algorithm = True
        wbufsize = 64 * 1024

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._connections.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: request lines would carry the bot token."""

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            try:
                path = urlsplit(self.path).path
                if path.startswith("/file/"):
                    self._read_body()
                    status, payload, content_type = fake._serve_file(path)
                else:
                    status, body = self._dispatch()
                    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
                    content_type = "application/json"
            except (OSError, ValueError):
                self.close_connection = True
                return
            self._respond(status, payload, content_type)

        def _dispatch(self) -> tuple[int, JSON]:
            url = urlsplit(self.path)
            body = self._read_body()
            parts = url.path.split("/")
            # "/bot<token>/<method>" splits into ["", "bot<token>", "<method>"].
            if len(parts) != 3 or not parts[1].startswith("bot") or not parts[2]:
                return 404, _error_body(_ApiError(404, "Not Found"))
            if parts[1][3:] != fake.token:
                return 401, _error_body(_ApiError(401, "Unauthorized"))
            params = _decode_pairs(parse_qsl(url.query, keep_blank_values=True))
            files: dict[str, bytes] = {}
            content_type = self.headers.get("Content-Type", "")
            kind = content_type.split(";", 1)[0].strip().lower()
            if kind == "application/x-www-form-urlencoded":
                pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                params.update(_decode_pairs(pairs))
            elif kind == "application/json" and body.strip():
                try:
                    decoded = json.loads(body)
                except ValueError:
                    decoded = None
                if not isinstance(decoded, dict):
                    return 400, _error_body(_bad_request("request body must be a JSON object"))
                params.update(
                    {
                        key: _decode_value(key, value) if isinstance(value, str) else value
                        for key, value in decoded.items()
                    }
                )
            elif kind == "multipart/form-data":
                form, files = _parse_multipart(content_type, body)
                params.update(form)
            return fake.handle(parts[2], params, files)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return _read_chunked(self.rfile)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def _respond(self, status: int, payload: bytes, content_type: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
            except OSError:
                # The client went away (a cancelled long poll, a stopped bot): nothing to answer.
                self.close_connection = True

    return Handler
