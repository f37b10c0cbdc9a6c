"""What every handler gets: the shared services and one parsed incoming request.

``Services`` is built once by ``bot.app`` and stored in ``application.bot_data``. The runner that
executes /track and /move is seen here only through the ``OperationSubmitter`` protocol, so
handlers do not import the application layer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlite_utils import Database
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from bot.market.client import MarketClient
from bot.market.models import DeliveryService
from handlers.access import ChatKind
from handlers.messaging import send_text
from handlers.texts import Lang, t
from storage.operations import NewOperation
from storage.secrets import KeyBox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchRequest:
    """One accepted message of /track or /move lines, ready to be executed durably."""

    chat_id: int
    message_id: int
    thread_id: int | None
    user_id: int
    language: Lang
    command: str
    operations: Sequence[NewOperation]
    progress_message_id: int | None = None


class OperationSubmitter(Protocol):
    async def submit(self, batch: BatchRequest) -> bool:
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
    # Cache of Market's delivery service list: (fetched at, services).
    delivery_services: tuple[datetime, list[DeliveryService]] | None = None
    # Last short denial per (chat, user) in groups, so a stranger cannot make the bot spam.
    group_denials: dict[tuple[int, int], datetime] = field(default_factory=dict)

    def today(self) -> date:
        return self.clock().astimezone(self.tz).date()

    def private_link(self) -> str:
        return f"https://t.me/{self.bot_username}" if self.bot_username else "@bot"


@dataclass
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
    # Set when a button completes an earlier command.
    forced_campaign: int | None = None
    forced_reason: str | None = None
    button_message_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def t(self, key: str, **params: Any) -> str:
        return t(self.lang, key, **params)

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

    async def send_private(self, text: str) -> bool:
        """Send to the person's private chat; False when they never started the bot."""
        if self.user_id is None:
            return False
        return await send_text(self.context.bot, self.user_id, text) is not None
