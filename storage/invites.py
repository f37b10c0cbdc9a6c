"""Single-use invitations to join a campaign in a role.

Only the SHA-256 of an invite code is stored: a copy of the database does not let anyone join.
Codes are ``secrets.token_urlsafe(16)`` (22 characters of ``[A-Za-z0-9_-]``), so they fit a
Telegram deep link ``start`` parameter as they are.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from storage._common import opt_int, opt_ts_from_text, transaction, ts_from_text, ts_to_text
from storage.members import Role, as_role


@dataclass(frozen=True)
class InviteRow:
    code_hash: str
    campaign_id: int
    role: Role
    created_by: int
    created_at: datetime
    expires_at: datetime
    used_by: int | None
    used_at: datetime | None


def _row(values: dict[str, Any]) -> InviteRow:
    return InviteRow(
        code_hash=str(values["code_hash"]),
        campaign_id=int(values["campaign_id"]),
        role=as_role(str(values["role"])),
        created_by=int(values["created_by"]),
        created_at=ts_from_text(values["created_at"]),
        expires_at=ts_from_text(values["expires_at"]),
        used_by=opt_int(values["used_by"]),
        used_at=opt_ts_from_text(values["used_at"]),
    )


def hash_code(code: str) -> str:
    """The stored form of an invite code: its SHA-256 as lowercase hex."""
    return hashlib.sha256(code.encode()).hexdigest()


def create_invite(
    db: Database,
    campaign_id: int,
    role: Role,
    created_by: int,
    now: datetime,
    ttl: timedelta = timedelta(hours=24),
) -> tuple[str, InviteRow]:
    """A new invite; returns the plaintext code (shown once, never stored) and the row.

    Raises ValueError for an unknown role or a ttl that is not positive, and
    sqlite3.IntegrityError when the campaign is not connected.
    """
    if ttl <= timedelta(0):
        raise ValueError("an invite must live for a positive time")
    code = secrets.token_urlsafe(16)
    created_at = ts_from_text(ts_to_text(now))
    row = InviteRow(
        code_hash=hash_code(code),
        campaign_id=campaign_id,
        role=as_role(role),
        created_by=created_by,
        created_at=created_at,
        expires_at=created_at + ttl,
        used_by=None,
        used_at=None,
    )
    with transaction(db):
        db.execute(
            "INSERT INTO invites (code_hash, campaign_id, role, created_by, created_at, "
            "expires_at, used_by, used_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",
            (
                row.code_hash,
                row.campaign_id,
                row.role,
                row.created_by,
                ts_to_text(row.created_at),
                ts_to_text(row.expires_at),
            ),
        )
    return code, row


def find_invite(db: Database, code: str) -> InviteRow | None:
    """The invite for a plaintext code, used or not, expired or not."""
    for values in db["invites"].rows_where("code_hash = ?", [hash_code(code)]):
        return _row(values)
    return None


def use_invite(db: Database, code_hash: str, user_id: int, now: datetime) -> bool:
    """Mark the invite used by ``user_id``; True only for the one call that did so.

    False when the invite does not exist, was used already, or has expired at ``now``.
    """
    at = ts_to_text(now)
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "UPDATE invites SET used_by = ?, used_at = ? "
            "WHERE code_hash = ? AND used_by IS NULL AND expires_at > ?",
            (user_id, at, code_hash, at),
        )
    return cursor.rowcount == 1
