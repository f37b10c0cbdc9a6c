"""Per-user preferences: the campaign used when none is named, and the reply language."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from storage._common import row_of, table, upsert


@dataclass(frozen=True)
class PrefsRow:
    user_id: int
    default_campaign_id: int | None
    language: str | None


def get_prefs(db: Database, user_id: int) -> PrefsRow:
    """The user's preferences; all unset for a user who never chose any."""
    rows = table(db, "user_prefs").rows_where("user_id = ?", [user_id])
    return next((row_of(PrefsRow, values) for values in rows), PrefsRow(user_id, None, None))


def set_default_campaign(db: Database, user_id: int, campaign_id: int | None) -> None:
    """Set or clear (None) the user's default campaign.

    Raises sqlite3.IntegrityError when the campaign is not connected.
    """
    upsert(db, "user_prefs", {"user_id": user_id, "default_campaign_id": campaign_id}, ("user_id",))


def set_language(db: Database, user_id: int, language: str | None) -> None:
    """Set or clear (None) the user's reply language."""
    upsert(db, "user_prefs", {"user_id": user_id, "language": language}, ("user_id",))
