"""The order feed's records: per shop a cursor and the morning plan, the last state seen of each
order (and who took it), one card per order per chat, feed switches per chat, and digests.

A sweep's orders and its cursor are saved together (``save_sweep``), after the cards of what
changed were posted, so that a restart neither loses a change nor posts a card twice: a card is
recorded (``save_card``) as soon as it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlite_utils import Database

from storage._common import (
    change,
    row_of,
    stamp,
    table,
    transaction,
    ts_to_text,
    upsert,
    values_of,
)

DEFAULT_PLAN_AT = "09:00"


@dataclass(frozen=True)
class FeedShop:
    """A connected shop as the feed sees it."""

    campaign_id: int
    business_id: int | None
    cursor: datetime | None
    swept_at: datetime | None
    plan_at: str
    plan_sent_on: str | None


@dataclass(frozen=True)
class SeenOrder:
    """An order as the feed last saw it; ``snapshot`` is Market's order (the model's JSON)."""

    campaign_id: int
    order_id: int
    status: str
    due_on: str | None
    updated_at: datetime | None
    snapshot: dict[str, Any]
    taken_by: int | None
    taken_at: datetime | None
    seen_at: datetime


@dataclass(frozen=True)
class CardRow:
    chat_id: int
    campaign_id: int
    order_id: int
    message_id: int | None
    thread_id: int | None
    shown: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DigestRow:
    id: int
    chat_id: int
    campaign_id: int
    order_ids: dict[str, Any]  # {"ids": [...]}: JSON columns hold objects
    message_id: int | None
    created_at: datetime

    @property
    def ids(self) -> list[int]:
        return [int(i) for i in self.order_ids.get("ids", [])]

    @property
    def kind(self) -> str:
        """What the digest lists ("new" orders unless said otherwise)."""
        return str(self.order_ids.get("kind", "new"))

    @property
    def lang(self) -> str | None:
        """The language it was written in, when not the chat's."""
        found = self.order_ids.get("lang")
        return str(found) if found else None


# --- shops ------------------------------------------------------------------------------------


def shops(db: Database) -> list[FeedShop]:
    """Every connected shop with its feed state (a shop never swept has no cursor)."""
    cursor = db.execute(
        "SELECT c.id, c.business_id, f.cursor, f.swept_at, coalesce(f.plan_at, ?), "
        "f.plan_sent_on FROM campaigns AS c LEFT JOIN feed_shops AS f ON f.campaign_id = c.id "
        "ORDER BY c.id",
        (DEFAULT_PLAN_AT,),
    )
    columns = ("campaign_id", "business_id", "cursor", "swept_at", "plan_at", "plan_sent_on")
    return [row_of(FeedShop, dict(zip(columns, row, strict=True))) for row in cursor.fetchall()]


def shop(db: Database, campaign_id: int) -> FeedShop | None:
    return next((s for s in shops(db) if s.campaign_id == campaign_id), None)


def _ensure_shop(db: Database, campaign_id: int) -> None:
    change(db, "INSERT OR IGNORE INTO feed_shops (campaign_id) VALUES (?)", (campaign_id,))


def set_plan(db: Database, campaign_id: int, at: str) -> None:
    """The shop's morning plan time ("HH:MM" in the bot's time zone) or "off"."""
    _ensure_shop(db, campaign_id)
    change(db, "UPDATE feed_shops SET plan_at = ? WHERE campaign_id = ?", (at, campaign_id))


def plan_sent(db: Database, campaign_id: int, on: date | None) -> None:
    """Record that the shop's plan for ``on`` (its local date) went out (None: none did)."""
    _ensure_shop(db, campaign_id)
    sql = "UPDATE feed_shops SET plan_sent_on = ? WHERE campaign_id = ?"
    change(db, sql, (on.isoformat() if on else None, campaign_id))


# --- orders -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweptOrder:
    """One order of a sweep, ready to be saved."""

    order_id: int
    status: str
    due_on: date | None
    updated_at: datetime | None
    snapshot: dict[str, Any]


def seen_orders(db: Database, campaign_id: int, order_ids: Iterable[int]) -> dict[int, SeenOrder]:
    """The orders among ``order_ids`` the feed has seen before, by id."""
    wanted = sorted(set(order_ids))
    if not wanted:
        return {}
    rows = table(db, "feed_orders").rows_where(
        "campaign_id = ? AND order_id IN (SELECT value FROM json_each(?))",
        [campaign_id, json.dumps(wanted)],
    )
    return {r.order_id: r for r in (row_of(SeenOrder, values) for values in rows)}


def open_orders(db: Database, campaign_id: int, statuses: Sequence[str]) -> list[SeenOrder]:
    """The shop's orders last seen in one of ``statuses``, by due date then id."""
    rows = table(db, "feed_orders").rows_where(
        "campaign_id = ? AND status IN (SELECT value FROM json_each(?))",
        [campaign_id, json.dumps(list(statuses))],
        order_by="due_on IS NULL, due_on, order_id",
    )
    return [row_of(SeenOrder, values) for values in rows]


def save_sweep(
    db: Database,
    campaign_id: int,
    orders: Sequence[SweptOrder],
    *,
    cursor: datetime | None,
    now: datetime,
) -> None:
    """Save what a sweep saw and where the next one starts, together (one transaction).

    Who took an order is kept; everything else is replaced by what Market said.
    """
    seen = ts_to_text(now)
    # The orders and the cursor change together or not at all: one transaction.
    with transaction(db):
        _ensure_shop(db, campaign_id)
        db.conn.executemany(
            "INSERT INTO feed_orders (campaign_id, order_id, status, due_on, updated_at, "
            "snapshot, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (campaign_id, order_id) "
            "DO UPDATE SET status = excluded.status, due_on = excluded.due_on, "
            "updated_at = excluded.updated_at, snapshot = excluded.snapshot, "
            "seen_at = excluded.seen_at",
            [
                (
                    campaign_id,
                    o.order_id,
                    o.status,
                    o.due_on.isoformat() if o.due_on else None,
                    ts_to_text(o.updated_at) if o.updated_at else None,
                    json.dumps(o.snapshot, ensure_ascii=False, sort_keys=True),
                    seen,
                )
                for o in orders
            ],
        )
        db.execute(
            "UPDATE feed_shops SET cursor = coalesce(?, cursor), swept_at = ? "
            "WHERE campaign_id = ?",
            (ts_to_text(cursor) if cursor else None, seen, campaign_id),
        )


def take(db: Database, campaign_id: int, order_id: int, user_id: int | None, now: datetime) -> bool:
    """Someone takes the order (``user_id``), or it is released (None); False if unknown."""
    taken_at = ts_to_text(now) if user_id is not None else None
    return (
        change(
            db,
            "UPDATE feed_orders SET taken_by = ?, taken_at = ? "
            "WHERE campaign_id = ? AND order_id = ?",
            (user_id, taken_at, campaign_id, order_id),
        )
        > 0
    )


def taken_by(db: Database, campaign_id: int, user_id: int) -> list[SeenOrder]:
    """The shop's orders ``user_id`` has taken, by due date."""
    rows = table(db, "feed_orders").rows_where(
        "campaign_id = ? AND taken_by = ?", [campaign_id, user_id], order_by="due_on, order_id"
    )
    return [row_of(SeenOrder, values) for values in rows]


# --- cards ------------------------------------------------------------------------------------


def card(db: Database, chat_id: int, campaign_id: int, order_id: int) -> CardRow | None:
    rows = table(db, "cards").rows_where(
        "chat_id = ? AND campaign_id = ? AND order_id = ?", [chat_id, campaign_id, order_id]
    )
    return next((row_of(CardRow, values) for values in rows), None)


def cards_of_order(db: Database, campaign_id: int, order_id: int) -> list[CardRow]:
    rows = table(db, "cards").rows_where(
        "campaign_id = ? AND order_id = ?", [campaign_id, order_id], order_by="chat_id"
    )
    return [row_of(CardRow, values) for values in rows]


def has_cards(db: Database, chat_id: int, campaign_id: int) -> bool:
    """Whether the chat has a card (or a listed order) of the shop."""
    row = db.execute(
        "SELECT 1 FROM cards WHERE chat_id = ? AND campaign_id = ? LIMIT 1", (chat_id, campaign_id)
    ).fetchone()
    return row is not None


def save_card(
    db: Database,
    *,
    chat_id: int,
    campaign_id: int,
    order_id: int,
    message_id: int | None,
    thread_id: int | None,
    shown: str,
    now: datetime,
) -> CardRow:
    """Record the card of an order in a chat (a new one, or what it shows now)."""
    existing = card(db, chat_id, campaign_id, order_id)
    row = CardRow(
        chat_id,
        campaign_id,
        order_id,
        message_id,
        thread_id,
        shown,
        existing.created_at if existing else stamp(now),
        stamp(now),
    )
    upsert(db, "cards", values_of(row), ("chat_id", "campaign_id", "order_id"))
    return row


# --- chats ------------------------------------------------------------------------------------


def bound_chats(db: Database, campaign_id: int) -> list[int]:
    """The group chats bound to the shop, by chat id."""
    cursor = db.execute(
        "SELECT chat_id FROM chat_bindings WHERE campaign_id = ? ORDER BY chat_id", (campaign_id,)
    )
    return [int(chat_id) for (chat_id,) in cursor.fetchall()]


def prompt_at(db: Database, chat_id: int, message_id: int, command: str) -> int | None:
    """The id of the question (``storage.pending``) of ``command`` asked by the bot's message
    ``message_id`` itself (a prompt answered by replying to it), if it is still open."""
    row = db.execute(
        "SELECT id FROM pending WHERE chat_id = ? AND message_id = ? AND command = ? "
        "ORDER BY id DESC LIMIT 1",
        (chat_id, message_id, command),
    ).fetchone()
    return None if row is None else int(row[0])


def chat_enabled(db: Database, chat_id: int) -> bool:
    """Whether the chat receives order cards (on unless turned off with /feed off)."""
    row = db.execute("SELECT enabled FROM feed_chats WHERE chat_id = ?", (chat_id,)).fetchone()
    return row is None or bool(row[0])


def set_chat_enabled(db: Database, chat_id: int, enabled: bool) -> None:
    upsert(db, "feed_chats", {"chat_id": chat_id, "enabled": int(enabled)}, ("chat_id",))


def introduced(db: Database, chat_id: int) -> bool:
    """Whether the chat has had its first digest of the orders already open."""
    row = db.execute("SELECT introduced FROM feed_chats WHERE chat_id = ?", (chat_id,)).fetchone()
    return row is not None and bool(row[0])


def mark_introduced(db: Database, chat_id: int, done: bool = True) -> None:
    upsert(db, "feed_chats", {"chat_id": chat_id, "introduced": int(done)}, ("chat_id",))


# --- digests ----------------------------------------------------------------------------------


def save_digest(
    db: Database,
    chat_id: int,
    campaign_id: int,
    order_ids: Sequence[int],
    now: datetime,
    kind: str = "new",
    lang: str | None = None,
) -> DigestRow:
    """A new digest of ``order_ids`` (its message id is set once it is sent); ``kind`` says
    what it lists, for its title, and ``lang`` its language when not the chat's."""
    ids: dict[str, Any] = {"ids": list(order_ids), "kind": kind}
    if lang:
        ids["lang"] = lang
    row = DigestRow(0, chat_id, campaign_id, ids, None, stamp(now))
    values = values_of(row)
    del values["id"]
    found = digest(db, int(str(table(db, "digests").insert(values).last_pk)))
    if found is None:
        raise RuntimeError("a digest vanished right after it was stored")
    return found


def digest(db: Database, digest_id: int) -> DigestRow | None:
    rows = table(db, "digests").rows_where("id = ?", [digest_id])
    return next((row_of(DigestRow, values) for values in rows), None)


def set_digest_message(db: Database, digest_id: int, message_id: int) -> None:
    change(db, "UPDATE digests SET message_id = ? WHERE id = ?", (message_id, digest_id))
