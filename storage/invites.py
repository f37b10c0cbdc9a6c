"""Single-use invitations to join a campaign in a role.

Only the SHA-256 of an invite code is stored: a copy of the database does not let anyone join.
Codes are ``secrets.token_urlsafe(16)`` (22 characters of ``[A-Za-z0-9_-]``), so they fit a
Telegram deep link ``start`` parameter as they are.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from storage._common import change, row_of, stamp, table, ts_to_text, values_of
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
    created_at = stamp(now)
    row = InviteRow(
        hash_code(code),
        campaign_id,
        as_role(role),
        created_by,
        created_at,
        created_at + ttl,
        None,
        None,
    )
    table(db, "invites").insert(values_of(row))
    return code, row


def find_invite(db: Database, code: str) -> InviteRow | None:
    """The invite for a plaintext code, used or not, expired or not."""
    rows = table(db, "invites").rows_where("code_hash = ?", [hash_code(code)])
    return next((row_of(InviteRow, values) for values in rows), None)


def use_invite(db: Database, code_hash: str, user_id: int, now: datetime) -> bool:
    """Mark the invite used by ``user_id``; True only for the one call that did so.

    False when the invite does not exist, was used already, or has expired at ``now``.
    """
    at = ts_to_text(now)
    # One conditional UPDATE, so two people pressing the same link cannot both join.
    return (
        change(
            db,
            "UPDATE invites SET used_by = ?, used_at = ? "
            "WHERE code_hash = ? AND used_by IS NULL AND expires_at > ?",
            (user_id, at, code_hash, at),
        )
        == 1
    )


def drop_unused(db: Database, campaign_id: int, created_by: int) -> int:
    """Delete the unused invites ``created_by`` made for the campaign; returns how many.

    Called when that person loses their role there (or part of it): a link they handed out
    must not outlive their right to give it. Used invites stay, as the record of who joined.
    """
    return change(
        db,
        "DELETE FROM invites WHERE campaign_id = ? AND created_by = ? AND used_by IS NULL",
        (campaign_id, created_by),
    )
