"""What every handler gets and gives back: the shared services, the request, the outcome.

``Services`` is built once by ``bot.app`` and stored in ``application.bot_data``. The runner that
executes Market writes is seen here only through the ``OperationSubmitter`` protocol, so
handlers do not import the application layer. A handler returns an ``Outcome``; the command
wrapper (``handlers.dispatch``) logs it and writes it to the audit log.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlite_utils import Database
from telegram import InlineKeyboardMarkup, Message, Update, User
from telegram.ext import ContextTypes

from bot.market.client import MarketClient
from bot.market.models import DeliveryService
from handlers.access import ChatKind
from handlers.messaging import send_text
from handlers.parsing import sanitize
from handlers.texts import Lang, language_for, t
from storage import prefs
from storage.operations import NewBatch, NewOperation
from storage.secrets import KeyBox

# Telegram's id of "GroupAnonymousBot", the sender shown for anonymous group admins.
ANONYMOUS_ADMIN_ID = 1087968824
# Telegram's service account: the sender of channel posts forwarded into a discussion group.
TELEGRAM_SERVICE_ID = 777000
NAME_LIMIT = 40


def display_name(user: User | None) -> str:
    """A person's name as the bot shows it: bidi, zero-width and other invisible characters
    dropped, at most ``NAME_LIMIT`` characters, "?" when nothing is left."""
    return (sanitize(user.full_name, NAME_LIMIT) if user is not None else "") or "?"


@dataclass
class StrangerLimiter:
    """How many commands of people with no role in any shop are handled at all.

    At most ``per_person`` a ``window`` from one sender and ``overall`` a window from all of
    them together, so neither one stranger nor a crowd can fill the bot's outgoing queue and
    delay the answers members wait for. A ``vouched`` command (one carrying a valid invite)
    counts toward the overall limit but is not stopped by it.
    """

    per_person: int = 5
    overall: int = 20
    window: timedelta = timedelta(minutes=1)
    _by_sender: dict[int, deque[datetime]] = field(default_factory=dict)
    _all: deque[datetime] = field(default_factory=deque)

    def allow(self, sender: int, now: datetime, *, vouched: bool = False) -> bool:
        """Count one command of ``sender`` at ``now``; False when it is over a limit (and is
        then not counted)."""
        since = now - self.window
        _forget_before(self._all, since)
        times = self._by_sender.get(sender)
        if times is not None:
            _forget_before(times, since)
            if len(times) >= self.per_person:
                return False
        if not vouched and len(self._all) >= self.overall:
            return False
        if times is None:
            if len(self._by_sender) >= 4 * self.overall:
                self._forget_idle(since)
            times = self._by_sender[sender] = deque()
        times.append(now)
        self._all.append(now)
        return True

    def _forget_idle(self, since: datetime) -> None:
        # Only allowed commands add senders, so the overall limit keeps this map small.
        for sender in [s for s, times in self._by_sender.items() if not times or times[-1] < since]:
            del self._by_sender[sender]


def _forget_before(times: deque[datetime], since: datetime) -> None:
    while times and times[0] < since:
        times.popleft()


class OperationSubmitter(Protocol):
    async def submit(self, batch: NewBatch) -> bool:
        """Store the batch and schedule it; False when this message was already accepted."""


@dataclass
class Services:
    db: Database
    keybox: KeyBox
    market: MarketClient
    runner: OperationSubmitter
    tz: ZoneInfo
    clock: Callable[[], datetime]
    bot_username: str = ""
    delivery_services_ttl: timedelta = timedelta(days=1)
    # Market's list of delivery services: (fetched at, services); one fetch at a time.
    delivery_services: tuple[datetime, list[DeliveryService]] | None = None
    delivery_services_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Last short denial per (chat, user) in groups, so a stranger cannot make the bot spam.
    group_denials: dict[tuple[int, int], datetime] = field(default_factory=dict)
    # Told (command, outcome) of every command handled (metrics in webhook mode).
    on_command: Callable[[str, str], None] = lambda command, outcome: None
    strangers: StrangerLimiter = field(default_factory=StrangerLimiter)
    # Members' names as last stored (``storage.people.note``), so that only changes are written.
    names_seen: dict[int, tuple[str, str | None]] = field(default_factory=dict)

    def today(self) -> date:
        return self.clock().astimezone(self.tz).date()

    def private_link(self) -> str:
        return f"https://t.me/{self.bot_username}" if self.bot_username else "@bot"


def services_of(context: ContextTypes.DEFAULT_TYPE) -> Services:
    services = context.bot_data["services"]
    assert isinstance(services, Services)
    return services


class Result(StrEnum):
    """How a command ended, as the audit log and the log line say it."""

    OK = "ok"
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    BAD_INPUT = "bad_input"
    ASKED = "asked"
    DENIED = "denied"
    REFUSED = "refused"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_DELIVERED = "not_delivered"
    ERROR = "error"


@dataclass(frozen=True)
class Outcome:
    """What a handler reports back: the result, and what the audit log should keep.

    ``detail`` refines the result ("role_too_low"); ``campaign_id`` names the campaign acted on
    when access did not decide it (``/connect``, an invite); ``arguments`` replaces the typed
    words in the audit log (for example to keep a key out of it even redacted).
    """

    result: Result
    detail: str = ""
    campaign_id: int | None = None
    arguments: str | None = None
    market_error: str | None = None
    # The batch of an accepted write: /log shows how it finally ended.
    batch_id: str | None = None

    def __str__(self) -> str:
        return f"{self.result.value}:{self.detail}" if self.detail else self.result.value


@dataclass(frozen=True)
class Request:
    """One command as a handler sees it; built from a message or from a button press."""

    update: Update
    context: ContextTypes.DEFAULT_TYPE
    services: Services
    command: str
    text: str
    args: list[str]
    lang: Lang
    user_id: int | None
    user_name: str
    is_bot: bool
    anonymous: bool
    chat_id: int
    chat_kind: ChatKind
    thread_id: int | None
    message_id: int
    # Set when a button completes an earlier command: the campaign chosen, and the message
    # that asked (it becomes the answer).
    forced_campaign: int | None = None
    question_message_id: int | None = None
    username: str | None = None
    # Set when an edited message is handled again: the edit's update id (one per edit, the
    # same when Telegram delivers it twice).
    edit_id: int | None = None

    def t(self, key: str, **params: Any) -> str:
        return t(self.lang, key, **params)

    def with_text(self, text: str) -> Request:
        """The same request for another text of the same command (a button's completion)."""
        return replace(self, text=text, args=text.split("\n", 1)[0].split()[1:])

    async def reply(
        self, text: str, *, markup: InlineKeyboardMarkup | None = None
    ) -> Message | None:
        """Answer in the same chat (and forum topic), quoting the command in groups."""
        quote = self.message_id if self.chat_kind != ChatKind.PRIVATE else None
        return await send_text(
            self.context.bot,
            self.chat_id,
            text,
            reply_to=quote,
            thread_id=self.thread_id,
            markup=markup,
        )

    def batch(
        self,
        operations: list[NewOperation],
        *,
        revision: str | None = None,
        press: str | None = None,
    ) -> NewBatch:
        """The Market writes of this command, to be handed to the worker (``runner.submit``)."""
        assert self.user_id is not None  # access lets only known people write
        return NewBatch(
            chat_id=self.chat_id,
            message_id=self.message_id,
            thread_id=self.thread_id,
            user_id=self.user_id,
            language=self.lang,
            command=self.command,
            operations=operations,
            revision=revision,
            press=press,
        )

    async def send_private(self, text: str) -> bool:
        """Send to the person's private chat; False when they never started the bot."""
        if self.user_id is None:
            return False
        return await send_text(self.context.bot, self.user_id, text) is not None


def person_language(services: Services, user: User | None) -> Lang:
    """A person's language: their /language choice, else their Telegram app's."""
    preferred = prefs.get_prefs(services.db, user.id).language if user else None
    return language_for(user.language_code if user else None, preferred)


def request_from_update(
    update: Update, context: ContextTypes.DEFAULT_TYPE, command: str
) -> Request | None:
    """Build the Request for a command message; None for updates without a message."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return None
    services = services_of(context)
    # For a button press the message is the bot's own; the person is the one who pressed.
    user = update.callback_query.from_user if update.callback_query else message.from_user
    anonymous = (message.sender_chat is not None and not update.callback_query) or (
        user is not None and user.id == ANONYMOUS_ADMIN_ID
    )
    user_id = None if anonymous or user is None else user.id
    preferred = prefs.get_prefs(services.db, user_id).language if user_id else None
    text = message.text or message.caption or ""
    return Request(
        update=update,
        context=context,
        services=services,
        command=command,
        text=text,
        args=text.split("\n", 1)[0].split()[1:],
        lang=language_for(user.language_code if user else None, preferred),
        user_id=user_id,
        user_name=display_name(user),
        is_bot=bool(user and user.is_bot and not anonymous),
        anonymous=anonymous,
        chat_id=chat.id,
        chat_kind=ChatKind.from_telegram(chat.type),
        thread_id=message.message_thread_id if message.is_topic_message else None,
        message_id=message.message_id,
        username=user.username if user and not anonymous else None,
        edit_id=update.update_id if update.edited_message is not None else None,
    )
