"""Storage of shops and people: campaigns and their keys, members, chat bindings, invites and
per-user preferences."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlite_utils import Database

from storage import (
    audit,
    bindings,
    campaigns,
    invites,
    members,
    operations,
    pending,
    people,
    prefs,
)
from storage.db import open_database, open_memory_database
from storage.operations import NewBatch, NewOperation
from storage.secrets import KeyBox

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
API_KEY = "ACMA:Zx9Qw3Er5Ty7Ui1Op2As4Df6Gh8Jk0LzXcVbNm12:a1b2c3d4"
OWNER, MANAGER, COURIER, STRANGER = 1001, 1002, 1003, 1004
CAMPAIGN, OTHER_CAMPAIGN = 21000001, 21000002
GROUP_CHAT = -1001234567890


@pytest.fixture
def db() -> Iterator[Database]:
    database = open_memory_database()
    yield database
    database.close()


def connect(
    db: Database,
    campaign_id: int = CAMPAIGN,
    cipher: bytes = b"cipher",
    by: int = OWNER,
    now: datetime = NOW,
    name: str = "Shop",
) -> campaigns.CampaignRow:
    return campaigns.save_campaign(
        db,
        campaign_id=campaign_id,
        domain="shop.example",
        business_id=777,
        business_name=name,
        placement_type="DBS",
        api_key_cipher=cipher,
        connected_by=by,
        now=now,
    )


def count(db: Database, sql: str, *params: object) -> int:
    return int(db.execute(sql, params).fetchone()[0])


# --- campaigns ---------------------------------------------------------------------------------


def test_campaign_roundtrip_normalises_time_to_utc(db: Database) -> None:
    saved = campaigns.save_campaign(
        db,
        campaign_id=CAMPAIGN,
        domain="shop.example",
        business_id=None,
        business_name="Shop",
        placement_type="DBS",
        api_key_cipher=b"c1",
        connected_by=OWNER,
        now=datetime(2025, 1, 1, 15, 0, tzinfo=timezone(timedelta(hours=3))),
    )
    row = campaigns.get_campaign(db, CAMPAIGN)
    assert (
        row
        == saved
        == campaigns.CampaignRow(CAMPAIGN, "shop.example", None, "Shop", "DBS", b"c1", OWNER, NOW)
    )
    assert row.connected_at.tzinfo == UTC
    assert campaigns.get_campaign(db, OTHER_CAMPAIGN) is None


def test_reconnect_replaces_key_and_keeps_members(db: Database) -> None:
    connect(db, cipher=b"old")
    members.set_member(db, CAMPAIGN, COURIER, "courier", OWNER, NOW)
    later = NOW + timedelta(days=1)
    connect(db, cipher=b"new", by=MANAGER, now=later, name="Shop renamed")
    row = campaigns.get_campaign(db, CAMPAIGN)
    assert row is not None
    assert (row.api_key_cipher, row.connected_by, row.connected_at) == (b"new", MANAGER, later)
    assert row.business_name == "Shop renamed"
    assert members.get_member(db, CAMPAIGN, COURIER) is not None
    assert count(db, "SELECT count(*) FROM campaigns") == 1


def test_get_campaigns_returns_known_ids_only(db: Database) -> None:
    connect(db, CAMPAIGN)
    connect(db, OTHER_CAMPAIGN)
    found = campaigns.get_campaigns(db, [CAMPAIGN, 5, CAMPAIGN])
    assert list(found) == [CAMPAIGN]
    assert found[CAMPAIGN] == campaigns.get_campaign(db, CAMPAIGN)
    assert campaigns.get_campaigns(db, []) == {}
    # More ids than SQLite takes as parameters.
    many = [*range(1, 40_000), CAMPAIGN, OTHER_CAMPAIGN]
    assert set(campaigns.get_campaigns(db, many)) == {CAMPAIGN, OTHER_CAMPAIGN}


def test_api_key_is_decrypted_only_with_the_right_box(db: Database) -> None:
    box = KeyBox(Fernet.generate_key())
    connect(db, cipher=box.encrypt(API_KEY))
    assert campaigns.api_key(db, box, CAMPAIGN) == API_KEY
    assert campaigns.api_key(db, box, OTHER_CAMPAIGN) is None
    assert campaigns.api_key(db, KeyBox(Fernet.generate_key()), CAMPAIGN) is None


def test_forget_campaign_removes_everything_but_history(db: Database) -> None:
    for campaign_id, chat, user in ((CAMPAIGN, GROUP_CHAT, OWNER), (OTHER_CAMPAIGN, -5, MANAGER)):
        connect(db, campaign_id)
        members.set_member(db, campaign_id, OWNER, "owner", OWNER, NOW)
        invites.create_invite(db, campaign_id, "courier", OWNER, NOW)
        bindings.bind_chat(db, chat, campaign_id, OWNER, NOW)
        prefs.set_default_campaign(db, user, campaign_id)
    questions = {
        chat: pending.save_pending(
            db,
            chat_id=chat,
            message_id=55,
            thread_id=None,
            user_id=COURIER,
            language="ru",
            command="track",
            text="/track 123 RR456 51",
            choices=[],
            now=NOW,
        )
        for chat in (GROUP_CHAT, -5)
    }
    operation = NewOperation(1, CAMPAIGN, "track", {"order_id": 1})
    batch, _, _ = operations.create_batch(
        db,
        NewBatch(GROUP_CHAT, 10, None, COURIER, "ru", "track", [operation]),
        now=NOW,
        deadline_at=NOW,
    )
    audit.record(
        db,
        now=NOW,
        user_id=OWNER,
        chat_id=OWNER,
        campaign_id=CAMPAIGN,
        command="/connect",
        arguments="",
        outcome="ok",
    )

    campaigns.forget_campaign(db, CAMPAIGN)

    assert campaigns.get_campaign(db, CAMPAIGN) is None
    assert members.members_of(db, CAMPAIGN) == []
    assert bindings.binding_of(db, GROUP_CHAT) is None
    assert count(db, "SELECT count(*) FROM invites WHERE campaign_id = ?", CAMPAIGN) == 0
    assert pending.get_pending(db, questions[GROUP_CHAT].id) is None
    assert prefs.get_prefs(db, OWNER).default_campaign_id is None
    # History stays.
    assert len(audit.recent(db, CAMPAIGN, 10)) == 1
    assert [op.campaign_id for op in operations.batch_operations(db, batch.id)] == [CAMPAIGN]
    # The other campaign is untouched.
    assert campaigns.get_campaign(db, OTHER_CAMPAIGN) is not None
    assert members.count_owners(db, OTHER_CAMPAIGN) == 1
    assert count(db, "SELECT count(*) FROM invites WHERE campaign_id = ?", OTHER_CAMPAIGN) == 1
    assert bindings.binding_of(db, -5) is not None
    assert pending.get_pending(db, questions[-5].id) == questions[-5]
    assert prefs.get_prefs(db, MANAGER).default_campaign_id == OTHER_CAMPAIGN


# --- members -----------------------------------------------------------------------------------


def test_members_listed_by_role_then_seniority(db: Database) -> None:
    connect(db)
    members.set_member(db, CAMPAIGN, COURIER, "courier", OWNER, NOW)
    members.set_member(db, CAMPAIGN, MANAGER, "manager", OWNER, NOW + timedelta(minutes=2))
    members.set_member(db, CAMPAIGN, STRANGER, "owner", OWNER, NOW + timedelta(minutes=3))
    members.set_member(db, CAMPAIGN, OWNER, "owner", OWNER, NOW + timedelta(minutes=1))
    listed = [(m.user_id, m.role) for m in members.members_of(db, CAMPAIGN)]
    assert listed == [
        (OWNER, "owner"),
        (STRANGER, "owner"),
        (MANAGER, "manager"),
        (COURIER, "courier"),
    ]
    assert members.count_owners(db, CAMPAIGN) == 2


def test_set_member_replaces_role(db: Database) -> None:
    connect(db)
    members.set_member(db, CAMPAIGN, MANAGER, "owner", OWNER, NOW)
    assert members.count_owners(db, CAMPAIGN) == 1
    later = NOW + timedelta(hours=1)
    row = members.set_member(db, CAMPAIGN, MANAGER, "manager", STRANGER, later)
    assert members.get_member(db, CAMPAIGN, MANAGER) == row
    assert (row.role, row.granted_by, row.granted_at) == ("manager", STRANGER, later)
    assert members.count_owners(db, CAMPAIGN) == 0


def test_remove_member_reports_whether_it_removed(db: Database) -> None:
    connect(db)
    members.set_member(db, CAMPAIGN, COURIER, "courier", OWNER, NOW)
    assert members.remove_member(db, CAMPAIGN, COURIER) is True
    assert members.remove_member(db, CAMPAIGN, COURIER) is False
    assert members.get_member(db, CAMPAIGN, COURIER) is None


def test_memberships_of_lists_every_campaign_of_a_user(db: Database) -> None:
    connect(db, CAMPAIGN)
    connect(db, OTHER_CAMPAIGN)
    members.set_member(db, OTHER_CAMPAIGN, COURIER, "courier", OWNER, NOW)
    members.set_member(db, CAMPAIGN, COURIER, "manager", OWNER, NOW + timedelta(seconds=1))
    assert [(m.campaign_id, m.role) for m in members.memberships_of(db, COURIER)] == [
        (OTHER_CAMPAIGN, "courier"),
        (CAMPAIGN, "manager"),
    ]
    assert members.memberships_of(db, STRANGER) == []


def test_member_of_unknown_campaign_or_role_is_refused(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        members.set_member(db, CAMPAIGN, COURIER, "courier", OWNER, NOW)
    connect(db)
    with pytest.raises(ValueError, match="role"):
        members.set_member(db, CAMPAIGN, COURIER, "admin", OWNER, NOW)  # type: ignore[arg-type]
    assert members.members_of(db, CAMPAIGN) == []


def test_a_stored_unknown_role_is_not_read_as_a_role(db: Database) -> None:
    connect(db)
    members.set_member(db, CAMPAIGN, COURIER, "courier", OWNER, NOW)
    db.execute("PRAGMA ignore_check_constraints = ON")
    db.execute("UPDATE members SET role = 'admin' WHERE user_id = ?", (COURIER,))
    with pytest.raises(ValueError, match="admin"):
        members.get_member(db, CAMPAIGN, COURIER)


def test_has_any_role_looks_across_campaigns(db: Database) -> None:
    connect(db, CAMPAIGN)
    connect(db, OTHER_CAMPAIGN)
    members.set_member(db, OTHER_CAMPAIGN, COURIER, "courier", OWNER, NOW)
    assert members.has_any_role(db, COURIER) is True
    assert members.has_any_role(db, STRANGER) is False
    members.remove_member(db, OTHER_CAMPAIGN, COURIER)
    assert members.has_any_role(db, COURIER) is False


@pytest.mark.parametrize(
    ("role", "needed", "expected"),
    [
        ("owner", "manager", True),
        ("manager", "manager", True),
        ("courier", "manager", False),
        ("manager", "owner", False),
        (None, "courier", False),
    ],
)
def test_role_at_least_orders_roles(
    role: members.Role | None, needed: members.Role, expected: bool
) -> None:
    assert members.role_at_least(role, needed) is expected
    assert sorted(members.ROLES, key=members.ROLE_RANK.__getitem__) == [
        "courier",
        "manager",
        "owner",
    ]


# --- bindings ----------------------------------------------------------------------------------


def test_binding_replace_and_unbind(db: Database) -> None:
    connect(db, CAMPAIGN)
    connect(db, OTHER_CAMPAIGN)
    bindings.bind_chat(db, GROUP_CHAT, CAMPAIGN, OWNER, NOW)
    rebound = bindings.bind_chat(db, GROUP_CHAT, OTHER_CAMPAIGN, MANAGER, NOW)
    assert bindings.binding_of(db, GROUP_CHAT) == rebound
    assert rebound == bindings.BindingRow(GROUP_CHAT, OTHER_CAMPAIGN, MANAGER, NOW)
    assert count(db, "SELECT count(*) FROM chat_bindings") == 1
    assert bindings.unbind_chat(db, GROUP_CHAT) is True
    assert bindings.unbind_chat(db, GROUP_CHAT) is False
    assert bindings.binding_of(db, GROUP_CHAT) is None


def test_binding_to_an_unknown_campaign_is_refused(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        bindings.bind_chat(db, GROUP_CHAT, CAMPAIGN, OWNER, NOW)
    assert bindings.binding_of(db, GROUP_CHAT) is None


# --- invites -----------------------------------------------------------------------------------


def test_invite_code_fits_a_deep_link_and_is_found_by_hash(db: Database) -> None:
    connect(db)
    code, row = invites.create_invite(db, CAMPAIGN, "manager", OWNER, NOW)
    assert 0 < len(code) <= 64
    assert set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
    assert row.code_hash == invites.hash_code(code) != code
    assert row.expires_at == NOW + timedelta(hours=24)
    assert invites.find_invite(db, code) == row
    assert invites.find_invite(db, code + "x") is None


def test_invite_can_be_used_once(db: Database) -> None:
    connect(db)
    code, row = invites.create_invite(db, CAMPAIGN, "courier", OWNER, NOW)
    used_at = NOW + timedelta(hours=1)
    assert invites.use_invite(db, row.code_hash, COURIER, used_at) is True
    assert invites.use_invite(db, row.code_hash, STRANGER, used_at) is False
    found = invites.find_invite(db, code)
    assert found is not None
    assert (found.used_by, found.used_at) == (COURIER, used_at)


def test_expired_invite_cannot_be_used(db: Database) -> None:
    connect(db)
    _code, row = invites.create_invite(db, CAMPAIGN, "courier", OWNER, NOW, ttl=timedelta(hours=1))
    assert invites.use_invite(db, row.code_hash, COURIER, NOW + timedelta(hours=1)) is False
    assert invites.use_invite(db, "0" * 64, COURIER, NOW) is False
    with pytest.raises(ValueError):
        invites.create_invite(db, CAMPAIGN, "courier", OWNER, NOW, ttl=timedelta(0))
    with pytest.raises(ValueError, match="role"):
        invites.create_invite(db, CAMPAIGN, "admin", OWNER, NOW)  # type: ignore[arg-type]


def test_drop_unused_removes_only_that_creators_open_invites(db: Database) -> None:
    connect(db, CAMPAIGN)
    connect(db, OTHER_CAMPAIGN)
    open_codes = [invites.create_invite(db, CAMPAIGN, "courier", MANAGER, NOW)[0] for _ in range(3)]
    used, used_row = invites.create_invite(db, CAMPAIGN, "courier", MANAGER, NOW)
    assert invites.use_invite(db, used_row.code_hash, COURIER, NOW)
    elsewhere, _ = invites.create_invite(db, OTHER_CAMPAIGN, "courier", MANAGER, NOW)
    owners, _ = invites.create_invite(db, CAMPAIGN, "courier", OWNER, NOW)

    assert invites.drop_unused(db, CAMPAIGN, MANAGER) == 3
    assert [invites.find_invite(db, code) for code in open_codes] == [None, None, None]
    # The used one stays as the record of who joined; other shops and other creators keep theirs.
    assert invites.find_invite(db, used) is not None
    assert invites.find_invite(db, elsewhere) is not None
    assert invites.find_invite(db, owners) is not None
    assert invites.drop_unused(db, CAMPAIGN, MANAGER) == 0


def test_only_the_invite_hash_reaches_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    database = open_database(path)
    connect(database)
    code, row = invites.create_invite(database, CAMPAIGN, "owner", OWNER, NOW)
    wal = Path(f"{path}-wal")
    stored = path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert row.code_hash.encode() in stored
    assert code.encode() not in stored
    database.close()


# --- prefs -------------------------------------------------------------------------------------


def test_prefs_default_then_set_and_clear(db: Database) -> None:
    assert prefs.get_prefs(db, OWNER) == prefs.PrefsRow(OWNER, None, None)
    connect(db)
    prefs.set_default_campaign(db, OWNER, CAMPAIGN)
    prefs.set_language(db, OWNER, "ru")
    assert prefs.get_prefs(db, OWNER) == prefs.PrefsRow(OWNER, CAMPAIGN, "ru")
    prefs.set_default_campaign(db, OWNER, None)
    assert prefs.get_prefs(db, OWNER) == prefs.PrefsRow(OWNER, None, "ru")
    prefs.set_language(db, OWNER, None)
    assert prefs.get_prefs(db, OWNER) == prefs.PrefsRow(OWNER, None, None)
    assert prefs.get_prefs(db, MANAGER) == prefs.PrefsRow(MANAGER, None, None)


def test_default_campaign_must_be_connected(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        prefs.set_default_campaign(db, OWNER, CAMPAIGN)
    assert prefs.get_prefs(db, OWNER).default_campaign_id is None


# --- names (storage.people) ----------------------------------------------------------------------


def test_a_members_name_is_written_only_when_it_changes(db: Database) -> None:
    connect(db)
    members.set_member(db, CAMPAIGN, COURIER, "courier", OWNER, NOW)
    seen: dict[int, tuple[str, str | None]] = {}
    later = NOW + timedelta(hours=1)

    assert people.note(db, seen, COURIER, "Kolya", "kolya_dbs", NOW) is True
    assert people.note(db, seen, COURIER, "Kolya", "kolya_dbs", later) is False
    # After a restart the map is empty: the stored row is read, not written again.
    assert people.note(db, {}, COURIER, "Kolya", "kolya_dbs", later) is False
    assert people.get_person(db, COURIER) == people.PersonRow(COURIER, "Kolya", "kolya_dbs", NOW)

    assert people.note(db, seen, COURIER, "Nikolai", None, later) is True
    assert people.get_person(db, COURIER) == people.PersonRow(COURIER, "Nikolai", None, later)
    assert seen == {COURIER: ("Nikolai", None)}


def test_names_of_strangers_are_not_kept_and_odd_usernames_are_dropped(db: Database) -> None:
    connect(db)
    members.set_member(db, CAMPAIGN, MANAGER, "manager", OWNER, NOW)
    seen: dict[int, tuple[str, str | None]] = {}
    assert people.note(db, seen, STRANGER, "Eve", "eve", NOW) is False
    assert people.get_person(db, STRANGER) is None and seen == {}
    assert people.note(db, seen, MANAGER, "Masha", "not a username!", NOW) is True
    assert people.note(db, seen, OWNER, "Owner", "shop_owner", NOW) is False  # no role yet
    assert people.names_of(db, [MANAGER, OWNER, STRANGER]) == {
        MANAGER: people.PersonRow(MANAGER, "Masha", None, NOW)
    }
    assert people.names_of(db, []) == {}


# --- audit entries name their message and batch -------------------------------------------------


def test_audit_entries_name_their_message_and_batch(db: Database) -> None:
    common: dict[str, Any] = {"now": NOW, "user_id": COURIER, "campaign_id": CAMPAIGN}
    track = {"command": "track", "arguments": "1 RR1234 51", "outcome": "accepted"}
    audit.record(
        db, chat_id=GROUP_CHAT, message_id=10, batch_id=f"{GROUP_CHAT}:10", **track, **common
    )
    audit.record(db, chat_id=GROUP_CHAT, command="help", arguments="", outcome="ok", **common)
    newest, oldest = audit.recent(db, CAMPAIGN, 5)
    assert (oldest.message_id, oldest.batch_id) == (10, f"{GROUP_CHAT}:10")
    assert (newest.message_id, newest.batch_id) == (None, None)
    assert audit.was_handled(db, GROUP_CHAT, 10) is True
    assert audit.was_handled(db, GROUP_CHAT, 11) is False
    assert audit.was_handled(db, COURIER, 10) is False


# --- revisions of a message's batch ---------------------------------------------------------------


def test_an_edit_is_a_revision_of_its_messages_batch(db: Database) -> None:
    def line(n: int, digest: str | None) -> NewOperation:
        return NewOperation(n, CAMPAIGN, "track", {"order_id": n}, digest)

    first = NewBatch(GROUP_CHAT, 10, None, COURIER, "en", "track", [line(1, "a"), line(2, "b")])
    edit = NewBatch(GROUP_CHAT, 10, None, COURIER, "en", "track", [line(2, "c")], revision="e7")
    other = NewBatch(GROUP_CHAT, 11, None, COURIER, "en", "track", [line(1, "d"), line(2, None)])
    for batch in (first, edit, other):
        assert operations.create_batch(db, batch, now=NOW, deadline_at=NOW)[2] is True
    assert edit.id == f"{GROUP_CHAT}:10:e7" and first.id == f"{GROUP_CHAT}:10"
    stored = operations.get_batch(db, edit.id)
    assert stored is not None and stored.revision == "e7" and stored.message_id == 10
    assert operations.get_batch(db, first.id).revision is None  # type: ignore[union-attr]
    assert operations.line_hashes_of(db, GROUP_CHAT, 10) == {"a", "b", "c"}
    assert operations.line_hashes_of(db, GROUP_CHAT, 11) == {"d"}
    assert operations.line_hashes_of(db, GROUP_CHAT, 12) == set()
    # The same edit delivered twice is stored once.
    assert operations.create_batch(db, edit, now=NOW, deadline_at=NOW)[2] is False
