"""Who may act on which campaign, and in what role."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlite_utils import Database

from storage._common import transaction, ts_from_text, ts_to_text

Role = Literal["owner", "manager", "courier"]
ROLES: tuple[Role, ...] = ("owner", "manager", "courier")


def as_role(value: str) -> Role:
    """Raises ValueError when ``value`` is not one of ROLES."""
    if value not in ROLES:
        raise ValueError(f"unknown role {value!r}")
    return value


@dataclass(frozen=True)
class MemberRow:
    campaign_id: int
    user_id: int
    role: Role
    granted_by: int
    granted_at: datetime


# Owners first, then managers, then couriers; within a role, the longest-standing first.
_ORDER = "CASE role WHEN 'owner' THEN 0 WHEN 'manager' THEN 1 ELSE 2 END, granted_at, user_id"


def _row(values: dict[str, Any]) -> MemberRow:
    return MemberRow(
        campaign_id=int(values["campaign_id"]),
        user_id=int(values["user_id"]),
        role=as_role(str(values["role"])),
        granted_by=int(values["granted_by"]),
        granted_at=ts_from_text(values["granted_at"]),
    )


def set_member(
    db: Database, campaign_id: int, user_id: int, role: Role, granted_by: int, now: datetime
) -> MemberRow:
    """Give ``user_id`` the ``role`` on the campaign, replacing any role they had.

    Raises ValueError for an unknown role and sqlite3.IntegrityError when the campaign is not
    connected.
    """
    row = MemberRow(
        campaign_id=campaign_id,
        user_id=user_id,
        role=as_role(role),
        granted_by=granted_by,
        granted_at=ts_from_text(ts_to_text(now)),
    )
    with transaction(db):
        db.execute(
            """
            INSERT INTO members (campaign_id, user_id, role, granted_by, granted_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (campaign_id, user_id) DO UPDATE SET
                role = excluded.role,
                granted_by = excluded.granted_by,
                granted_at = excluded.granted_at
            """,
            (row.campaign_id, row.user_id, row.role, row.granted_by, ts_to_text(row.granted_at)),
        )
    return row


def remove_member(db: Database, campaign_id: int, user_id: int) -> bool:
    """True when the user was a member and is no longer."""
    with transaction(db):
        cursor: sqlite3.Cursor = db.execute(
            "DELETE FROM members WHERE campaign_id = ? AND user_id = ?", (campaign_id, user_id)
        )
    return cursor.rowcount > 0


def get_member(db: Database, campaign_id: int, user_id: int) -> MemberRow | None:
    for values in db["members"].rows_where(
        "campaign_id = ? AND user_id = ?", [campaign_id, user_id]
    ):
        return _row(values)
    return None


def memberships_of(db: Database, user_id: int) -> list[MemberRow]:
    """Every campaign the user belongs to, in the order they joined."""
    return [
        _row(values)
        for values in db["members"].rows_where(
            "user_id = ?", [user_id], order_by="granted_at, campaign_id"
        )
    ]


def members_of(db: Database, campaign_id: int) -> list[MemberRow]:
    """The campaign's members: owners first, then managers, then couriers, each by granted_at."""
    return [
        _row(values)
        for values in db["members"].rows_where("campaign_id = ?", [campaign_id], order_by=_ORDER)
    ]


def count_owners(db: Database, campaign_id: int) -> int:
    row = db.execute(
        "SELECT count(*) FROM members WHERE campaign_id = ? AND role = 'owner'", (campaign_id,)
    ).fetchone()
    return int(row[0])
