"""Never silent in a private chat: one short line for a text message that is not a command.

Installed last (``handlers.registry.install``), this sees only new text messages no command
handler took: plain text, a command typed without its slash (``track 124 RR457 51``) or glued to
its first argument (``/track124 RR457 51``), an unknown ``/command``. In private each gets one
line naming the closest command, rebuilt with the words typed when that is possible. In a group
the bot stays silent unless the message is addressed to it (``/cmd@ThisBot``, a mention of the
bot, a reply to one of its messages), and then says it at most once a minute per person, as
refusals are. People with no role are counted against the strangers' limit exactly as their
commands are (``handlers.dispatch.throttled``), and get nothing over it. These are not
commands: nothing is audited, and the log line is DEBUG.

:func:`suggest` is the pure part: the text and the command names in, the answer's text key out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from datetime import date

from telegram import Message, Update
from telegram.ext import ContextTypes

from handlers.access import ChatKind
from handlers.context import Request, request_from_update
from handlers.dispatch import throttled
from handlers.parsing import InputError, parse_date, parse_order_id, parse_track_code, sanitize
from storage.secrets import contains_secret

log = logging.getLogger(__name__)

# How much of the typed text a rebuilt command echoes.
MAX_ECHO = 80
# The longest typed command name compared with the real ones.
MAX_NAME = 32
# Russian words people type for a command (only those naming a registered command are used).
ALIASES = {
    "трек": "track",
    "перенос": "move",
    "перенести": "move",
    "помощь": "help",
    "справка": "help",
    "старт": "start",
    "язык": "language",
}
GROUP_PAUSE_SECONDS = 60


def suggest(
    text: str, commands: Collection[str], bot_username: str, today: date
) -> InputError | None:
    """What to answer to ``text`` that no command handler took (its first line is read);
    None when it is a command for another bot. ``commands`` are lower-case names."""
    if contains_secret(text):
        return InputError("fallback.secret")
    words = _mention(bot_username).sub(" ", text.split("\n", 1)[0]).split()
    if not words:
        return InputError("fallback.plain")
    head, args = words[0], words[1:]
    if head.startswith("/"):
        name, _, other_bot = head[1:].partition("@")
        if other_bot:
            return None
        return _after_slash(name, args, commands)
    return _without_slash(words, commands, today)


def _after_slash(name: str, args: list[str], commands: Collection[str]) -> InputError:
    """``/name args``, where ``name`` is not a command this handler's message could run."""
    typed = sanitize("/" + name)
    known = _command_of(name.casefold(), commands)
    if known is not None:
        # A command after a mention ("@Bot /track …"): Telegram runs only one at the start.
        return _rebuilt("fallback.did_you_mean", known, args)
    glued = _glued(name, commands)
    if glued is not None:
        return _rebuilt("fallback.glued", glued[0], [glued[1], *args])
    close = closest(name.casefold(), commands)
    if close is None:
        return InputError("fallback.unknown", {"typed": typed})
    command = _rebuilt("fallback.unknown_close", close, args).params["command"]
    return InputError("fallback.unknown_close", {"typed": typed, "command": command})


def _without_slash(words: list[str], commands: Collection[str], today: date) -> InputError:
    """Text without a leading slash: a command name typed as a word, or its arguments alone."""
    head, args = words[0], words[1:]
    known = _command_of(head.casefold(), commands)
    if known is not None:
        return _rebuilt("fallback.no_slash", known, args)
    glued = _glued(head, commands)
    if glued is not None:
        return _rebuilt("fallback.no_slash", glued[0], [glued[1], *args])
    guessed = _guess(words, commands, today)
    if guessed is not None:
        return _rebuilt("fallback.missing_command", guessed, words)
    return InputError("fallback.plain")


def _command_of(word: str, commands: Collection[str]) -> str | None:
    name = ALIASES.get(word, word)
    return name if name in commands else None


def _glued(word: str, commands: Collection[str]) -> tuple[str, str] | None:
    """("track", "124") for "track124" or "трек124": a command name, then digits."""
    folded = word.casefold()
    for prefix in sorted({*commands, *ALIASES}, key=len, reverse=True):
        rest = word[len(prefix) :]
        if folded.startswith(prefix) and rest[:1].isdigit():
            command = _command_of(prefix, commands)
            if command is not None:
                return command, rest
    return None


def _guess(words: list[str], commands: Collection[str], today: date) -> str | None:
    """The write command whose arguments ``words`` look like: an order id and a date (/move),
    or an order id, a track code and a service (/track)."""
    if len(words) < 2 or isinstance(parse_order_id(words[0]), InputError):
        return None
    dated = any(
        not isinstance(parse_date(" ".join(words[1 : 1 + count]), today), InputError)
        for count in (1, 2, 3)
    )
    if dated and "move" in commands:
        return "move"
    if len(words) == 3 and isinstance(parse_track_code(words[1]), str) and "track" in commands:
        return "track"
    return None


def _rebuilt(key: str, command: str, args: list[str]) -> InputError:
    return InputError(key, {"command": sanitize(" ".join(["/" + command, *args]), MAX_ECHO)})


def closest(name: str, commands: Collection[str]) -> str | None:
    """The command ``name`` was most likely meant to be: the only one it begins (3 letters or
    more), else the nearest by edits (1 for names up to 4 letters, else 2); None if none is."""
    if not 2 <= len(name) <= MAX_NAME:
        return None
    begun = [command for command in commands if command.startswith(name)]
    if len(begun) == 1 and len(name) >= 3:
        return begun[0]
    best = min(commands, key=lambda command: distance(name, command), default=None)
    if best is None or distance(name, best) > (1 if len(name) <= 4 else 2):
        return None
    return best


def distance(a: str, b: str) -> int:
    """How many edits turn ``a`` into ``b``: insert, delete or replace a letter, or swap two
    neighbours ("trakc" → "track" is one)."""
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, letter in enumerate(a, 1):
        row = [i]
        for j, other in enumerate(b, 1):
            cost = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (letter != other))
            if i > 1 and j > 1 and letter == b[j - 2] and a[i - 2] == other:
                cost = min(cost, before[j - 2] + 1)
            row.append(cost)
        before, previous = previous, row
    return previous[-1]


async def on_text(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, commands: Collection[str]
) -> None:
    """Answer a text message no command handler took, when and as the module docstring says."""
    message = update.message
    if message is None or message.text is None:
        return
    request = request_from_update(update, context, "message")
    if request is None or request.is_bot or request.chat_kind == ChatKind.CHANNEL:
        return
    services = request.services
    username = services.bot_username or context.bot.username or ""
    group = request.chat_kind == ChatKind.GROUP
    if group and not _addressed(message, context.bot.id, username):
        return
    hint = suggest(message.text, commands, username, services.today())
    if hint is None or (group and _said_lately(request)) or throttled(request):
        return
    log.debug("text without a command from %s in chat %s", request.user_id, request.chat_id)
    await request.reply(request.t(hint.key, **hint.params))


def _addressed(message: Message, bot_id: int, username: str) -> bool:
    """A reply to one of the bot's messages, or a text naming the bot (``@Bot``,
    ``/cmd@Bot``)."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return True
    return _mention(username).search(message.text or "") is not None


def _mention(username: str) -> re.Pattern[str]:
    """``@username`` (any case) as a whole name; nothing at all for an unknown username."""
    name = username.lstrip("@")
    return re.compile(rf"@{re.escape(name)}(?![A-Za-z0-9_])" if name else r"(?!)", re.IGNORECASE)


def _said_lately(request: Request) -> bool:
    """In a group, once a minute per person, shared with the short refusals
    (``Services.group_denials``), so that nobody can make the bot flood the shop's chat."""
    key = (request.chat_id, request.user_id if request.user_id is not None else 0)
    now = request.services.clock()
    last = request.services.group_denials.get(key)
    if last is not None and (now - last).total_seconds() < GROUP_PAUSE_SECONDS:
        return True
    request.services.group_denials[key] = now
    return False
