"""Requests to connect a shop that already has owners, until an owner approves or declines.

Someone who is not an owner of a connected shop may hold another valid key of its business;
their ``/connect`` does not take the shop over, it becomes one of these rows: who asks, their
key (encrypted with the KeyBox, kept only while the request waits), when it expires. An owner's
answer is applied by ``decide`` in one transaction: it checks that the request still waits and
has not expired and that the person answering is an owner *now*, and on approval replaces the
shop's key and makes the requester an owner. The row's id goes into the buttons' callback data.
A decided row stays (without the key) for ``KEPT_FOR``, so a late press can say what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlite_utils import Database

from storage import campaigns, members
from storage._common import change, row_of, stamp, table, transaction, ts_to_text, values_of

TTL = timedelta(hours=24)
KEPT_FOR = timedelta(days=2)

Verdict = Literal["approved", "declined"]
# done: applied now; gone: no such request (never, purged, or the shop was disconnected);
# expired: too late, nothing changed; already: decided before; not_owner: the person pressing
# is not an owner of the shop (any more).
DecisionStatus = Literal["done", "gone", "expired", "already", "not_owner"]


@dataclass(frozen=True)
class ApprovalRow:
    id: int
    campaign_id: int
    requester_id: int
    requester_name: str
    language: str
    api_key_cipher: bytes | None
    created_at: datetime
    expires_at: datetime
    decision: Verdict | None
    decided_by: int | None
    decided_at: datetime | None

    def __repr__(self) -> str:
        # The cipher is harmless without the secret key, but it has no business in logs either.
        return (
            f"ApprovalRow(id={self.id}, campaign_id={self.campaign_id}, "
            f"requester_id={self.requester_id}, decision={self.decision!r}, "
            f"expires_at={self.expires_at!r})"
        )


@dataclass(frozen=True)
class Decision:
    """What ``decide`` did; ``row`` is the request as decided (or as found), when there is one."""

    status: DecisionStatus
    row: ApprovalRow | None = None


def create_request(
    db: Database,
    *,
    campaign_id: int,
    requester_id: int,
    requester_name: str,
    language: str,
    api_key_cipher: bytes,
    now: datetime,
    ttl: timedelta = TTL,
) -> ApprovalRow:
    """Store a request; an earlier waiting request of the same person for the shop is dropped.

    Requests decided or expired more than ``KEPT_FOR`` ago are purged on the way. Raises
    ValueError for a ttl that is not positive and sqlite3.IntegrityError when the campaign is
    not connected.
    """
    if ttl <= timedelta(0):
        raise ValueError("a request must live for a positive time")
    created = stamp(now)
    row = ApprovalRow(
        0,
        campaign_id,
        requester_id,
        requester_name,
        language,
        bytes(api_key_cipher),
        created,
        created + ttl,
        None,
        None,
        None,
    )
    values = values_of(row)
    del values["id"]
    with transaction(db):
        purge(db, now)
        change(
            db,
            "DELETE FROM approvals WHERE campaign_id = ? AND requester_id = ? AND decision IS NULL",
            (campaign_id, requester_id),
        )
        marks = ", ".join("?" * len(values))
        cursor = db.execute(
            f"INSERT INTO approvals ({', '.join(values)}) VALUES ({marks})",  # noqa: S608
            tuple(values.values()),
        )
        new_id = int(cursor.lastrowid or 0)
    return replace(row, id=new_id)


def get_request(db: Database, request_id: int) -> ApprovalRow | None:
    rows = table(db, "approvals").rows_where("id = ?", [request_id])
    return next((row_of(ApprovalRow, values) for values in rows), None)


def cancel_request(db: Database, request_id: int) -> bool:
    """Drop a request that still waits (nobody could be asked); True when this call did."""
    return change(db, "DELETE FROM approvals WHERE id = ? AND decision IS NULL", (request_id,)) > 0


def decide(
    db: Database, request_id: int, *, approve: bool, owner_id: int, now: datetime
) -> Decision:
    """Apply an owner's answer, once. On approval the shop's key becomes the requester's and
    the requester becomes an owner (the shop's other people and links stay)."""
    with transaction(db):
        row = get_request(db, request_id)
        if row is None:
            return Decision("gone")
        found = replace(row, api_key_cipher=None)  # what a refusal hands back: no key
        if row.decision is not None:
            return Decision("already", found)
        if row.expires_at <= now or row.api_key_cipher is None:
            _wipe_key(db, request_id)
            return Decision("expired", found)
        member = members.get_member(db, row.campaign_id, owner_id)
        if member is None or member.role != "owner":
            return Decision("not_owner", found)
        shop = campaigns.get_campaign(db, row.campaign_id)
        if shop is None:
            return Decision("gone")
        verdict: Verdict = "approved" if approve else "declined"
        if approve:
            campaigns.save_campaign(
                db,
                campaign_id=shop.id,
                domain=shop.domain,
                business_id=shop.business_id,
                business_name=shop.business_name,
                placement_type=shop.placement_type,
                api_key_cipher=row.api_key_cipher,
                connected_by=row.requester_id,
                now=now,
            )
            members.set_member(db, shop.id, row.requester_id, "owner", owner_id, now)
        change(
            db,
            "UPDATE approvals SET decision = ?, decided_by = ?, decided_at = ?, "
            "api_key_cipher = NULL WHERE id = ?",
            (verdict, owner_id, ts_to_text(now), request_id),
        )
    decided = replace(found, decision=verdict, decided_by=owner_id, decided_at=stamp(now))
    return Decision("done", decided)


def purge(db: Database, now: datetime) -> int:
    """Forget the keys of expired requests, and requests over ``KEPT_FOR`` past their end;
    returns how many rows were removed."""
    at = ts_to_text(now)
    change(db, "UPDATE approvals SET api_key_cipher = NULL WHERE expires_at <= ?", (at,))
    old = ts_to_text(now - KEPT_FOR)
    return change(
        db,
        "DELETE FROM approvals WHERE expires_at <= ? OR (decided_at IS NOT NULL AND "
        "decided_at <= ?)",
        (old, old),
    )


def _wipe_key(db: Database, request_id: int) -> None:
    change(db, "UPDATE approvals SET api_key_cipher = NULL WHERE id = ?", (request_id,))
