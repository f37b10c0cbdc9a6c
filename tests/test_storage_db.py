"""Storage foundations: opening, migrations, file modes, the secret key, redaction, the row
mapper, the audit log and the questions waiting for a button press."""

from __future__ import annotations

import ast
import base64
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import pytest
from cryptography.fernet import Fernet
from sqlite_utils import Database
from sqlite_utils.db import Table

from storage import audit, campaigns, pending, prefs
from storage._common import row_of, stamp, values_of
from storage.db import (
    DatabaseInUseError,
    StorageFileError,
    lock_database,
    open_database,
    open_memory_database,
    transaction,
)
from storage.migrations import MIGRATIONS, SchemaTooNewError, apply_migrations, schema_version
from storage.pending import Choice
from storage.secrets import (
    REDACTED,
    KeyBox,
    SecretKeyError,
    contains_secret,
    redact,
    remember_secret,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
API_KEY = "ACMA:Zx9Qw3Er5Ty7Ui1Op2As4Df6Gh8Jk0LzXcVbNm12:a1b2c3d4"
OWNER, COURIER = 1001, 1003
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


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def file_bytes(path: Path) -> bytes:
    """The database file and its WAL, where freshly committed pages live until a checkpoint."""
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def connect(db: Database, cipher: bytes = b"cipher") -> None:
    campaigns.save_campaign(
        db,
        campaign_id=CAMPAIGN,
        domain="shop.example",
        business_id=777,
        business_name="Shop",
        placement_type="DBS",
        api_key_cipher=cipher,
        connected_by=OWNER,
        now=NOW,
    )


# --- opening and migrations --------------------------------------------------------------------


def test_migrations_are_numbered_consecutively_from_one() -> None:
    assert [version for version, _name, _fn in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert len(MIGRATIONS) >= 2


def test_opening_twice_keeps_schema_and_data(db_path: Path) -> None:
    first = open_database(db_path)
    latest = MIGRATIONS[-1][0]
    assert schema_version(first) == latest
    prefs.set_language(first, OWNER, "en")
    first.close()

    second = open_database(db_path)
    assert apply_migrations(second) == latest
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
    operations = db["operations"]
    assert isinstance(operations, Table)
    assert ["status", "next_attempt_at"] in [index.columns for index in operations.indexes]
    assert "result" not in operations.columns_dict
    pending_table = db["pending"]
    assert isinstance(pending_table, Table)
    assert "choices" in pending_table.columns_dict


def test_version_1_database_is_migrated_with_its_data(db_path: Path) -> None:
    old = Database(db_path)
    with transaction(old):
        MIGRATIONS[0][2](old)
        old.execute("PRAGMA user_version = 1")
    created = "2025-01-01T12:00:00.000000+00:00"
    with old.conn:
        old.execute(
            "INSERT INTO pending (chat_id, message_id, thread_id, user_id, language, command, "
            "text, created_at) VALUES (?, 5, NULL, ?, 'ru', 'move', '/move 1 25.12', ?)",
            (GROUP_CHAT, COURIER, created),
        )
        old.execute(
            "INSERT INTO batches (id, chat_id, message_id, user_id, language, command, "
            "created_at) VALUES ('1:2', 1, 2, ?, 'en', 'track', ?)",
            (COURIER, created),
        )
        old.execute(
            "INSERT INTO operations (batch_id, line_no, campaign_id, kind, payload, status, "
            "next_attempt_at, deadline_at, result, created_at, updated_at) "
            "VALUES ('1:2', 1, ?, 'track', '{\"order_id\":1}', 'done', ?, ?, '{}', ?, ?)",
            (CAMPAIGN, created, created, created, created),
        )
    old.close()

    migrated = open_database(db_path)
    assert schema_version(migrated) == MIGRATIONS[-1][0]
    [question] = migrated.execute("SELECT id FROM pending").fetchall()
    row = pending.get_pending(migrated, question[0])
    assert row is not None
    assert (row.chat_id, row.text, row.created_at) == (GROUP_CHAT, "/move 1 25.12", NOW)
    assert row.choices == {}
    assert row.choice(0) is None
    columns = [c[1] for c in migrated.execute("PRAGMA table_info(operations)").fetchall()]
    assert "result" not in columns
    kept = migrated.execute("SELECT kind, payload, status FROM operations").fetchall()
    assert kept == [("track", '{"order_id":1}', "done")]
    migrated.close()


def test_database_from_newer_program_is_refused(db_path: Path) -> None:
    database = open_database(db_path)
    database.execute("PRAGMA user_version = 999")
    database.close()
    with pytest.raises(SchemaTooNewError, match="999"):
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


def test_existing_database_is_tightened_to_0600_with_a_warning(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    open_database(db_path).close()
    db_path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="storage.db"):
        open_database(db_path).close()
    assert mode(db_path) == 0o600
    assert [r.getMessage() for r in caplog.records] == [
        f"{db_path} was readable by other users (mode 0644); changed it to 0600: the files of "
        "the bot's database are for its owner only"
    ]
    caplog.clear()
    open_database(db_path).close()  # already private: nothing to say
    assert caplog.records == []


@pytest.mark.parametrize("read_only", [0o400, 0o444, 0o555])
def test_read_only_database_is_refused_untouched(db_path: Path, read_only: int) -> None:
    open_database(db_path).close()
    db_path.chmod(read_only)
    with pytest.raises(StorageFileError, match="is read-only") as caught:
        open_database(db_path)
    assert mode(db_path) == read_only
    assert str(db_path) in str(caught.value) and "chmod 600" in str(caught.value)


def test_file_that_is_not_a_database_is_refused_untouched(db_path: Path) -> None:
    junk = b"PK\x03\x04" + os.urandom(2000)
    db_path.write_bytes(junk)
    db_path.chmod(0o640)
    with pytest.raises(StorageFileError) as caught:
        open_database(db_path)
    assert str(caught.value) == (
        f"the database {db_path} is not a SQLite database, or is damaged: restore it (with its "
        ".key file) from a backup, or set BOT_DB_PATH to a new file"
    )
    assert (db_path.read_bytes(), mode(db_path)) == (junk, 0o640)
    assert not Path(f"{db_path}-wal").exists()


def test_damaged_database_past_its_header_is_refused(db_path: Path) -> None:
    open_database(db_path).close()
    data = bytearray(db_path.read_bytes())
    data[16:100] = os.urandom(84)  # the page size and the rest of the header
    db_path.write_bytes(bytes(data))
    with pytest.raises(StorageFileError, match="is not a SQLite database, or is damaged"):
        open_database(db_path)


def test_missing_directory_is_named(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "bot.sqlite3"
    for attempt in (open_database, lock_database):
        with pytest.raises(StorageFileError) as caught:
            attempt(path)
        assert str(caught.value).startswith(f"the directory {path.parent} does not exist")
    assert not path.parent.exists()


# --- one process per database ------------------------------------------------------------------


def test_the_lock_is_exclusive_names_its_holder_and_is_released(db_path: Path) -> None:
    lock_file = Path(f"{db_path}.lock")
    with lock_database(db_path) as held:
        assert held.path == lock_file
        assert mode(lock_file) == 0o600
        assert lock_file.read_text() == f"{os.getpid()}\n"
        # Any other open of the lock file is refused (another process: tests/test_entry_point).
        with pytest.raises(DatabaseInUseError) as caught:
            lock_database(db_path)
        assert str(caught.value) == (
            f"another bot is running on this database (pid {os.getpid()}); one process per "
            f"database ({db_path})"
        )
    assert lock_file.read_text() == ""
    again = lock_database(db_path)
    again.release()
    again.release()  # twice is harmless


def test_read_only_or_lax_lock_file(db_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lock_file = Path(f"{db_path}.lock")
    lock_file.write_text("")
    lock_file.chmod(0o444)
    with pytest.raises(StorageFileError, match="is read-only"):
        lock_database(db_path)
    assert mode(lock_file) == 0o444
    lock_file.chmod(0o664)
    with caplog.at_level(logging.WARNING, logger="storage.db"):
        lock_database(db_path).release()
    assert mode(lock_file) == 0o600
    assert "(mode 0664); changed it to 0600" in caplog.text


def test_connection_pragmas(db_path: Path) -> None:
    database = open_database(db_path)
    assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert database.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert database.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    database.close()


def test_failed_block_rolls_back_including_joined_writes(db: Database) -> None:
    with pytest.raises(RuntimeError), transaction(db):
        with transaction(db):
            db.execute("INSERT INTO user_prefs (user_id, language) VALUES (?, 'en')", (OWNER,))
        raise RuntimeError("boom")
    assert prefs.get_prefs(db, OWNER).language is None


def test_naive_timestamps_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        pending.purge_pending(db, datetime(2025, 1, 1))


def test_storage_imports_nothing_from_telegram_or_the_bot() -> None:
    forbidden = {"telegram", "handlers", "bot"}
    for source in Path("storage").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{source} imports {name}"


# --- the row mapper ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    id: int
    name: str
    note: str | None
    at: datetime
    when: datetime | None
    data: dict[str, Any]
    flag: bool
    role: Literal["owner", "courier"]
    blob: bytes


def test_row_mapper_round_trip() -> None:
    moscow = timezone(timedelta(hours=3))
    row = Sample(
        1,
        "a",
        None,
        datetime(2025, 1, 1, 15, 0, tzinfo=moscow),
        None,
        {"ё": [1]},
        True,
        "owner",
        b"\x00",
    )
    values = values_of(row)
    assert values == {
        "id": 1,
        "name": "a",
        "note": None,
        "at": "2025-01-01T12:00:00.000000+00:00",
        "when": None,
        "data": '{"ё":[1]}',
        "flag": 1,
        "role": "owner",
        "blob": b"\x00",
    }
    assert type(values["flag"]) is int
    back = row_of(Sample, values)
    assert back == row
    assert back.at.tzinfo == UTC
    assert back.flag is True
    assert stamp(row.at) == back.at == NOW
    other = row_of(Sample, {**values, "flag": 0, "when": values["at"], "note": "n"})
    assert (other.flag, other.when, other.note) == (False, NOW, "n")


def test_row_mapper_refuses_what_does_not_fit() -> None:
    values = values_of(Sample(1, "a", None, NOW, None, {}, False, "courier", b""))
    with pytest.raises(ValueError, match="admin"):
        row_of(Sample, {**values, "role": "admin"})
    with pytest.raises(ValueError, match="not an object"):
        row_of(Sample, {**values, "data": "[1, 2]"})
    with pytest.raises(ValueError, match="timezone-aware"):
        values_of(Sample(1, "a", None, datetime(2025, 1, 1), None, {}, False, "owner", b""))


# --- secrets -----------------------------------------------------------------------------------


def test_key_file_is_generated_private_and_reused(db_path: Path) -> None:
    first = KeyBox.load(None, db_path)
    assert mode(Path(f"{db_path}.key")) == 0o600
    assert KeyBox.load(None, db_path).decrypt(first.encrypt(API_KEY)) == API_KEY


def test_key_file_others_may_read_is_tightened_with_a_warning(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = KeyBox.load(None, db_path)
    key_file = Path(f"{db_path}.key")
    key_file.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="storage.db"):
        again = KeyBox.load(None, db_path)
    assert again.decrypt(first.encrypt(API_KEY)) == API_KEY
    assert mode(key_file) == 0o600
    assert f"{key_file} was readable by other users (mode 0644); changed it to 0600" in caplog.text


def test_read_only_key_file_is_used_as_it_is(db_path: Path) -> None:
    first = KeyBox.load(None, db_path)
    key_file = Path(f"{db_path}.key")
    key_file.chmod(0o400)
    assert KeyBox.load(None, db_path).decrypt(first.encrypt(API_KEY)) == API_KEY
    assert mode(key_file) == 0o400


def test_lost_key_file_is_not_replaced_when_the_database_holds_keys(db_path: Path) -> None:
    database = open_database(db_path)
    assert KeyBox.load(None, db_path, db=database)  # a new database: the file is generated
    key_file = Path(f"{db_path}.key")
    KeyBox.load(None, db_path, db=database).verify(database)
    key_file.unlink()
    with pytest.raises(SecretKeyError, match="is missing") as caught:
        KeyBox.load(None, db_path, db=database)
    assert str(key_file) in str(caught.value)
    assert not key_file.exists()
    # BOT_SECRET_KEY still works, and a database without keys still gets a new file.
    assert KeyBox.load(Fernet.generate_key().decode(), db_path, db=database)
    database.close()
    fresh = open_database(db_path.with_name("fresh.sqlite3"))
    KeyBox.load(None, db_path.with_name("fresh.sqlite3"), db=fresh)
    assert Path(f"{db_path.with_name('fresh.sqlite3')}.key").exists()
    fresh.close()


def test_without_any_path_the_key_is_ephemeral() -> None:
    first, second = KeyBox.load(None, None), KeyBox.load(None, ":memory:")
    with pytest.raises(SecretKeyError):
        second.decrypt(first.encrypt(API_KEY))


def test_secret_setting_wins_over_key_file(db_path: Path) -> None:
    secret = Fernet.generate_key().decode()
    token = KeyBox.load(f" {secret}\n", db_path).encrypt(API_KEY)
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


def test_verify_accepts_the_same_key_and_rejects_another(db_path: Path) -> None:
    database = open_database(db_path)
    KeyBox.load(None, db_path).verify(database)
    database.close()

    reopened = open_database(db_path)
    KeyBox.load(None, db_path).verify(reopened)
    assert reopened.execute("SELECT count(*) FROM meta").fetchone()[0] == 1
    other = KeyBox.load(Fernet.generate_key().decode(), db_path)
    with pytest.raises(SecretKeyError, match="does not match") as caught:
        other.verify(reopened)
    assert f"{db_path}.key" in str(caught.value)
    reopened.close()


def test_decrypt_with_another_key_and_repr_hide_key_material() -> None:
    key = Fernet.generate_key()
    token = KeyBox(key).encrypt(API_KEY)
    with pytest.raises(SecretKeyError) as caught:
        KeyBox(Fernet.generate_key()).decrypt(token)
    assert API_KEY not in str(caught.value)
    assert repr(KeyBox(key)) == "KeyBox(<hidden>)"
    row = campaigns.CampaignRow(1, "d", None, "b", "DBS", token, OWNER, NOW)
    assert "api_key_cipher" not in repr(row)
    assert token.decode() not in repr(row)


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
    assert campaigns.api_key(database, box, CAMPAIGN) == API_KEY
    database.close()


# --- redaction and the audit log ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/track 123 RR456 51", "/track 123 RR456 51"),
        ("/move 123 2025-01-01 user", "/move 123 2025-01-01 user"),
        (f"/connect {CAMPAIGN} {API_KEY}", f"/connect {CAMPAIGN} [redacted]"),
        ("key ACMS:abcdefgh12:def, then more", "key [redacted], then more"),
        ("Bearer y0_AgAAAAAbCdEfGhIjKlMn", "Bearer [redacted]"),
        ("token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "token [redacted]"),
        ("secret=gAAAAABlZ3Jhbmd0b2tlbjEyMzQ1Njc4OTA=", "[redacted]"),
        (
            "ORDER_STATUS_NOT_ALLOWED_FOR_THIS_ACTION: Action is not allowed",
            "ORDER_STATUS_NOT_ALLOWED_FOR_THIS_ACTION: Action is not allowed",
        ),
        ("retry after 2025-01-01T12:00:00+03:00", "retry after 2025-01-01T12:00:00+03:00"),
        ("ru/v2/campaigns/21000001/orders/123/delivery",) * 2,
        # Text quoted as a repr or JSON: a newline is the two characters "\n".
        (r"text='/connect\nACMA:Zx9Qw3Er5Ty7:a1b2c3d4'", r"text='/connect\n[redacted]'"),
        (r"'\ny0_AgAAAAAbCdEfGhIjKlMn'", r"'\n[redacted]'"),
        (r"'\n123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw'", r"'\n[redacted]'"),
        ('{"k": "ACMA:Zx9Qw3Er5Ty7:a1b2c3d4"},', '{"k": "[redacted]"},'),
        # Unusual and lower-case prefixes.
        ("key acma:abc123def456:ff00 here", "key [redacted] here"),
        ("(XYZW:k3y9Body77:c0de)", "([redacted])"),
        (
            "GET http://127.0.0.1:8080/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe",
            "GET http://127.0.0.1:8080/bot[redacted]/getMe",
        ),
        # Whatever follows /connect is a key, whatever its shape.
        ("/connect 21000001 mykeyisthis", "/connect 21000001 [redacted]"),
        (
            r"'text': '/connect\n21000001 plainwords4key'",
            r"'text': '/connect\n21000001 [redacted]'",
        ),
        ("/connect@DbsTestBot lonelykey1 x", "/connect@DbsTestBot [redacted] x"),
        ("Usage: /connect <campaignId> <apiKey>",) * 2,
        ("bot.commands /connect user=1001 chat=1001 campaign=21000001 → ok",) * 2,
        ("/connected somethinglong and /connect 21000001",) * 2,
        # Not secrets.
        ("outcome=refused:key_in_group",) * 2,
        ("at 12:30:45, see http://127.0.0.1:8080/bot",) * 2,
        ("Bad Request: message to delete not found",) * 2,
        ("bot.commands /track user=1001 chat=-100500 campaign=21000001",) * 2,
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert contains_secret(text) is (text != expected)


def test_known_secrets_are_redacted_whatever_their_shape() -> None:
    odd = "qwertyuiop1234567890"  # no shape gives it away: lower case and digits
    glued = "zz:mnbvcxzlkjhgf0987:1"
    assert redact(f"key={odd}") == f"key={odd}"
    remember_secret(f" {odd}\n")
    remember_secret(glued)
    assert redact(f"key={odd}!") == "key=[redacted]!"
    assert redact(rf"'\n{odd}'") == r"'\n[redacted]'"
    assert redact(f"a {glued} b") == "a [redacted] b"
    # A piece between colons, when the key was cut there, still does not show.
    assert redact("…mnbvcxzlkjhgf0987") == "…[redacted]"
    assert contains_secret(f"here: {odd}")


@pytest.mark.parametrize("value", ["", "short", "/track 1 RR1 51", "two words and more"])
def test_short_or_spaced_values_are_not_remembered(value: str) -> None:
    remember_secret(value)
    assert redact(f"x {value} y") == f"x {value} y"


def test_keys_the_key_box_handles_are_remembered() -> None:
    fernet_key = Fernet.generate_key()
    box = KeyBox(fernet_key)
    stored = "lowercasekey0000111122223333"
    token = Fernet(fernet_key).encrypt(stored.encode())
    assert redact(stored) == stored
    assert box.decrypt(token) == stored
    assert redact(f"[{stored}]") == "[[redacted]]"
    typed = "anotherlowercasekey99998888"
    box.encrypt(typed)
    assert redact(typed) == REDACTED
    assert redact(fernet_key.decode()) == REDACTED


def test_record_always_redacts_and_recent_is_newest_first(db: Database) -> None:
    def record(at: datetime, campaign_id: int, arguments: str, error: str | None = None) -> int:
        return audit.record(
            db,
            now=at,
            user_id=None if error else OWNER,
            chat_id=GROUP_CHAT,
            campaign_id=campaign_id,
            command="/connect",
            arguments=arguments,
            outcome="failed" if error else "ok",
            market_error=error,
        )

    first = record(NOW, CAMPAIGN, f"{CAMPAIGN} {API_KEY}")
    second = record(NOW + timedelta(minutes=1), CAMPAIGN, "123", f"invalid: {API_KEY}")
    record(NOW, OTHER_CAMPAIGN, "1 T 2")
    rows = audit.recent(db, CAMPAIGN, 10)
    assert [row.id for row in rows] == [second, first]
    assert rows[1].arguments == f"{CAMPAIGN} [redacted]"
    assert (rows[0].market_error, rows[0].user_id, rows[0].outcome) == (
        "invalid: [redacted]",
        None,
        "failed",
    )
    assert rows[1].at == NOW
    assert audit.recent(db, CAMPAIGN, 1) == rows[:1]
    dump = "\n".join(" ".join(map(str, r)) for r in db.execute("SELECT * FROM audit").fetchall())
    assert API_KEY not in dump


# --- questions waiting for a button ------------------------------------------------------------


def save_question(
    db: Database, *, now: datetime = NOW, choices: list[Choice] | None = None
) -> pending.PendingRow:
    return pending.save_pending(
        db,
        chat_id=GROUP_CHAT,
        message_id=55,
        thread_id=None,
        user_id=COURIER,
        language="ru",
        command="move",
        text="/move 123 25.12",
        choices=choices or [],
        now=now,
    )


def test_pending_keeps_its_choices(db: Database) -> None:
    connect(db)
    choices = [
        Choice("/move 123 25.12 user"),
        Choice("/track 1 RR1 51", campaign_id=CAMPAIGN, make_default=True),
    ]
    saved = save_question(db, choices=choices)
    loaded = pending.get_pending(db, saved.id)
    assert loaded == saved
    assert (loaded.command, loaded.text, loaded.created_at) == ("move", "/move 123 25.12", NOW)
    assert [loaded.choice(0), loaded.choice(1)] == choices
    assert loaded.choice(2) is None
    assert loaded.choice(-1) is None


def test_pending_roundtrip_delete_and_purge(db: Database) -> None:
    old = save_question(db)
    new = save_question(db, now=NOW + timedelta(hours=2))
    assert pending.get_pending(db, old.id) == old
    assert pending.purge_pending(db, NOW + timedelta(hours=1)) == 1
    assert pending.get_pending(db, old.id) is None
    assert pending.delete_pending(db, new.id) is True
    assert pending.delete_pending(db, new.id) is False


def test_pending_ids_are_never_reused(db: Database) -> None:
    first = save_question(db)
    pending.delete_pending(db, first.id)
    assert save_question(db).id != first.id
