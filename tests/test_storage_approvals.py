"""Storage of connection requests waiting for an owner: single use, expiry, owners only, and the
key replaced and the requester made an owner in one step."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from storage import approvals, campaigns, members
from storage.db import open_memory_database
from storage.migrations import MIGRATIONS

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
OWNER, MANAGER, ASKER, OTHER = 1001, 1002, 1003, 1004
CAMPAIGN, OTHER_CAMPAIGN = 21000001, 21000002


@pytest.fixture
def db() -> Iterator[Database]:
    database = open_memory_database()
    for campaign_id in (CAMPAIGN, OTHER_CAMPAIGN):
        campaigns.save_campaign(
            database,
            campaign_id=campaign_id,
            domain="shop.example",
            business_id=777,
            business_name="Shop",
            placement_type="DBS",
            api_key_cipher=b"owners-cipher",
            connected_by=OWNER,
            now=NOW,
        )
        members.set_member(database, campaign_id, OWNER, "owner", OWNER, NOW)
    members.set_member(database, CAMPAIGN, MANAGER, "manager", OWNER, NOW)
    yield database
    database.close()


def ask(db: Database, who: int = ASKER, at: datetime = NOW, cid: int = CAMPAIGN) -> int:
    row = approvals.create_request(
        db,
        campaign_id=cid,
        requester_id=who,
        requester_name="Eve",
        language="ru",
        api_key_cipher=b"askers-cipher",
        now=at,
    )
    return row.id


def cipher_of(db: Database, campaign_id: int = CAMPAIGN) -> bytes:
    row = campaigns.get_campaign(db, campaign_id)
    assert row is not None
    return row.api_key_cipher


def role_of(db: Database, user_id: int) -> str | None:
    member = members.get_member(db, CAMPAIGN, user_id)
    return member.role if member else None


def test_migration_3_is_the_approvals_table() -> None:
    assert MIGRATIONS[2][0] == 3
    database = open_memory_database()
    columns = {c[1] for c in database.execute("PRAGMA table_info(approvals)").fetchall()}
    assert {"campaign_id", "requester_id", "api_key_cipher", "expires_at", "decision"} <= columns
    database.close()


def test_a_request_keeps_who_asks_and_expires_after_a_day(db: Database) -> None:
    request_id = ask(db)
    row = approvals.get_request(db, request_id)
    assert row is not None
    assert (row.campaign_id, row.requester_id, row.requester_name, row.language) == (
        CAMPAIGN,
        ASKER,
        "Eve",
        "ru",
    )
    assert (row.api_key_cipher, row.created_at, row.expires_at) == (
        b"askers-cipher",
        NOW,
        NOW + timedelta(hours=24),
    )
    assert row.decision is None and "askers-cipher" not in repr(row)
    # Nothing changed in the shop yet.
    assert cipher_of(db) == b"owners-cipher" and role_of(db, ASKER) is None


def test_approval_replaces_the_key_and_makes_an_owner_once(db: Database) -> None:
    request_id = ask(db)
    later = NOW + timedelta(hours=1)
    decision = approvals.decide(db, request_id, approve=True, owner_id=OWNER, now=later)
    assert decision.status == "done" and decision.row is not None
    assert (decision.row.decision, decision.row.decided_by) == ("approved", OWNER)
    assert cipher_of(db) == b"askers-cipher"
    assert cipher_of(db, OTHER_CAMPAIGN) == b"owners-cipher"
    assert role_of(db, ASKER) == "owner" and role_of(db, OWNER) == "owner"
    assert role_of(db, MANAGER) == "manager"
    stored = approvals.get_request(db, request_id)
    assert stored is not None and stored.api_key_cipher is None  # the key is not kept twice

    again = approvals.decide(db, request_id, approve=False, owner_id=OWNER, now=later)
    assert again.status == "already" and again.row is not None
    assert again.row.decision == "approved"
    assert cipher_of(db) == b"askers-cipher" and role_of(db, ASKER) == "owner"


def test_decline_changes_nothing_and_forgets_the_key(db: Database) -> None:
    request_id = ask(db)
    decision = approvals.decide(db, request_id, approve=False, owner_id=OWNER, now=NOW)
    assert decision.status == "done" and decision.row is not None
    assert decision.row.decision == "declined"
    assert cipher_of(db) == b"owners-cipher" and role_of(db, ASKER) is None
    stored = approvals.get_request(db, request_id)
    assert stored is not None and stored.api_key_cipher is None
    assert approvals.decide(db, request_id, approve=True, owner_id=OWNER, now=NOW).status == (
        "already"
    )
    assert role_of(db, ASKER) is None


@pytest.mark.parametrize("presser", [MANAGER, ASKER, OTHER])
def test_only_a_current_owner_can_answer(db: Database, presser: int) -> None:
    request_id = ask(db)
    decision = approvals.decide(db, request_id, approve=True, owner_id=presser, now=NOW)
    assert decision.status == "not_owner"
    assert decision.row is not None and decision.row.api_key_cipher is None
    assert cipher_of(db) == b"owners-cipher" and role_of(db, ASKER) is None
    # The request still waits for a real owner.
    assert approvals.decide(db, request_id, approve=True, owner_id=OWNER, now=NOW).status == "done"


def test_an_owner_removed_meanwhile_can_no_longer_answer(db: Database) -> None:
    members.set_member(db, CAMPAIGN, OTHER, "owner", OWNER, NOW)
    request_id = ask(db)
    members.remove_member(db, CAMPAIGN, OTHER)
    assert approvals.decide(db, request_id, approve=True, owner_id=OTHER, now=NOW).status == (
        "not_owner"
    )
    # An owner of another shop is no owner of this one.
    members.set_member(db, OTHER_CAMPAIGN, OTHER, "owner", OWNER, NOW)
    assert approvals.decide(db, request_id, approve=True, owner_id=OTHER, now=NOW).status == (
        "not_owner"
    )
    assert role_of(db, ASKER) is None


def test_an_expired_request_changes_nothing(db: Database) -> None:
    request_id = ask(db)
    late = NOW + timedelta(hours=24)
    decision = approvals.decide(db, request_id, approve=True, owner_id=OWNER, now=late)
    assert decision.status == "expired"
    assert cipher_of(db) == b"owners-cipher" and role_of(db, ASKER) is None
    stored = approvals.get_request(db, request_id)
    assert stored is not None and stored.api_key_cipher is None


def test_unknown_and_disconnected_requests_are_gone(db: Database) -> None:
    assert approvals.decide(db, 999, approve=True, owner_id=OWNER, now=NOW).status == "gone"
    request_id = ask(db)
    campaigns.forget_campaign(db, CAMPAIGN)
    assert approvals.get_request(db, request_id) is None
    assert approvals.decide(db, request_id, approve=True, owner_id=OWNER, now=NOW).status == "gone"


def test_a_new_request_replaces_the_waiting_one_of_the_same_person(db: Database) -> None:
    first = ask(db)
    other_person = ask(db, who=OTHER)
    other_shop = ask(db, cid=OTHER_CAMPAIGN)
    second = ask(db)
    assert second > first
    assert approvals.get_request(db, first) is None
    for kept in (other_person, other_shop, second):
        assert approvals.get_request(db, kept) is not None
    assert approvals.decide(db, first, approve=True, owner_id=OWNER, now=NOW).status == "gone"


def test_ids_are_never_reused(db: Database) -> None:
    first = ask(db)
    assert approvals.cancel_request(db, first)
    assert not approvals.cancel_request(db, first)
    assert ask(db) > first


def test_old_requests_and_expired_keys_are_purged(db: Database) -> None:
    decided = ask(db, who=OTHER)
    approvals.decide(db, decided, approve=False, owner_id=OWNER, now=NOW)
    waiting = ask(db)
    # A day and a bit later: the waiting request has expired, its key is forgotten.
    approvals.purge(db, NOW + timedelta(hours=25))
    expired = approvals.get_request(db, waiting)
    assert expired is not None and expired.api_key_cipher is None
    assert approvals.get_request(db, decided) is not None
    # Days later both are gone; a new request purges on the way.
    fresh = ask(db, at=NOW + timedelta(days=4))
    assert approvals.get_request(db, decided) is None
    assert approvals.get_request(db, waiting) is None
    assert approvals.get_request(db, fresh) is not None


def test_a_request_must_live_and_name_a_connected_shop(db: Database) -> None:
    with pytest.raises(ValueError, match="positive"):
        approvals.create_request(
            db,
            campaign_id=CAMPAIGN,
            requester_id=ASKER,
            requester_name="Eve",
            language="en",
            api_key_cipher=b"c",
            now=NOW,
            ttl=timedelta(0),
        )
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        ask(db, cid=99)
