"""Storage: schema, file safety, encryption at rest, and every kind of record."""

from __future__ import annotations

import ast
import base64
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlite_utils import Database
from sqlite_utils.db import Table

from storage import audit, bindings, campaigns, invites, members, operations, pending, prefs
from storage.db import open_database, open_memory_database, transaction
from storage.migrations import MIGRATIONS, SchemaTooNewError, apply_migrations, schema_version
from storage.operations import NewOperation
from storage.secrets import KeyBox, SecretKeyError

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


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.sqlite3"


def connect(
    db: Database, campaign_id: int = CAMPAIGN, cipher: bytes = b"cipher", by: int = OWNER
) -> campaigns.CampaignRow:
    return campaigns.save_campaign(
        db,
        campaign_id=campaign_id,
        domain="shop.example",
        business_id=777,
        business_name="Shop",
        placement_type="DBS",
        api_key_cipher=cipher,
        connected_by=by,
        now=NOW,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def file_bytes(path: Path) -> bytes:
    """The database file and its WAL, where freshly committed pages live until a checkpoint."""
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


# --- schema and file ---------------------------------------------------------------------------


def test_migrations_are_numbered_consecutively_from_one() -> None:
    assert [version for version, _name, _fn in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_opening_twice_keeps_schema_and_data(db_path: Path) -> None:
    first = open_database(db_path)
    latest = MIGRATIONS[-1][0]
    assert schema_version(first) == latest
    prefs.set_language(first, OWNER, "en")
    first.close()

    second = open_database(db_path)
    assert apply_migrations(second) == latest
    assert schema_version(second) == latest
    assert prefs.get_prefs(second, OWNER).language == "en"
    second.close()


def test_schema_has_every_table(db: Database) -> None:
    assert set(db.table_names()) >= {
        "meta",
        "campaigns",
        "members",
        "chat_bindings",
        "invites",
        "user_prefs",
        "audit",
        "pending",
        "batches",
        "operations",
    }
    table = db["operations"]
    assert isinstance(table, Table)
    index_columns = [index.columns for index in table.indexes]
    assert ["status", "next_attempt_at"] in index_columns


def test_database_from_newer_program_is_refused(db_path: Path) -> None:
    database = open_database(db_path)
    database.execute("PRAGMA user_version = 999")
    database.close()
    with pytest.raises(SchemaTooNewError):
        open_database(db_path)


def test_new_database_and_side_files_are_private(db_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        database = open_database(db_path)
        umask_after_open = os.umask(0o022)
        prefs.set_language(database, OWNER, "ru")
        assert mode(db_path) == 0o600
        assert mode(Path(f"{db_path}-wal")) == 0o600
        assert mode(Path(f"{db_path}-shm")) == 0o600
        database.close()
    finally:
        os.umask(previous)
    assert umask_after_open == 0o022  # restored: the umask is process-wide


def test_existing_database_is_tightened_to_0600(db_path: Path) -> None:
    open_database(db_path).close()
    db_path.chmod(0o644)
    open_database(db_path).close()
    assert mode(db_path) == 0o600


def test_connection_pragmas(db_path: Path) -> None:
    database = open_database(db_path)
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert database.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    database.close()


def test_failed_block_rolls_back_including_joined_writes(db: Database) -> None:
    with pytest.raises(RuntimeError), transaction(db):
        prefs.set_language(db, OWNER, "en")
        raise RuntimeError("boom")
    assert prefs.get_prefs(db, OWNER).language is None


def test_naive_timestamps_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pending.purge_pending(db, datetime(2025, 1, 1))


def test_storage_imports_nothing_from_telegram_or_the_bot() -> None:
    forbidden = {"telegram", "handlers", "bot"}
    for source in Path("storage").glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{source} imports {name}"


# --- secrets -----------------------------------------------------------------------------------


def test_key_file_is_generated_private_and_reused(db_path: Path) -> None:
    first = KeyBox.load(None, db_path)
    key_file = Path(f"{db_path}.key")
    assert mode(key_file) == 0o600
    token = first.encrypt(API_KEY)
    assert KeyBox.load(None, db_path).decrypt(token) == API_KEY


def test_without_any_path_the_key_is_ephemeral() -> None:
    first, second = KeyBox.load(None, None), KeyBox.load(None, None)
    with pytest.raises(SecretKeyError):
        second.decrypt(first.encrypt(API_KEY))


def test_secret_setting_wins_over_key_file(db_path: Path) -> None:
    secret = Fernet.generate_key().decode()
    token = KeyBox.load(secret, db_path).encrypt(API_KEY)
    assert not Path(f"{db_path}.key").exists()
    assert Fernet(secret.encode()).decrypt(token).decode() == API_KEY


@pytest.mark.parametrize(
    "bad_secret",
    ["not-a-key", "c2VjcmV0LXZhbHVlLXRoYXQtaXMtdG9vLXNob3J0", "Zx9Qw3Er5Ty7Ui1Op2As4Df6Gh8Jk0Lz=="],
)
def test_invalid_secret_setting_is_refused_without_echoing_it(bad_secret: str) -> None:
    with pytest.raises(SecretKeyError) as caught:
        KeyBox.load(bad_secret, None)
    message = str(caught.value)
    assert message.startswith("BOT_SECRET_KEY is not a valid key")
    assert "Fernet.generate_key()" in message
    assert bad_secret not in message
    assert caught.value.__cause__ is None


def test_corrupt_key_file_is_refused_without_echoing_it(db_path: Path) -> None:
    key_file = Path(f"{db_path}.key")
    key_file.write_text("garbage-key-material")
    key_file.chmod(0o600)
    with pytest.raises(SecretKeyError) as caught:
        KeyBox.load(None, db_path)
    assert "garbage-key-material" not in str(caught.value)
    assert str(key_file) in str(caught.value)


def test_verify_accepts_the_same_key_after_restart(db_path: Path) -> None:
    database = open_database(db_path)
    KeyBox.load(None, db_path).verify(database)
    database.close()

    reopened = open_database(db_path)
    KeyBox.load(None, db_path).verify(reopened)
    assert reopened.execute("SELECT count(*) FROM meta").fetchone()[0] == 1
    reopened.close()


def test_verify_rejects_a_different_key(db_path: Path) -> None:
    database = open_database(db_path)
    KeyBox.load(None, db_path).verify(database)
    other = KeyBox.load(Fernet.generate_key().decode(), db_path)
    with pytest.raises(SecretKeyError, match="does not match") as caught:
        other.verify(database)
    assert f"{db_path}.key" in str(caught.value)
    database.close()


def test_decrypt_with_another_key_raises_secret_key_error() -> None:
    token = KeyBox(Fernet.generate_key()).encrypt(API_KEY)
    with pytest.raises(SecretKeyError) as caught:
        KeyBox(Fernet.generate_key()).decrypt(token)
    assert API_KEY not in str(caught.value)


def test_repr_hides_key_material() -> None:
    key = Fernet.generate_key()
    box = KeyBox(key)
    assert key.decode() not in repr(box)
    assert repr(box) == "KeyBox(<hidden>)"
    row_repr = repr(
        campaigns.CampaignRow(1, "d", None, "b", "DBS", box.encrypt(API_KEY), OWNER, NOW)
    )
    assert "api_key_cipher" not in row_repr


def test_database_file_holds_neither_key_nor_its_base64(db_path: Path) -> None:
    database = open_database(db_path)
    box = KeyBox.load(None, db_path)
    cipher = box.encrypt(API_KEY)
    connect(database, cipher=cipher)

    stored = file_bytes(db_path)
    assert cipher in stored  # proves the bytes read are where the row went
    assert API_KEY.encode() not in stored
    assert base64.b64encode(API_KEY.encode()) not in stored
    assert base64.urlsafe_b64encode(API_KEY.encode()) not in stored
    row = campaigns.get_campaign(database, CAMPAIGN)
    assert row is not None
    assert box.decrypt(row.api_key_cipher) == API_KEY
    database.close()


# --- campaigns ---------------------------------------------------------------------------------


def test_campaign_roundtrip_normalises_time_to_utc(db: Database) -> None:
    campaigns.save_campaign(
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
    assert row == campaigns.CampaignRow(
        CAMPAIGN, "shop.example", None, "Shop", "DBS", b"c1", OWNER, NOW
    )
    assert row.connected_at.tzinfo == UTC
    assert campaigns.get_campaign(db, OTHER_CAMPAIGN) is None


def test_reconnect_replaces_key_and_keeps_members(db: Database) -> None:
    connect(db, cipher=b"old")
    members.set_member(db, CAMPAIGN, COURIER, "courier", OWNER, NOW)
    later = NOW + timedelta(days=1)
    campaigns.save_campaign(
        db,
        campaign_id=CAMPAIGN,
        domain="shop.example",
        business_id=777,
        business_name="Shop renamed",
        placement_type="DBS",
        api_key_cipher=b"new",
        connected_by=MANAGER,
        now=later,
    )
    row = campaigns.get_campaign(db, CAMPAIGN)
    assert row is not None
    assert (row.api_key_cipher, row.connected_by, row.connected_at) == (b"new", MANAGER, later)
    assert row.business_name == "Shop renamed"
    assert members.get_member(db, CAMPAIGN, COURIER) is not None


def test_get_campaigns_returns_known_ids_only(db: Database) -> None:
    connect(db, CAMPAIGN)
    connect(db, OTHER_CAMPAIGN)
    found = campaigns.get_campaigns(db, [CAMPAIGN, 5, CAMPAIGN])
    assert list(found) == [CAMPAIGN]
    assert campaigns.get_campaigns(db, []) == {}


def test_forget_campaign_removes_everything_but_history(db: Database) -> None:
    connect(db, CAMPAIGN)
    connect(db, OTHER_CAMPAIGN)
    for campaign_id in (CAMPAIGN, OTHER_CAMPAIGN):
        members.set_member(db, campaign_id, OWNER, "owner", OWNER, NOW)
        invites.create_invite(db, campaign_id, "courier", OWNER, NOW)
    bindings.bind_chat(db, GROUP_CHAT, CAMPAIGN, OWNER, NOW)
    bindings.bind_chat(db, GROUP_CHAT - 1, OTHER_CAMPAIGN, OWNER, NOW)
    bound_pending = save_pending(db, chat_id=GROUP_CHAT)
    other_pending = save_pending(db, chat_id=GROUP_CHAT - 1)
    prefs.set_default_campaign(db, OWNER, CAMPAIGN)
    prefs.set_default_campaign(db, MANAGER, OTHER_CAMPAIGN)
    batch, _ = new_batch(db, 10)
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
    assert bindings.chats_of(db, CAMPAIGN) == []
    assert (
        db.execute("SELECT count(*) FROM invites WHERE campaign_id = ?", [CAMPAIGN]).fetchone()[0]
        == 0
    )
    assert pending.get_pending(db, bound_pending.id) is None
    assert prefs.get_prefs(db, OWNER).default_campaign_id is None
    assert len(audit.recent(db, CAMPAIGN, 10)) == 1
    assert [op.campaign_id for op in operations.batch_operations(db, batch.id)] == [CAMPAIGN]
    # The other campaign is untouched.
    assert campaigns.get_campaign(db, OTHER_CAMPAIGN) is not None
    assert members.count_owners(db, OTHER_CAMPAIGN) == 1
    assert bindings.binding_of(db, GROUP_CHAT - 1) is not None
    assert pending.get_pending(db, other_pending.id) == other_pending
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


# --- bindings ----------------------------------------------------------------------------------


def test_binding_replace_and_unbind(db: Database) -> None:
    connect(db, CAMPAIGN)
    connect(db, OTHER_CAMPAIGN)
    bindings.bind_chat(db, GROUP_CHAT, CAMPAIGN, OWNER, NOW)
    rebound = bindings.bind_chat(db, GROUP_CHAT, OTHER_CAMPAIGN, MANAGER, NOW)
    assert bindings.binding_of(db, GROUP_CHAT) == rebound
    assert bindings.chats_of(db, CAMPAIGN) == []
    assert bindings.chats_of(db, OTHER_CAMPAIGN) == [rebound]
    assert bindings.unbind_chat(db, GROUP_CHAT) is True
    assert bindings.unbind_chat(db, GROUP_CHAT) is False
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


def test_only_the_invite_hash_reaches_the_file(db_path: Path) -> None:
    database = open_database(db_path)
    connect(database)
    code, row = invites.create_invite(database, CAMPAIGN, "owner", OWNER, NOW)
    stored = file_bytes(db_path)
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


# --- audit -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/track 123 RR456 51", "/track 123 RR456 51"),
        ("/move 123 2025-01-01 user", "/move 123 2025-01-01 user"),
        (f"/connect {CAMPAIGN} {API_KEY}", f"/connect {CAMPAIGN} [redacted]"),
        ("key ACMS:abc:def, then more", "key [redacted], then more"),
        ("Bearer y0_AgAAAAAbCdEfGhIjKlMn", "Bearer [redacted]"),
        ("token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "token [redacted]"),
        ("secret=gAAAAABlZ3Jhbmd0b2tlbjEyMzQ1Njc4OTA=", "[redacted]"),
        (
            "ORDER_STATUS_NOT_ALLOWED_FOR_THIS_ACTION: Action is not allowed",
            "ORDER_STATUS_NOT_ALLOWED_FOR_THIS_ACTION: Action is not allowed",
        ),
        ("retry after 2025-01-01T12:00:00+03:00", "retry after 2025-01-01T12:00:00+03:00"),
        ("ru/v2/campaigns/21000001/orders/123/delivery",) * 2,
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert audit.redact(text) == expected


def test_record_always_redacts_and_recent_is_newest_first(db: Database) -> None:
    first = audit.record(
        db,
        now=NOW,
        user_id=OWNER,
        chat_id=OWNER,
        campaign_id=CAMPAIGN,
        command="/connect",
        arguments=f"{CAMPAIGN} {API_KEY}",
        outcome="ok",
    )
    second = audit.record(
        db,
        now=NOW + timedelta(minutes=1),
        user_id=None,
        chat_id=GROUP_CHAT,
        campaign_id=CAMPAIGN,
        command="/track",
        arguments="123 RR456 51",
        outcome="failed",
        market_error=f"Api-Key token is invalid: {API_KEY}",
    )
    audit.record(
        db,
        now=NOW,
        user_id=OWNER,
        chat_id=OWNER,
        campaign_id=OTHER_CAMPAIGN,
        command="/track",
        arguments="1 T 2",
        outcome="ok",
    )
    rows = audit.recent(db, CAMPAIGN, 10)
    assert [row.id for row in rows] == [second, first]
    assert rows[1].arguments == f"{CAMPAIGN} [redacted]"
    assert rows[0].market_error == "Api-Key token is invalid: [redacted]"
    assert rows[0].user_id is None
    assert rows[0].arguments == "123 RR456 51"
    assert audit.recent(db, CAMPAIGN, 1) == rows[:1]
    dump = "\n".join(" ".join(map(str, r)) for r in db.execute("SELECT * FROM audit").fetchall())
    assert API_KEY not in dump


# --- pending -----------------------------------------------------------------------------------


def save_pending(
    db: Database, *, chat_id: int = GROUP_CHAT, now: datetime = NOW
) -> pending.PendingRow:
    return pending.save_pending(
        db,
        chat_id=chat_id,
        message_id=55,
        thread_id=None,
        user_id=COURIER,
        language="ru",
        command="track",
        text="/track 123 RR456 51",
        now=now,
    )


def test_pending_roundtrip_delete_and_purge(db: Database) -> None:
    old = save_pending(db)
    new = save_pending(db, now=NOW + timedelta(hours=2))
    assert pending.get_pending(db, old.id) == old
    assert pending.purge_pending(db, NOW + timedelta(hours=1)) == 1
    assert pending.get_pending(db, old.id) is None
    assert pending.delete_pending(db, new.id) is True
    assert pending.delete_pending(db, new.id) is False


def test_pending_ids_are_never_reused(db: Database) -> None:
    first = save_pending(db)
    pending.delete_pending(db, first.id)
    assert save_pending(db).id != first.id


# --- operations --------------------------------------------------------------------------------


def new_batch(
    db: Database, message_id: int, lines: int = 1, now: datetime = NOW
) -> tuple[operations.BatchRow, bool]:
    return operations.create_batch(
        db,
        chat_id=GROUP_CHAT,
        message_id=message_id,
        thread_id=7,
        user_id=COURIER,
        language="ru",
        command="track",
        operations=[
            NewOperation(
                line_no=n,
                campaign_id=CAMPAIGN,
                kind="track",
                payload={"order_id": 100 + n, "track": f"RR{n}", "service": 51},
            )
            for n in range(1, lines + 1)
        ],
        now=now,
        deadline_at=now + timedelta(hours=6),
    )


def test_create_batch_stores_queued_operations(db: Database) -> None:
    batch, created = new_batch(db, 10, lines=2)
    assert created is True
    assert batch.id == f"{GROUP_CHAT}:10"
    assert (batch.thread_id, batch.reported, batch.progress_message_id) == (7, False, None)
    ops = operations.batch_operations(db, batch.id)
    assert [(op.line_no, op.status, op.attempts) for op in ops] == [
        (1, "queued", 0),
        (2, "queued", 0),
    ]
    assert ops[0].payload == {"order_id": 101, "track": "RR1", "service": 51}
    assert ops[0].next_attempt_at == NOW
    assert ops[0].deadline_at == NOW + timedelta(hours=6)


def test_redelivered_message_creates_nothing(db: Database) -> None:
    first, _ = new_batch(db, 10, lines=2)
    again, created = new_batch(db, 10, lines=3, now=NOW + timedelta(minutes=1))
    assert created is False
    assert again == first
    assert len(operations.batch_operations(db, first.id)) == 2


def test_create_batch_rejects_empty_or_duplicate_lines(db: Database) -> None:
    with pytest.raises(ValueError):
        new_batch(db, 10, lines=0)
    op = NewOperation(line_no=1, campaign_id=CAMPAIGN, kind="track", payload={})
    with pytest.raises(ValueError):
        operations.create_batch(
            db,
            chat_id=1,
            message_id=1,
            thread_id=None,
            user_id=1,
            language="en",
            command="track",
            operations=[op, op],
            now=NOW,
            deadline_at=NOW,
        )
    assert operations.get_batch(db, "1:1") is None


def test_due_operations_order_limit_and_exclude(db: Database) -> None:
    late, _ = new_batch(db, 20, lines=2, now=NOW)
    early, _ = new_batch(db, 10, lines=1, now=NOW - timedelta(minutes=1))
    future, _ = new_batch(db, 30, lines=1, now=NOW + timedelta(minutes=1))
    early_op = operations.batch_operations(db, early.id)[0]
    late_ops = operations.batch_operations(db, late.id)

    due = operations.due_operations(db, NOW, limit=10)
    assert [op.id for op in due] == [early_op.id, late_ops[0].id, late_ops[1].id]
    assert [op.id for op in operations.due_operations(db, NOW, limit=1)] == [early_op.id]
    assert [
        op.id for op in operations.due_operations(db, NOW, limit=10, exclude={late_ops[0].id})
    ] == [early_op.id, late_ops[1].id]
    assert operations.next_due_at(db) == NOW - timedelta(minutes=1)
    assert future.id not in {op.batch_id for op in due}


def test_operation_lifecycle(db: Database) -> None:
    batch, _ = new_batch(db, 10)
    op_id = operations.batch_operations(db, batch.id)[0].id
    t1, t2, t3 = (NOW + timedelta(seconds=s) for s in (1, 2, 3))

    assert operations.mark_running(db, op_id, t1) is True
    assert operations.mark_running(db, op_id, t1) is False  # already claimed
    assert operations.due_operations(db, t1, limit=10) == []
    assert operations.next_due_at(db) is None

    retry_at = NOW + timedelta(minutes=5)
    error = {"kind": "rate_limited", "retry_at": retry_at.isoformat()}
    assert operations.mark_retrying(db, op_id, t2, next_attempt_at=retry_at, error=error)
    assert operations.next_due_at(db) == retry_at
    assert operations.due_operations(db, t2, limit=10) == []
    assert [op.id for op in operations.due_operations(db, retry_at, limit=10)] == [op_id]

    assert operations.mark_running(db, op_id, retry_at) is True
    assert operations.mark_done(db, op_id, t3, result={"ok": True}) is True
    assert operations.mark_failed(db, op_id, t3, error={"kind": "late"}) is False

    op = operations.get_operation(db, op_id)
    assert op is not None
    assert (op.status, op.attempts, op.result, op.error) == ("done", 2, {"ok": True}, None)
    assert (op.created_at, op.updated_at) == (NOW, t3)


def test_mark_failed_keeps_the_error(db: Database) -> None:
    batch, _ = new_batch(db, 10)
    op_id = operations.batch_operations(db, batch.id)[0].id
    operations.mark_running(db, op_id, NOW)
    error = {"kind": "api", "status": 400, "message": "Action is not allowed"}
    assert operations.mark_failed(db, op_id, NOW, error) is True
    op = operations.batch_operations(db, batch.id)[0]
    assert (op.status, op.error) == ("failed", error)


def test_resume_interrupted_requeues_running_operations(db: Database) -> None:
    batch, _ = new_batch(db, 10, lines=3)
    first, second, third = operations.batch_operations(db, batch.id)
    operations.mark_running(db, first.id, NOW)
    operations.mark_running(db, second.id, NOW)
    operations.mark_done(db, second.id, NOW)
    restart = NOW + timedelta(minutes=10)

    assert operations.resume_interrupted(db, restart) == 1
    resumed = operations.get_operation(db, first.id)
    assert resumed is not None
    assert (resumed.status, resumed.next_attempt_at, resumed.attempts) == ("retrying", restart, 1)
    due = operations.due_operations(db, restart, limit=10)
    assert [op.id for op in due] == [third.id, first.id]
    assert operations.resume_interrupted(db, restart) == 0


def test_finished_unreported_and_open_batches(db: Database) -> None:
    batch, _ = new_batch(db, 10, lines=2)
    other, _ = new_batch(db, 11)
    first, second = operations.batch_operations(db, batch.id)
    operations.mark_done(db, first.id, NOW)
    assert operations.finished_unreported(db) == []
    assert [b.id for b in operations.open_batches(db)] == [batch.id, other.id]

    operations.mark_failed(db, second.id, NOW, {"kind": "not_found"})
    assert [b.id for b in operations.finished_unreported(db)] == [batch.id]
    assert [b.id for b in operations.open_batches(db)] == [other.id]

    assert operations.mark_reported(db, batch.id) is True
    assert operations.finished_unreported(db) == []
    reported = operations.get_batch(db, batch.id)
    assert reported is not None
    assert reported.reported is True


def test_progress_message_and_counts(db: Database) -> None:
    batch, _ = new_batch(db, 10, lines=3)
    assert operations.set_progress_message(db, batch.id, 999) is True
    stored = operations.get_batch(db, batch.id)
    assert stored is not None
    assert stored.progress_message_id == 999
    assert operations.set_progress_message(db, "nope", 1) is False

    first, second, _third = operations.batch_operations(db, batch.id)
    operations.mark_running(db, first.id, NOW)
    operations.mark_running(db, second.id, NOW)
    operations.mark_done(db, second.id, NOW)
    assert operations.counts_by_status(db) == {
        "queued": 1,
        "running": 1,
        "retrying": 0,
        "done": 1,
        "failed": 0,
    }
