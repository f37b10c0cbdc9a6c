"""Storage of per-shop settings: the default delivery service and the services a shop used."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from storage import campaigns, shop_settings
from storage.db import open_memory_database
from storage.migrations import MIGRATIONS, schema_version

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
CAMPAIGN, OTHER_CAMPAIGN, NEVER_CONNECTED = 21000001, 21000002, 21000009
MANAGER = 1002


@pytest.fixture
def db() -> Iterator[Database]:
    database = open_memory_database()
    for campaign_id in (CAMPAIGN, OTHER_CAMPAIGN):
        campaigns.save_campaign(
            database,
            campaign_id=campaign_id,
            domain="shop.example",
            business_id=777,
            business_name="Shop",
            placement_type="DBS",
            api_key_cipher=b"cipher",
            connected_by=1001,
            now=NOW,
        )
    yield database
    database.close()


def ids(db: Database, campaign_id: int = CAMPAIGN) -> list[int]:
    return [row.service_id for row in shop_settings.most_used(db, campaign_id)]


def test_migration_4_is_registered_and_applied(db: Database) -> None:
    assert next(m for m in MIGRATIONS if m[0] == 4)[2] is shop_settings.create_tables
    assert schema_version(db) >= 4
    tables = set(db.table_names())
    assert {"shop_settings", "service_uses"} <= tables


def test_a_shop_without_settings_has_no_default(db: Database) -> None:
    row = shop_settings.get_settings(db, CAMPAIGN)
    assert row == shop_settings.ShopSettingsRow(CAMPAIGN, None, None, None)


def test_default_service_is_set_replaced_and_cleared(db: Database) -> None:
    shop_settings.set_default_service(db, CAMPAIGN, 51, MANAGER, NOW)
    row = shop_settings.get_settings(db, CAMPAIGN)
    assert (row.default_service_id, row.updated_by, row.updated_at) == (51, MANAGER, NOW)
    later = NOW + timedelta(hours=1)
    shop_settings.set_default_service(db, CAMPAIGN, 48, MANAGER + 1, later)
    assert shop_settings.get_settings(db, CAMPAIGN).default_service_id == 48
    assert shop_settings.get_settings(db, OTHER_CAMPAIGN).default_service_id is None
    shop_settings.set_default_service(db, CAMPAIGN, None, MANAGER, later)
    cleared = shop_settings.get_settings(db, CAMPAIGN)
    assert cleared.default_service_id is None and cleared.updated_at == later


def test_default_needs_a_connected_shop_and_a_positive_id(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        shop_settings.set_default_service(db, NEVER_CONNECTED, 51, MANAGER, NOW)
    with pytest.raises(sqlite3.IntegrityError):
        shop_settings.set_default_service(db, CAMPAIGN, 0, MANAGER, NOW)


def test_uses_add_up_and_order_the_services(db: Database) -> None:
    shop_settings.count_uses(db, CAMPAIGN, {51: 1}, NOW)
    shop_settings.count_uses(db, CAMPAIGN, {48: 2, 1003: 1}, NOW + timedelta(minutes=1))
    shop_settings.count_uses(db, CAMPAIGN, {51: 2}, NOW + timedelta(minutes=2))
    uses = shop_settings.most_used(db, CAMPAIGN)
    assert [(u.service_id, u.uses) for u in uses] == [(51, 3), (48, 2), (1003, 1)]
    assert uses[0].last_used_at == NOW + timedelta(minutes=2)
    assert ids(db, OTHER_CAMPAIGN) == []
    assert [u.service_id for u in shop_settings.most_used(db, CAMPAIGN, limit=2)] == [51, 48]


def test_ties_go_to_the_latest_used_then_the_lower_id(db: Database) -> None:
    shop_settings.count_uses(db, CAMPAIGN, {52: 1, 48: 1}, NOW)
    shop_settings.count_uses(db, CAMPAIGN, {107: 1}, NOW + timedelta(minutes=5))
    assert ids(db) == [107, 48, 52]


def test_zero_counts_and_gone_shops_count_nothing(db: Database) -> None:
    shop_settings.count_uses(db, CAMPAIGN, {51: 0, 48: -1}, NOW)
    assert ids(db) == []
    shop_settings.count_uses(db, NEVER_CONNECTED, {51: 1}, NOW)
    assert db.execute("SELECT COUNT(*) FROM service_uses").fetchone()[0] == 0


def test_forgetting_a_shop_removes_its_settings_and_uses_only(db: Database) -> None:
    for campaign_id in (CAMPAIGN, OTHER_CAMPAIGN):
        shop_settings.set_default_service(db, campaign_id, 51, MANAGER, NOW)
        shop_settings.count_uses(db, campaign_id, {51: 4, 48: 1}, NOW)
    campaigns.forget_campaign(db, CAMPAIGN)
    assert shop_settings.get_settings(db, CAMPAIGN).default_service_id is None
    assert ids(db) == []
    assert shop_settings.get_settings(db, OTHER_CAMPAIGN).default_service_id == 51
    assert ids(db, OTHER_CAMPAIGN) == [51, 48]


def test_reconnecting_a_shop_keeps_its_settings(db: Database) -> None:
    shop_settings.set_default_service(db, CAMPAIGN, 51, MANAGER, NOW)
    shop_settings.count_uses(db, CAMPAIGN, {51: 1}, NOW)
    campaigns.save_campaign(
        db,
        campaign_id=CAMPAIGN,
        domain="shop.example",
        business_id=777,
        business_name="Shop",
        placement_type="DBS",
        api_key_cipher=b"new-cipher",
        connected_by=1001,
        now=NOW + timedelta(days=1),
    )
    assert shop_settings.get_settings(db, CAMPAIGN).default_service_id == 51
    assert ids(db) == [51]
