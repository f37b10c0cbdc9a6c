"""Connected Market campaigns (shops) and their encrypted API keys."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from storage import shop_settings
from storage._common import row_of, stamp, table, transaction, upsert, values_of
from storage.secrets import KeyBox, SecretKeyError


@dataclass(frozen=True)
class CampaignRow:
    id: int
    domain: str
    business_id: int | None
    business_name: str
    placement_type: str
    api_key_cipher: bytes
    connected_by: int
    connected_at: datetime

    def __repr__(self) -> str:
        # The cipher is harmless without the key, but it has no business in logs either.
        return (
            f"CampaignRow(id={self.id}, domain={self.domain!r}, business_id={self.business_id}, "
            f"business_name={self.business_name!r}, placement_type={self.placement_type!r}, "
            f"connected_by={self.connected_by}, connected_at={self.connected_at!r})"
        )


def save_campaign(
    db: Database,
    *,
    campaign_id: int,
    domain: str,
    business_id: int | None,
    business_name: str,
    placement_type: str,
    api_key_cipher: bytes,
    connected_by: int,
    now: datetime,
) -> CampaignRow:
    """Store a connected campaign; connecting it again replaces its details and key.

    Members, chat bindings and invites of the campaign are kept on reconnect.
    """
    row = CampaignRow(
        campaign_id,
        domain,
        business_id,
        business_name,
        placement_type,
        bytes(api_key_cipher),
        connected_by,
        stamp(now),
    )
    upsert(db, "campaigns", values_of(row), ("id",))
    return row


def get_campaign(db: Database, campaign_id: int) -> CampaignRow | None:
    rows = table(db, "campaigns").rows_where("id = ?", [campaign_id])
    return next((row_of(CampaignRow, values) for values in rows), None)


def get_campaigns(db: Database, ids: Iterable[int]) -> dict[int, CampaignRow]:
    """The campaigns among ``ids`` that are connected, by id; unknown ids are left out."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    # json_each takes the whole list as one parameter, so no limit on the number of ids.
    rows = table(db, "campaigns").rows_where(
        "id IN (SELECT value FROM json_each(?))", [json.dumps(wanted)]
    )
    return {row.id: row for row in (row_of(CampaignRow, values) for values in rows)}


def api_key(db: Database, keybox: KeyBox, campaign_id: int) -> str | None:
    """The campaign's API key in plain text; None when it is not connected, or its key cannot
    be decrypted with this key box (then nothing can be sent on its behalf anyway)."""
    row = get_campaign(db, campaign_id)
    if row is None:
        return None
    try:
        return keybox.decrypt(row.api_key_cipher)
    except SecretKeyError:
        return None


def forget_campaign(db: Database, campaign_id: int) -> None:
    """Remove a campaign with its key, members, chat bindings, invites, settings, and the pending
    commands of the chats bound to it; users' default campaign pointing at it is cleared.

    The audit log and the history of operations are kept.
    """
    # Several tables change together: raw SQL inside one transaction.
    with transaction(db):
        db.execute(
            "DELETE FROM pending WHERE chat_id IN "
            "(SELECT chat_id FROM chat_bindings WHERE campaign_id = ?)",
            (campaign_id,),
        )
        db.execute("DELETE FROM members WHERE campaign_id = ?", (campaign_id,))
        db.execute("DELETE FROM chat_bindings WHERE campaign_id = ?", (campaign_id,))
        db.execute("DELETE FROM invites WHERE campaign_id = ?", (campaign_id,))
        shop_settings.forget_shop(db, campaign_id)
        db.execute(
            "UPDATE user_prefs SET default_campaign_id = NULL WHERE default_campaign_id = ?",
            (campaign_id,),
        )
        db.execute("DELETE FROM campaigns WHERE id = ?", (campaign_id,))
