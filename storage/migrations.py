"""Schema migrations, applied in order at start-up, each exactly once.

The schema version lives in ``PRAGMA user_version``. Each migration runs in its own
transaction together with the version bump, so a crash leaves either the old or the new
schema, never half of one. Append new migrations to ``MIGRATIONS``; never edit an applied one.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from storage import shop_settings
from storage._common import transaction

_SCHEMA_1 = (
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY NOT NULL,
        value BLOB NOT NULL
    )
    """,
    """
    CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY NOT NULL,
        domain TEXT NOT NULL,
        business_id INTEGER,
        business_name TEXT NOT NULL,
        placement_type TEXT NOT NULL,
        api_key_cipher BLOB NOT NULL,
        connected_by INTEGER NOT NULL,
        connected_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE members (
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'courier')),
        granted_by INTEGER NOT NULL,
        granted_at TEXT NOT NULL,
        PRIMARY KEY (campaign_id, user_id)
    )
    """,
    "CREATE INDEX members_by_user ON members (user_id)",
    """
    CREATE TABLE chat_bindings (
        chat_id INTEGER PRIMARY KEY NOT NULL,
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        bound_by INTEGER NOT NULL,
        bound_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX chat_bindings_by_campaign ON chat_bindings (campaign_id)",
    """
    CREATE TABLE invites (
        code_hash TEXT PRIMARY KEY NOT NULL,
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('owner', 'manager', 'courier')),
        created_by INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_by INTEGER,
        used_at TEXT
    )
    """,
    "CREATE INDEX invites_by_campaign ON invites (campaign_id)",
    """
    CREATE TABLE user_prefs (
        user_id INTEGER PRIMARY KEY NOT NULL,
        default_campaign_id INTEGER REFERENCES campaigns (id) ON DELETE SET NULL,
        language TEXT
    )
    """,
    "CREATE INDEX user_prefs_by_default_campaign ON user_prefs (default_campaign_id)",
    """
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY NOT NULL,
        at TEXT NOT NULL,
        user_id INTEGER,
        chat_id INTEGER NOT NULL,
        campaign_id INTEGER,
        command TEXT NOT NULL,
        arguments TEXT NOT NULL,
        outcome TEXT NOT NULL,
        market_error TEXT
    )
    """,
    "CREATE INDEX audit_by_campaign ON audit (campaign_id, at, id)",
    """
    CREATE TABLE pending (
        id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        thread_id INTEGER,
        user_id INTEGER NOT NULL,
        language TEXT NOT NULL,
        command TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX pending_by_created_at ON pending (created_at)",
    "CREATE INDEX pending_by_chat ON pending (chat_id)",
    """
    CREATE TABLE batches (
        id TEXT PRIMARY KEY NOT NULL,
        chat_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        thread_id INTEGER,
        user_id INTEGER NOT NULL,
        language TEXT NOT NULL,
        command TEXT NOT NULL,
        progress_message_id INTEGER,
        reported INTEGER NOT NULL DEFAULT 0 CHECK (reported IN (0, 1)),
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX batches_unreported ON batches (reported, created_at)",
    """
    CREATE TABLE operations (
        id INTEGER PRIMARY KEY NOT NULL,
        batch_id TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
        line_no INTEGER NOT NULL,
        campaign_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('queued', 'running', 'retrying', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        deadline_at TEXT NOT NULL,
        error TEXT,
        result TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (batch_id, line_no)
    )
    """,
    "CREATE INDEX operations_due ON operations (status, next_attempt_at)",
)


def _create_tables(db: Database) -> None:
    # A pending command's id is in the callback data of a button that may be pressed days later:
    # AUTOINCREMENT keeps a deleted id from being reused for someone else's command.
    # Operations and audit entries deliberately carry no foreign key to campaigns: they are
    # history and must outlive a forgotten campaign.
    for statement in _SCHEMA_1:
        db.execute(statement)


def _button_choices(db: Database) -> None:
    # A question now keeps the choices its buttons offer; operations never used ``result``.
    db.execute("ALTER TABLE pending ADD COLUMN choices TEXT NOT NULL DEFAULT '{}'")
    db.execute("ALTER TABLE operations DROP COLUMN result")


def _connect_approvals(db: Database) -> None:
    # A request to connect a shop that already has owners, waiting for an owner's button. Its
    # id is in the buttons' callback data: AUTOINCREMENT keeps a deleted id from being reused.
    # The key is kept (encrypted) only while the request waits.
    db.execute(
        """
        CREATE TABLE approvals (
            id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
            campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
            requester_id INTEGER NOT NULL,
            requester_name TEXT NOT NULL,
            language TEXT NOT NULL,
            api_key_cipher BLOB,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            decision TEXT CHECK (decision IN ('approved', 'declined')),
            decided_by INTEGER,
            decided_at TEXT
        )
        """
    )
    db.execute("CREATE INDEX approvals_by_campaign ON approvals (campaign_id, requester_id)")
    db.execute("CREATE INDEX approvals_by_expiry ON approvals (expires_at)")


_FEED = (
    # Per shop: the order feed's cursor (Market's update time to read from) and the morning plan.
    """
    CREATE TABLE feed_shops (
        campaign_id INTEGER PRIMARY KEY NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        cursor TEXT,
        swept_at TEXT,
        plan_at TEXT NOT NULL DEFAULT '09:00',
        plan_sent_on TEXT
    )
    """,
    # The last state the feed saw of each order, and who took it.
    """
    CREATE TABLE feed_orders (
        campaign_id INTEGER NOT NULL,
        order_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        due_on TEXT,
        updated_at TEXT,
        snapshot TEXT NOT NULL,
        taken_by INTEGER,
        taken_at TEXT,
        seen_at TEXT NOT NULL,
        PRIMARY KEY (campaign_id, order_id)
    )
    """,
    "CREATE INDEX feed_orders_by_status ON feed_orders (campaign_id, status, due_on)",
    # One card per order per chat, ever: its message (NULL while only listed in a digest) and
    # a digest of what it shows, so that an edit is sent only when something changed.
    """
    CREATE TABLE cards (
        chat_id INTEGER NOT NULL,
        campaign_id INTEGER NOT NULL,
        order_id INTEGER NOT NULL,
        message_id INTEGER,
        thread_id INTEGER,
        shown TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (chat_id, campaign_id, order_id)
    )
    """,
    "CREATE INDEX cards_by_order ON cards (campaign_id, order_id)",
    # Chats that turned the feed off (/feed off); every chat is on by default.
    """
    CREATE TABLE feed_chats (
        chat_id INTEGER PRIMARY KEY NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        introduced INTEGER NOT NULL DEFAULT 0 CHECK (introduced IN (0, 1))
    )
    """,
    # A digest ("12 new orders") lists its orders; its buttons page through them.
    """
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
        chat_id INTEGER NOT NULL,
        campaign_id INTEGER NOT NULL,
        order_ids TEXT NOT NULL,
        message_id INTEGER,
        created_at TEXT NOT NULL
    )
    """,
)


def _order_feed(db: Database) -> None:
    for statement in _FEED:
        db.execute(statement)


def _names_edits_outcomes(db: Database) -> None:
    # People's display names for /members, written only when a name changes.
    db.execute(
        "CREATE TABLE people (user_id INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL, "
        "username TEXT, updated_at TEXT NOT NULL)"
    )
    # An edit is a new revision of its message's batch, and each line keeps a digest of its
    # text (not the text: it may hold anything), so an edit sends only the lines that changed.
    db.execute("ALTER TABLE batches ADD COLUMN revision TEXT")
    db.execute("CREATE INDEX batches_by_message ON batches (chat_id, message_id)")
    db.execute("ALTER TABLE operations ADD COLUMN line_hash TEXT")
    # An audit entry names its message (only a message that was a command is handled again
    # when edited) and, for an accepted write, its batch (/log tells how it ended).
    db.execute("ALTER TABLE audit ADD COLUMN message_id INTEGER")
    db.execute("ALTER TABLE audit ADD COLUMN batch_id TEXT")
    db.execute("CREATE INDEX audit_by_message ON audit (chat_id, message_id)")


MIGRATIONS: list[tuple[int, str, Callable[[Database], None]]] = [
    (1, "create tables", _create_tables),
    (2, "button choices; no operation result", _button_choices),
    (3, "owners approve connections of their shops", _connect_approvals),
    (4, "shops: default delivery service, services used", shop_settings.create_tables),
    (5, "names, edited commands, audit linked to messages and batches", _names_edits_outcomes),
    (6, "the order feed: cursors, orders seen, cards, digests", _order_feed),
]


class SchemaTooNewError(Exception):
    """The database was written by a newer version of the program than this one."""


def schema_version(db: Database) -> int:
    """The version recorded in ``PRAGMA user_version`` (0 for a fresh database)."""
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def apply_migrations(db: Database) -> int:
    """Apply every migration newer than the database's version; return the resulting version.

    Safe to call on every start and from several processes at once: the version is re-read
    under the write lock before a migration runs. Raises SchemaTooNewError when the database
    is at a version this program does not know.
    """
    ordered = sorted(MIGRATIONS, key=lambda migration: migration[0])
    if len({version for version, _, _ in ordered}) != len(ordered):
        raise RuntimeError("two migrations share a version number")
    latest = ordered[-1][0] if ordered else 0
    current = schema_version(db)
    if current > latest:
        raise SchemaTooNewError(
            f"The database schema is version {current}, newer than this program supports "
            f"({latest}); upgrade the program."
        )
    for version, _name, migrate in ordered:
        if version <= current:
            continue
        with transaction(db):
            current = schema_version(db)
            if version <= current:
                continue
            migrate(db)
            # PRAGMA takes no bound parameters; the version is an int from MIGRATIONS.
            db.execute(f"PRAGMA user_version = {int(version)}")
            current = version
    return schema_version(db)
