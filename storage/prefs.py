"""Per-user preferences: the campaign used when none is named, and the reply language."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from storage._common import opt_int, transaction


@dataclass(frozen=True)
class PrefsRow:
    user_id: int
    default_campaign_id: int | None
    language: str | None


def get_prefs(db: Database, user_id: int) -> PrefsRow:
    """The user's preferences; all unset for a user who never chose any."""
    for values in db.query(
        "SELECT user_id, default_campaign_id, language FROM user_prefs WHERE user_id = ?",
        (user_id,),
    ):
        language = values["language"]
        return PrefsRow(
            user_id=int(values["user_id"]),
            default_campaign_id=opt_int(values["default_campaign_id"]),
            language=None if language is None else str(language),
        )
    return PrefsRow(user_id=user_id, default_campaign_id=None, language=None)


def set_default_campaign(db: Database, user_id: int, campaign_id: int | None) -> None:
    """Set or clear (None) the user's default campaign.

    Raises sqlite3.IntegrityError when the campaign is not connected.
    """
    with transaction(db):
        db.execute(
            """
            INSERT INTO user_prefs (user_id, default_campaign_id) VALUES (?, ?)
            ON CONFLICT (user_id) DO UPDATE SET default_campaign_id = excluded.default_campaign_id
            """,
            (user_id, campaign_id),
        )


def set_language(db: Database, user_id: int, language: str | None) -> None:
    """Set or clear (None) the user's reply language."""
    with transaction(db):
        db.execute(
            """
            INSERT INTO user_prefs (user_id, language) VALUES (?, ?)
            ON CONFLICT (user_id) DO UPDATE SET language = excluded.language
            """,
            (user_id, language),
        )
