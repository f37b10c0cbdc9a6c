"""The audit log: who ran which command on which campaign, and how it ended.

Anything that looks like a secret is redacted before it is written, whatever the caller passed.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage._common import opt_int, transaction, ts_from_text, ts_to_text

REDACTED = "[redacted]"

_KEYLIKE_CHARS = r"[A-Za-z0-9_:=+/-]"
# Market Api-Key tokens: ACMA:<random>:<checksum> (and other ACM? prefixes).
_MARKET_KEY = re.compile(rf"\bACM[A-Z]:{_KEYLIKE_CHARS}+")
# Yandex OAuth tokens: y0_AgAAAA…
_OAUTH_TOKEN = re.compile(r"\by\d_[A-Za-z0-9_-]{8,}")
_MIN_RUN = 24
_LONG_RUN = re.compile(rf"{_KEYLIKE_CHARS}{{{_MIN_RUN},}}")
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?")


def _looks_secret(run: str) -> bool:
    if _ISO_TIMESTAMP.fullmatch(run):
        return False
    if ":" in run:
        return True
    # Random base64 of this length almost surely mixes cases and digits; identifiers such as
    # Market's error codes (ORDER_STATUS_NOT_ALLOWED) or URL paths do not.
    return (
        any(c.isupper() for c in run)
        and any(c.islower() for c in run)
        and any(c.isdigit() for c in run)
    )


def _redact_run(match: re.Match[str]) -> str:
    run = match.group(0)
    # Colons at the edges are punctuation ("ORDER_NOT_FOUND: …"), not part of a token.
    core = run.strip(":")
    if len(core) < _MIN_RUN or not _looks_secret(core):
        return run
    start = run.index(core)
    return run[:start] + REDACTED + run[start + len(core) :]


def redact(text: str) -> str:
    """``text`` with everything that looks like an API key, token or other secret replaced."""
    text = _MARKET_KEY.sub(REDACTED, text)
    text = _OAUTH_TOKEN.sub(REDACTED, text)
    return _LONG_RUN.sub(_redact_run, text)


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    user_id: int | None
    chat_id: int
    campaign_id: int | None
    command: str
    arguments: str
    outcome: str
    market_error: str | None


def _row(values: dict[str, Any]) -> AuditRow:
    market_error = values["market_error"]
    return AuditRow(
        id=int(values["id"]),
        at=ts_from_text(values["at"]),
        user_id=opt_int(values["user_id"]),
        chat_id=int(values["chat_id"]),
        campaign_id=opt_int(values["campaign_id"]),
        command=str(values["command"]),
        arguments=str(values["arguments"]),
        outcome=str(values["outcome"]),
        market_error=None if market_error is None else str(market_error),
    )


def record(
    db: Database,
    *,
    now: datetime,
    user_id: int | None,
    chat_id: int,
    campaign_id: int | None,
    command: str,
    arguments: str,
    outcome: str,
    market_error: str | None = None,
) -> int:
    """Append an entry and return its id; ``arguments`` and ``market_error`` are redacted."""
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "INSERT INTO audit (at, user_id, chat_id, campaign_id, command, arguments, outcome, "
            "market_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                ts_to_text(now),
                user_id,
                chat_id,
                campaign_id,
                command,
                redact(arguments),
                outcome,
                None if market_error is None else redact(market_error),
            ),
        )
    entry_id = cursor.lastrowid
    if entry_id is None:
        raise RuntimeError("SQLite did not report the id of the new audit entry")
    return entry_id


def recent(db: Database, campaign_id: int, limit: int) -> list[AuditRow]:
    """The campaign's latest ``limit`` entries, newest first."""
    return [
        _row(values)
        for values in db["audit"].rows_where(
            "campaign_id = ?", [campaign_id], order_by="at DESC, id DESC", limit=max(limit, 0)
        )
    ]
