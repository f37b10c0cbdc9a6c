"""Who may act on which campaign, and in what role."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from sqlite_utils import Database

from storage._common import change, row_of, stamp, table, upsert, values_of

Role = Literal["owner", "manager", "courier"]
ROLES: tuple[Role, ...] = ("owner", "manager", "courier")
ROLE_RANK: Mapping[Role, int] = MappingProxyType({"courier": 1, "manager": 2, "owner": 3})


def role_at_least(role: Role | None, needed: Role) -> bool:
    """Return True if ``role`` is ``needed`` or higher; no role (None) never suffices."""
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]


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


def set_member(
    db: Database, campaign_id: int, user_id: int, role: Role, granted_by: int, now: datetime
) -> MemberRow:
    """Give ``user_id`` the ``role`` on the campaign, replacing any role they had.

    Raises ValueError for an unknown role and sqlite3.IntegrityError when the campaign is not
    connected.
    """
    row = MemberRow(campaign_id, user_id, as_role(role), granted_by, stamp(now))
    upsert(db, "members", values_of(row), ("campaign_id", "user_id"))
    return row


def remove_member(db: Database, campaign_id: int, user_id: int) -> bool:
    """True when the user was a member and is no longer."""
    return (
        change(
            db, "DELETE FROM members WHERE campaign_id = ? AND user_id = ?", (campaign_id, user_id)
        )
        > 0
    )


def get_member(db: Database, campaign_id: int, user_id: int) -> MemberRow | None:
    rows = table(db, "members").rows_where(
        "campaign_id = ? AND user_id = ?", [campaign_id, user_id]
    )
    return next((row_of(MemberRow, values) for values in rows), None)


def memberships_of(db: Database, user_id: int) -> list[MemberRow]:
    """Every campaign the user belongs to, in the order they joined."""
    rows = table(db, "members").rows_where(
        "user_id = ?", [user_id], order_by="granted_at, campaign_id"
    )
    return [row_of(MemberRow, values) for values in rows]


def members_of(db: Database, campaign_id: int) -> list[MemberRow]:
    """The campaign's members: owners first, then managers, then couriers, each by granted_at."""
    rows = table(db, "members").rows_where("campaign_id = ?", [campaign_id], order_by=_ORDER)
    return [row_of(MemberRow, values) for values in rows]


def count_owners(db: Database, campaign_id: int) -> int:
    return table(db, "members").count_where("campaign_id = ? AND role = 'owner'", [campaign_id])


def has_any_role(db: Database, user_id: int) -> bool:
    """True when the user is a member of at least one campaign (one indexed lookup)."""
    row = db.execute("SELECT 1 FROM members WHERE user_id = ? LIMIT 1", [user_id]).fetchone()
    return row is not None
