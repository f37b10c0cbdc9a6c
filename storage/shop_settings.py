"""Per-shop settings of the work commands: the default delivery service, and how often each
delivery service was used.

A shop's couriers nearly always send parcels with the same one or two services: the default
(``/service``) lets ``/track <order> <code>`` leave it out, and the usage counts put the
shop's own services first wherever the bot offers a choice. Both go with the campaign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

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


@dataclass(frozen=True)
class ShopSettingsRow:
    campaign_id: int
    default_service_id: int | None
    updated_by: int | None
    updated_at: datetime | None


@dataclass(frozen=True)
class ServiceUse:
    """How often a shop used a delivery service, and when last."""

    campaign_id: int
    service_id: int
    uses: int
    last_used_at: datetime


def get_settings(db: Database, campaign_id: int) -> ShopSettingsRow:
    """The shop's settings; all unset for a shop that never changed any."""
    rows = table(db, "shop_settings").rows_where("campaign_id = ?", [campaign_id])
    unset = ShopSettingsRow(campaign_id, None, None, None)
    return next((row_of(ShopSettingsRow, values) for values in rows), unset)


def set_default_service(
    db: Database, campaign_id: int, service_id: int | None, user_id: int, now: datetime
) -> ShopSettingsRow:
    """Set or clear (None) the shop's default delivery service.

    Raises sqlite3.IntegrityError when the campaign is not connected.
    """
    row = ShopSettingsRow(campaign_id, service_id, user_id, stamp(now))
    upsert(db, "shop_settings", values_of(row), ("campaign_id",))
    return row


def count_uses(db: Database, campaign_id: int, uses: Mapping[int, int], now: datetime) -> None:
    """Add ``uses`` (service id → times) to the shop's counts.

    A shop that is not connected (any more) counts nothing: the counts only order choices, so
    a command accepted just before ``/disconnect`` must not fail for them.
    """
    at = ts_to_text(now)
    # One statement per service inside one transaction; INSERT … SELECT skips a gone shop.
    with transaction(db):
        for service_id, times in uses.items():
            if times <= 0:
                continue
            change(
                db,
                "INSERT INTO service_uses (campaign_id, service_id, uses, last_used_at) "
                "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM campaigns WHERE id = ?) "
                "ON CONFLICT (campaign_id, service_id) "
                "DO UPDATE SET uses = uses + excluded.uses, last_used_at = excluded.last_used_at",
                (campaign_id, service_id, times, at, campaign_id),
            )


def most_used(db: Database, campaign_id: int, limit: int | None = None) -> list[ServiceUse]:
    """The shop's services by use, most used first; ties: the latest used first, then by id."""
    rows = table(db, "service_uses").rows_where(
        "campaign_id = ?",
        [campaign_id],
        order_by="uses DESC, last_used_at DESC, service_id",
        limit=limit,
    )
    return [row_of(ServiceUse, values) for values in rows]


def forget_shop(db: Database, campaign_id: int) -> None:
    """Remove the shop's settings and counts (joins the caller's transaction, if any)."""
    change(db, "DELETE FROM service_uses WHERE campaign_id = ?", (campaign_id,))
    change(db, "DELETE FROM shop_settings WHERE campaign_id = ?", (campaign_id,))


def create_tables(db: Database) -> None:
    """Migration 4. Applied databases keep this schema: change it with a new migration."""
    for statement in _SCHEMA_4:
        db.execute(statement)


_SCHEMA_4 = (
    """
    CREATE TABLE shop_settings (
        campaign_id INTEGER PRIMARY KEY NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        default_service_id INTEGER CHECK (default_service_id > 0),
        updated_by INTEGER,
        updated_at TEXT
    )
    """,
    """
    CREATE TABLE service_uses (
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
        service_id INTEGER NOT NULL CHECK (service_id > 0),
        uses INTEGER NOT NULL CHECK (uses > 0),
        last_used_at TEXT NOT NULL,
        PRIMARY KEY (campaign_id, service_id)
    )
    """,
)
