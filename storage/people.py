"""People's display names, as Telegram last showed them, so /members can say who is who.

Only people with a role in some shop are recorded: the bot has no reason to keep a stranger's
name. Names arrive already sanitised by the caller; a username that is not Telegram-shaped is
dropped. ``note`` is called for every command, so it writes only when a name changed and
remembers what it stored in a small map the caller keeps (one entry per member), making the
usual case a dictionary lookup.
"""

from __future__ import annotations

import re
from collections.abc import Collection, MutableMapping
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from storage import members
from storage._common import id_list, row_of, ts_to_text, upsert

# Telegram usernames: 5–32 letters, digits and underscores (shorter ones exist for old bots).
_USERNAME = re.compile(r"[A-Za-z0-9_]{3,32}")

Seen = MutableMapping[int, tuple[str, str | None]]


@dataclass(frozen=True)
class PersonRow:
    user_id: int
    name: str
    username: str | None
    updated_at: datetime


def clean_username(username: str | None) -> str | None:
    """The username when it is Telegram-shaped, else None."""
    return username if username and _USERNAME.fullmatch(username) else None


def note(
    db: Database,
    seen: Seen,
    user_id: int,
    name: str,
    username: str | None,
    now: datetime,
) -> bool:
    """Record the member's current name; True when something was written.

    ``seen`` maps user ids to the (name, username) last known to be stored; it is read first
    and updated after a write, so an unchanged name costs no query at all.
    """
    username = clean_username(username)
    shown = (name, username)
    if seen.get(user_id) == shown:
        return False
    if not members.has_any_role(db, user_id):
        return False
    stored = get_person(db, user_id)
    changed = stored is None or (stored.name, stored.username) != shown
    if changed:
        values = {"user_id": user_id, "name": name, "username": username}
        upsert(db, "people", {**values, "updated_at": ts_to_text(now)}, ("user_id",))
    seen[user_id] = shown
    return changed


def get_person(db: Database, user_id: int) -> PersonRow | None:
    return names_of(db, [user_id]).get(user_id)


def names_of(db: Database, user_ids: Collection[int]) -> dict[int, PersonRow]:
    """The recorded names of these people (those never seen are missing)."""
    cursor = db.execute(
        "SELECT user_id, name, username, updated_at FROM people "
        "WHERE user_id IN (SELECT value FROM json_each(?))",
        (id_list(user_ids),),
    )
    columns = ("user_id", "name", "username", "updated_at")
    return {
        int(values[0]): row_of(PersonRow, dict(zip(columns, values, strict=True)))
        for values in cursor.fetchall()
    }
