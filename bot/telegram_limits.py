"""Telegram's flood limits, kept on our side: sliding windows, fair turns, results first.

``TelegramLimiter`` is python-telegram-bot's rate limiter for the bot (``bot.app`` installs it).
Every call that puts a message in a chat or changes one (``send*`` but sendChatAction, ``edit*``,
``copyMessage``, ``forwardMessage``, ``stopPoll``) waits for its turn, and so does
``deleteMessage`` (counted for the bot, not the chat). Every other call (getUpdates, getMe,
setWebhook, answerCallbackQuery, getChatMember, …) goes straight through. The contract:

* **Sliding windows, never exceeded.** At most ``bot`` (30 in 1 s) calls in any second for the
  bot; at most 20 in any 60 s for a group (a negative chat id, or an ``@channel``); at most 3 in
  any 3 s for a private chat (a short burst, then 1 a second). A call takes its place when it is
  let through and keeps it until a period after its answer came back: Telegram counts it at some
  moment in between, so a call reusing the place never lands in the same window as Telegram sees
  it, whatever the network does. (That costs a round trip per place: ~29.4/s on a 20 ms link.)
* **Fair across chats.** Chats with waiting calls take turns, the one served longest ago (or
  never) first: one chat's backlog delays another chat's next message by at most one turn of
  the chats waiting then. Within a chat, calls keep their order.
* **Results before progress notes.** A call's priority is ``rate_limit_args`` when the caller
  gives a ``Priority`` (``bot.send_message(…, rate_limit_args=Priority.PROGRESS)``), else
  ``PROGRESS`` for a text starting with "⏳" (the progress notes) and ``RESULT`` otherwise. A
  chat with a result waiting goes before every chat with only progress notes waiting.
* **Few in flight.** At most ``max_in_flight`` (16) limited calls are in Telegram's hands at
  once, so a burst never opens hundreds of connections.
* **A 429 holds what it was about**, for ``retry_after``, then the call is retried (after
  ``max_retries`` retries its ``RetryAfter`` is raised): a group's 429 holds that group; a
  private chat's holds that chat, and the whole bot when another private chat had one within
  ``FLOOD_ESCALATION_SECONDS`` (the bot's own limit, then); a call without a chat holds the bot.

Every decision is taken in ``_pump``, run on arrivals, on the ends of calls and by one timer;
``clock`` is injectable (monotonic seconds).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from enum import IntEnum
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

ChatKey = int | str | None
Window = tuple[int, float]  # (calls, seconds)

PROGRESS_MARK = "⏳"
GROUP_WINDOW: Window = (20, 60.0)
PRIVATE_WINDOW: Window = (3, 3.0)
# A 429 of a second private chat this soon after another's means the bot's own limit.
FLOOD_ESCALATION_SECONDS = 2.0
# Extra wait after Telegram's retry_after, as its whole seconds are rounded.
RETRY_MARGIN_SECONDS = 0.1
# Chats without work are forgotten this often (their windows long empty).
SWEEP_EVERY_SECONDS = 60.0

# Calls counted for the chat (and the bot), and calls counted for the bot only.
_CHAT_PREFIXES = ("send", "edit", "copymessage", "forwardmessage", "stoppoll")
_BOT_ONLY = frozenset({"deletemessage", "deletemessages"})

Callback = Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]]


class Priority(IntEnum):
    """Which waiting calls go first: lower first."""

    RESULT = 0  # answers and everything not marked otherwise
    PROGRESS = 1  # "⏳" notes: they wait while results are queued


def counted(endpoint: str) -> bool | None:
    """Whether a Bot API call counts for its chat and the bot (True), for the bot only
    (False), or is not limited (None)."""
    name = endpoint.lower()
    if name in _BOT_ONLY:
        return False
    return True if name.startswith(_CHAT_PREFIXES) and name != "sendchataction" else None


def chat_key(chat_id: object) -> ChatKey:
    """The chat a call is for: an int id, an ``@username``, or None (inline messages)."""
    if chat_id is None:
        return None
    if isinstance(chat_id, int):
        return chat_id
    text = str(chat_id).strip()
    try:
        return int(text)
    except ValueError:
        return text


def is_group(key: ChatKey) -> bool:
    """Groups, supergroups and channels: negative ids, or an ``@channel`` name."""
    return isinstance(key, str) or (isinstance(key, int) and key < 0)


class SlidingWindow:
    """At most ``limit`` calls in any ``period`` seconds.

    A call holds a place from ``take`` (let through) until ``period`` after ``end`` (its
    answer came back). ``end`` must be given non-decreasing times.
    """

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs at least one call and a positive period")
        self.limit = limit
        self.period = period
        self.in_flight = 0
        self._ended: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._ended and now - self._ended[0] >= self.period:
            self._ended.popleft()

    def free_at(self, now: float) -> float | None:
        """``now`` when a call may go now; else when a place frees; None: when a call ends."""
        self._expire(now)
        must_leave = self.in_flight + len(self._ended) - self.limit + 1
        if must_leave <= 0:
            return now
        if must_leave > len(self._ended):
            return None
        return self._ended[must_leave - 1] + self.period

    def take(self) -> None:
        self.in_flight += 1

    def end(self, now: float) -> None:
        self.in_flight -= 1
        self._ended.append(now)

    def idle(self, now: float) -> bool:
        self._expire(now)
        return self.in_flight == 0 and not self._ended


@dataclass(eq=False)
class _Ticket:
    """One call waiting for (or holding) its turn."""

    chat: _Chat
    priority: Priority
    in_chat_window: bool
    turn: asyncio.Future[None]


@dataclass(eq=False)
class _Chat:
    key: ChatKey
    window: SlidingWindow | None
    waiting: deque[_Ticket] = field(default_factory=deque)
    results: int = 0  # waiting tickets of priority RESULT
    held_until: float = 0.0
    served: int = 0  # the turn it was last served in (0: never)
    version: int = 0  # heap entries of older versions are stale

    @property
    def priority(self) -> Priority:
        return Priority.RESULT if self.results else Priority.PROGRESS


def window_for_rate(per_second: float) -> Window:
    """The bot's window for a rate: (30, 1 s) for 30 a second, (1, 2 s) for 0.5."""
    if per_second >= 1:
        return int(per_second), 1.0
    return 1, 1.0 / per_second


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds Telegram asked to wait (an int or a timedelta, as python-telegram-bot gives)."""
    value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramLimiter(BaseRateLimiter[int]):
    """python-telegram-bot's rate limiter for the bot; see the module docstring.

    ``rate_limit_args`` is a ``Priority`` (an int: 0 results, 1 progress notes).
    """

    def __init__(
        self,
        *,
        bot: Window = (30, 1.0),
        group: Window = GROUP_WINDOW,
        private: Window = PRIVATE_WINDOW,
        max_in_flight: int = 16,
        max_retries: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 1 or max_retries < 0:
            raise ValueError("max_in_flight must be at least 1 and max_retries not negative")
        self._bot = SlidingWindow(*bot)
        self.group = group
        self.private = private
        self.max_in_flight = max_in_flight
        self.max_retries = max_retries
        self.clock = clock
        self._chats: dict[ChatKey, _Chat] = {}
        # (priority, turn last served, tie-breaker, version, chat): chats that may go now.
        self._ready: list[tuple[int, int, int, int, _Chat]] = []
        # (time, tie-breaker, version, chat): chats waiting for their window or a hold.
        self._sleeping: list[tuple[float, int, int, _Chat]] = []
        self._in_flight = 0
        self._held_until = 0.0  # the whole bot, after a 429 for the bot
        self._last_private_flood: tuple[ChatKey, float] | None = None
        self._turns = itertools.count(1)
        self._ties = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._swept_at = clock()
        self.waiting = 0  # calls waiting for their turn
        self.floods = 0  # 429s seen

    @property
    def in_flight(self) -> int:
        """Limited calls in Telegram's hands now."""
        return self._in_flight

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Stop the timer. Calls still waiting are their callers' to cancel."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Make the call when its windows, its chat's turn and the holds allow; retry a 429.

        Raises whatever ``callback`` raises; ``RetryAfter`` only after ``max_retries`` retries.
        """
        in_chat = counted(endpoint)
        if in_chat is None:
            return await callback(*args, **kwargs)
        chat = self._chat(chat_key(data.get("chat_id")))
        priority = _priority(data, rate_limit_args)
        ticket = self._enqueue(chat, priority, in_chat, front=False)
        tries = 0
        while True:
            await self._turn(ticket)
            retry: _Ticket | None = None
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                tries += 1
                self._flooded(chat, exc)
                if tries > self.max_retries:
                    log.warning("Telegram refused a call %d times for its flood limit", tries)
                    raise
                retry = self._enqueue(chat, priority, in_chat, front=True)
            finally:
                self._end(ticket)
            assert retry is not None
            ticket = retry

    # --- queueing -----------------------------------------------------------------------------

    def _chat(self, key: ChatKey) -> _Chat:
        chat = self._chats.get(key)
        if chat is None:
            window = None
            if key is not None:
                window = SlidingWindow(*(self.group if is_group(key) else self.private))
            chat = self._chats[key] = _Chat(key, window)
        return chat

    def _enqueue(self, chat: _Chat, priority: Priority, in_chat: bool, *, front: bool) -> _Ticket:
        ticket = _Ticket(chat, priority, in_chat, asyncio.get_running_loop().create_future())
        if front:
            chat.waiting.appendleft(ticket)
        else:
            chat.waiting.append(ticket)
        if priority is Priority.RESULT:
            chat.results += 1
        self.waiting += 1
        if front or len(chat.waiting) == 1 or (priority is Priority.RESULT and chat.results == 1):
            self._place(chat, self.clock())  # its head or its priority changed
        self._pump()
        return ticket

    async def _turn(self, ticket: _Ticket) -> None:
        try:
            await ticket.turn
        except asyncio.CancelledError:
            if ticket.turn.done() and not ticket.turn.cancelled():
                self._end(ticket)  # let through just as it was cancelled
            elif ticket in ticket.chat.waiting:
                self._forget(ticket)
                ticket.chat.waiting.remove(ticket)
                self._place(ticket.chat, self.clock())
                self._pump()
            raise

    def _forget(self, ticket: _Ticket) -> None:
        if ticket.priority is Priority.RESULT:
            ticket.chat.results -= 1
        self.waiting -= 1

    def _ready_at(self, chat: _Chat, now: float) -> float | None:
        """When the chat's next call may go (``now`` at the earliest); None: after a call ends."""
        at = max(now, chat.held_until)
        head = chat.waiting[0]
        if head.in_chat_window and chat.window is not None:
            free = chat.window.free_at(now)
            if free is None:
                return None
            at = max(at, free)
        return at

    def _place(self, chat: _Chat, now: float) -> None:
        """Put the chat where its next call waits: ready, asleep until a time, or nowhere."""
        chat.version += 1
        if not chat.waiting:
            return
        at = self._ready_at(chat, now)
        if at is None:
            return  # the end of one of its calls places it again
        if at <= now:
            entry = (chat.priority, chat.served, next(self._ties), chat.version, chat)
            heapq.heappush(self._ready, entry)
        else:
            heapq.heappush(self._sleeping, (at, next(self._ties), chat.version, chat))

    # --- letting calls through ----------------------------------------------------------------

    def _pump(self) -> None:
        """Let through every call that may go now, then wake up when the next one may."""
        now = self.clock()
        while self._sleeping and self._sleeping[0][0] <= now:
            _, _, version, chat = heapq.heappop(self._sleeping)
            if version == chat.version:
                self._place(chat, now)
        while self._ready and self._in_flight < self.max_in_flight:
            free = self._bot.free_at(now)
            if self._held_until > now or free is None or free > now:
                break
            *_, version, chat = heapq.heappop(self._ready)
            if version != chat.version:
                continue
            at = self._ready_at(chat, now)
            if at is None or at > now:
                self._place(chat, now)
            else:
                self._let_through(chat, now)
        if now - self._swept_at >= SWEEP_EVERY_SECONDS:
            self._sweep(now)
        self._arm(now)

    def _let_through(self, chat: _Chat, now: float) -> None:
        ticket = chat.waiting.popleft()
        self._forget(ticket)
        if not ticket.turn.cancelled():  # its caller is about to take it back otherwise
            self._in_flight += 1
            self._bot.take()
            if ticket.in_chat_window and chat.window is not None:
                chat.window.take()
            chat.served = next(self._turns)
            ticket.turn.set_result(None)
        self._place(chat, now)

    def _end(self, ticket: _Ticket) -> None:
        """A call let through has its answer: its places count from now."""
        now = self.clock()
        self._in_flight -= 1
        self._bot.end(now)
        chat = ticket.chat
        if ticket.in_chat_window and chat.window is not None:
            chat.window.end(now)
        if chat.waiting:
            self._place(chat, now)  # it may have waited for this end
        self._pump()

    def _arm(self, now: float) -> None:
        """One timer, for the earliest moment something asleep or blocked may go."""
        times = [self._sleeping[0][0]] if self._sleeping else []
        if self._ready and self._in_flight < self.max_in_flight:
            free = self._bot.free_at(now)
            if free is not None:
                times.append(max(free, self._held_until))
        if not times:
            return
        at = min(times)
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer_at = at
        # A millisecond late rather than early: the loop may run a timer a little before it.
        self._timer = asyncio.get_running_loop().call_later(at - now + 0.001, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._pump()

    def _flooded(self, chat: _Chat, exc: RetryAfter) -> None:
        """A 429: hold the chat, or the whole bot when the bot's own limit was hit."""
        self.floods += 1
        now = self.clock()
        until = now + retry_seconds(exc) + RETRY_MARGIN_SECONDS
        whole_bot = chat.key is None
        if not whole_bot and not is_group(chat.key):
            last = self._last_private_flood
            recent = last is not None and now - last[1] <= FLOOD_ESCALATION_SECONDS
            whole_bot = recent and last is not None and last[0] != chat.key
            self._last_private_flood = (chat.key, now)
        if whole_bot:
            self._held_until = max(self._held_until, until)
            log.warning("Telegram's flood limit for the bot: messages wait %.1f s", until - now)
        else:
            chat.held_until = max(chat.held_until, until)
            log.info("Telegram's flood limit for a chat: it waits %.1f s", until - now)

    def _sweep(self, now: float) -> None:
        """Forget chats with nothing waiting, nothing counted and no hold."""
        self._swept_at = now
        for key, chat in list(self._chats.items()):
            idle = chat.window is None or chat.window.idle(now)
            if not chat.waiting and idle and chat.held_until <= now:
                del self._chats[key]


def _priority(data: dict[str, Any], hint: int | None) -> Priority:
    if hint is not None:
        return Priority.PROGRESS if int(hint) >= Priority.PROGRESS else Priority.RESULT
    text = data.get("text")
    if isinstance(text, str) and text.startswith(PROGRESS_MARK):
        return Priority.PROGRESS
    return Priority.RESULT
