"""Logging set-up: one line per handled command, and no secret ever reaches a log line.

httpx logs every request URL at INFO, and Telegram URLs contain the bot token, so httpx and
httpcore are raised to WARNING. As a second line of defence every record passes a filter that
replaces the bot token, every API key the bot has handled, and anything shaped like a secret
(``storage.secrets.redact``, the one place that knows what keys and tokens look like) with
``[redacted]``: in the message and its arguments, the traceback, and ``extra`` values.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from storage.secrets import redact, remember_secret

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Replaces known secrets and secret-shaped strings in every part of a record a formatter
    may print: the message with its ``%`` arguments, the exception and stack text, and the
    values given with ``extra=``. Secrets given here join ``storage.secrets``' known secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        for secret in secrets:
            remember_secret(secret)

    def add_secret(self, secret: str) -> None:
        remember_secret(secret)

    def redact(self, text: str) -> str:
        return redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
            unprintable = False
        except Exception:  # arguments that do not fit the format: never print them raw
            message, unprintable = f"{record.msg} [unprintable log arguments]", True
        redacted = redact(message)
        if redacted != message or unprintable:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRIBUTES:
                shown = value if isinstance(value, str) else str(value)
                if redact(shown) != shown:
                    setattr(record, name, redact(shown))
        return True


def protect_logs(secrets: Iterable[str]) -> None:
    """Make every handler of the root logger redact ``secrets``, and quiet httpx.

    ``bot.app.run`` calls this whatever logging its caller set up, so the token and keys stay
    out of logs even when ``setup_logging`` was not used.
    """
    for noisy in ("httpx", "httpcore"):
        if logging.getLogger(noisy).getEffectiveLevel() < logging.WARNING:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    for secret in secrets:
        remember_secret(secret)
    handlers = [*logging.getLogger().handlers]
    if logging.lastResort is not None:  # prints warnings when no handler is configured
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def setup_logging(level: str, secrets: Iterable[str] = ()) -> RedactingFilter:
    """Configure the root logger once; returns the filter so more secrets can be added."""
    redactor = RedactingFilter(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return redactor
