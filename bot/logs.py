"""Logging set-up: one line per handled command, and no secret ever reaches a log line.

httpx logs every request URL at INFO, and Telegram URLs contain the bot token, so httpx and
httpcore are raised to WARNING. As a second line of defence every record passes a filter that
replaces the bot token and anything shaped like a secret (``storage.secrets.redact``, the one
place that knows what keys and tokens look like) with ``[redacted]``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from storage.secrets import REDACTED, redact


class RedactingFilter(logging.Filter):
    """Replaces known secrets and secret-shaped strings in every record's final message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 6]

    def add_secret(self, secret: str) -> None:
        if secret and len(secret) >= 6 and secret not in self._secrets:
            self._secrets.append(secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def protect_logs(secrets: Iterable[str]) -> None:
    """Make every handler of the root logger redact ``secrets``, and quiet httpx.

    ``bot.app.run`` calls this whatever logging its caller set up, so the token and keys stay
    out of logs even when ``setup_logging`` was not used.
    """
    for noisy in ("httpx", "httpcore"):
        if logging.getLogger(noisy).getEffectiveLevel() < logging.WARNING:
            logging.getLogger(noisy).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        existing = [f for f in handler.filters if isinstance(f, RedactingFilter)]
        if existing:
            for secret in secrets:
                existing[0].add_secret(secret)
        else:
            handler.addFilter(RedactingFilter(secrets))


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
