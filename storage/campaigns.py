"""Connected Market campaigns (shops) and their encrypted API keys."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage._common import opt_int, transaction, ts_from_text, ts_to_text


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


def _row(values: dict[str, Any]) -> CampaignRow:
    return CampaignRow(
        id=int(values["id"]),
        domain=str(values["domain"]),
        business_id=opt_int(values["business_id"]),
        business_name=str(values["business_name"]),
        placement_type=str(values["placement_type"]),
        api_key_cipher=bytes(values["api_key_cipher"]),
        connected_by=int(values["connected_by"]),
        connected_at=ts_from_text(values["connected_at"]),
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
        id=campaign_id,
        domain=domain,
        business_id=business_id,
        business_name=business_name,
        placement_type=placement_type,
        api_key_cipher=bytes(api_key_cipher),
        connected_by=connected_by,
        connected_at=ts_from_text(ts_to_text(now)),
    )
    with transaction(db):
        db.execute(
            """
            INSERT INTO campaigns (
                id, domain, business_id, business_name, placement_type, api_key_cipher,
                connected_by, connected_at
            ) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                domain = excluded.domain,
                business_id = excluded.business_id,
                business_name = excluded.business_name,
                placement_type = excluded.placement_type,
                api_key_cipher = excluded.api_key_cipher,
                connected_by = excluded.connected_by,
                connected_at = excluded.connected_at
            """,
            (
                row.id,
                row.domain,
                row.business_id,
                row.business_name,
                row.placement_type,
                row.api_key_cipher,
                row.connected_by,
                ts_to_text(row.connected_at),
            ),
        )
    return row


def get_campaign(db: Database, campaign_id: int) -> CampaignRow | None:
    for values in db["campaigns"].rows_where("id = ?", [campaign_id]):
        return _row(values)
    return None


def get_campaigns(db: Database, ids: Iterable[int]) -> dict[int, CampaignRow]:
    """The campaigns among ``ids`` that are connected, by id; unknown ids are left out."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return {}
    # json_each takes the whole list as one parameter, so no limit on the number of ids.
    rows = db["campaigns"].rows_where(
        "id IN (SELECT value FROM json_each(?))", [json.dumps(wanted)]
    )
    return {row.id: row for row in map(_row, rows)}


def forget_campaign(db: Database, campaign_id: int) -> None:
    """Remove a campaign with its key, members, chat bindings, invites, and the pending
    commands of the chats bound to it; users' default campaign pointing at it is cleared.

    The audit log and the history of operations are kept.
    """
    with transaction(db):
        db.execute(
            "DELETE FROM pending WHERE chat_id IN "
            "(SELECT chat_id FROM chat_bindings WHERE campaign_id = ?)",
            (campaign_id,),
        )
        db.execute("DELETE FROM members WHERE campaign_id = ?", (campaign_id,))
        db.execute("DELETE FROM chat_bindings WHERE campaign_id = ?", (campaign_id,))
        db.execute("DELETE FROM invites WHERE campaign_id = ?", (campaign_id,))
        db.execute(
            "UPDATE user_prefs SET default_campaign_id = NULL WHERE default_campaign_id = ?",
            (campaign_id,),
        )
        db.execute("DELETE FROM campaigns WHERE id = ?", (campaign_id,))
