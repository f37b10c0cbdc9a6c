"""How a shop is named in answers: its domain or business name, with the campaign id."""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database

from storage import campaigns


def shop_name(row: campaigns.CampaignRow | None, campaign_id: int | None = None) -> str:
    if row is None:
        return f"#{campaign_id}" if campaign_id else "?"
    name = row.domain or row.business_name
    return f"{name} ({row.id})" if name else f"#{row.id}"


def shop_names(db: Database, campaign_ids: Iterable[int]) -> dict[int, str]:
    """Every id's name; an id that is not connected (any more) is named by its number."""
    ids = list(campaign_ids)
    rows = campaigns.get_campaigns(db, ids)
    return {cid: shop_name(rows.get(cid), cid) for cid in ids}


def shop_of(db: Database, campaign_id: int) -> str:
    return shop_name(campaigns.get_campaign(db, campaign_id), campaign_id)
