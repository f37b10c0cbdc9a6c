"""``python -m bot --check``: is this configuration ready to go live? One line per check.

Settings are valid; the database opens (read-only: a running bot is not disturbed, and nothing
is created) at a schema this version knows; the secret key fits it; Telegram knows the token
(``getMe``); and every connected shop's key may still process orders (Market's
getAuthTokenInfo). Exits 0 only when every check passes. Nothing secret is printed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database
from telegram import Bot
from telegram.error import TelegramError

from bot.config import Settings, SettingsError, load_settings
from bot.market.client import MarketClient
from bot.market.errors import MarketError
from storage import campaigns
from storage.migrations import MIGRATIONS, schema_version
from storage.secrets import KeyBox, SecretKeyError

Say = Callable[[bool, str], None]


def _database(settings: Settings, say: Say) -> Database | None:
    path = Path(settings.bot_db_path)
    if not path.exists():
        folder = path.parent if str(path.parent) else Path(".")
        usable = folder.is_dir()
        say(usable, f"database: {path} does not exist yet; it will be created in {folder}")
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db = Database(conn)
        version = schema_version(db)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        say(False, f"database: {path} cannot be read as a database ({exc})")
        return None
    latest = max(v for v, _, _ in MIGRATIONS)
    say(version <= latest, f"database: {path}, schema {version} (this version knows {latest})")
    return db


def _keys(settings: Settings, db: Database | None, say: Say) -> KeyBox | None:
    secret = settings.bot_secret_key.get_secret_value() if settings.bot_secret_key else None
    key_file = Path(f"{settings.bot_db_path}.key")
    if not secret and not key_file.exists():
        say(
            db is None,
            f"secret key: {key_file} is missing"
            + ("" if db is None else " but the database holds keys"),
        )
        return None
    try:
        keybox = KeyBox(secret.strip().encode() if secret else key_file.read_bytes().strip())
        if db is not None:
            row = db.execute("SELECT value FROM meta WHERE key = 'secret_key_canary'").fetchone()
            if row is not None:
                keybox.decrypt(bytes(row[0]))
    except (SecretKeyError, OSError) as exc:
        say(False, f"secret key: {exc}")
        return None
    source = "BOT_SECRET_KEY" if secret else str(key_file)
    say(True, f"secret key: {source} fits the database")
    return keybox


async def _telegram(settings: Settings, say: Say) -> None:
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(), base_url=settings.telegram_api_base_url
    )
    try:
        async with bot:
            me = await bot.get_me()
        say(True, f"telegram: the token is @{me.username}'s")
    except TelegramError as exc:
        say(
            False,
            f"telegram: {type(exc).__name__}: token not accepted or Telegram unreachable",
        )


async def _shops(settings: Settings, db: Database, keybox: KeyBox, say: Say) -> None:
    rows = db.execute("SELECT id FROM campaigns ORDER BY id").fetchall()
    if not rows:
        say(True, "shops: none connected yet")
        return
    async with MarketClient(
        settings.market_api_base_url, timeout=settings.market_timeout_seconds
    ) as market:
        for (campaign_id,) in rows:
            api_key = campaigns.api_key(db, keybox, int(campaign_id))
            if api_key is None:
                say(False, f"shop {campaign_id}: its key cannot be decrypted")
                continue
            try:
                info = await market.get_auth_token_info(api_key)
            except MarketError as exc:
                say(False, f"shop {campaign_id}: Market refused its key ({exc})")
                continue
            say(
                info.can_process_orders,
                f"shop {campaign_id}: key scopes {', '.join(info.auth_scopes)}",
            )


async def check(settings: Settings, print_line: Callable[[str], None] = print) -> bool:
    """Run every check, printing one line each; True when all passed."""
    results: list[bool] = []

    def say(ok: bool, line: str) -> None:
        results.append(ok)
        print_line(("ok    " if ok else "FAIL  ") + line)

    say(True, "settings: " + ("webhook mode" if settings.webhook_mode else "long polling"))
    db = _database(settings, say)
    keybox = _keys(settings, db, say)
    await _telegram(settings, say)
    if db is not None and keybox is not None:
        await _shops(settings, db, keybox, say)
    if db is not None:
        db.close()
    return all(results)


def main(print_line: Callable[[str], None] = print) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print_line(f"FAIL  settings: {exc}")
        return 2
    return 0 if asyncio.run(check(settings, print_line)) else 1
