"""Wiring: the one place that builds the Application and joins handlers, storage and Market.

``run`` is the bot's whole life: open storage, check the secret key, start Telegram polling and
the operation worker, wait for the stop signal, then stop in order (no new updates; Market calls
in flight finish within a few seconds; the rest stays queued for the next start). Tests and
``python -m bot`` use the same function.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
from telegram import Update
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from bot.config import Settings
from bot.janitor import Janitor
from bot.logs import protect_logs
from bot.market.client import MarketClient
from bot.market.limits import utcnow
from bot.worker import Worker
from handlers import registry
from handlers.context import Services
from handlers.reporting import TelegramReporter
from storage.db import open_database
from storage.secrets import KeyBox

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    """The python-telegram-bot Application with every command installed (not started)."""
    application = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .rate_limiter(
            # Telegram allows ~30 messages a second overall and 20 a minute per group; the
            # limiter queues bursts instead of letting them end in 429s, and retries a 429.
            AIORateLimiter(
                overall_max_rate=settings.telegram_max_messages_per_second,
                overall_time_period=1,
                group_max_rate=20,
                group_time_period=60,
                max_retries=3,
            )
        )
        .concurrent_updates(256)
        .get_updates_read_timeout(settings.telegram_poll_timeout + 10)
        .build()
    )
    registry.install(application)
    application.add_error_handler(_log_error)
    return application


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("error while handling an update: %s", type(context.error).__name__)


async def run(
    settings: Settings,
    stop: asyncio.Event,
    *,
    market_transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """Run the bot until ``stop`` is set.

    Raises storage.secrets.SecretKeyError when the secret key does not fit the database,
    storage.db.StorageFileError when the database or its key file cannot be used, and
    telegram.error.InvalidToken when Telegram rejects the token.
    """
    protect_logs([settings.telegram_bot_token.get_secret_value()])
    db = open_database(settings.bot_db_path)
    try:
        secret = settings.bot_secret_key.get_secret_value() if settings.bot_secret_key else None
        keybox = KeyBox.load(secret, settings.bot_db_path, db=db)
        keybox.verify(db)
        market = MarketClient(
            settings.market_api_base_url,
            parallel_limit=settings.market_parallel_limit,
            hourly_limit=settings.market_hourly_limit,
            timeout=settings.market_timeout_seconds,
            transport=market_transport,
        )
        try:
            await _serve(settings, stop, db, keybox, market)
        finally:
            await market.aclose()
    finally:
        db.close()


async def _serve(
    settings: Settings, stop: asyncio.Event, db: object, keybox: KeyBox, market: MarketClient
) -> None:
    application = build_application(settings)
    async with application:  # initialize (getMe) … shutdown
        reporter = TelegramReporter(application.bot, db, settings.timezone)  # type: ignore[arg-type]
        worker = Worker(
            db,  # type: ignore[arg-type]
            market,
            keybox,
            reporter,
            parallel_limit=settings.market_parallel_limit,
            deadline=timedelta(hours=settings.operation_deadline_hours),
            retry_base=settings.retry_base_seconds,
        )
        application.bot_data["services"] = Services(
            db=db,  # type: ignore[arg-type]
            keybox=keybox,
            market=market,
            runner=worker,
            tz=settings.timezone,
            clock=utcnow,
            bot_username=application.bot.username,
        )
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0,
            timeout=timedelta(seconds=settings.telegram_poll_timeout),
            allowed_updates=[Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY],
        )
        log.info("bot @%s is polling", application.bot.username)
        await worker.start()
        retention = timedelta(days=settings.retention_days)
        janitor = Janitor(db, retention=retention, clock=utcnow)  # type: ignore[arg-type]
        await janitor.start()
        menus = asyncio.create_task(_publish_menus(application))
        try:
            await stop.wait()
        finally:
            log.info("stopping: no new updates; letting Market calls in flight finish")
            await application.updater.stop()
            await worker.stop(grace=STOP_GRACE_SECONDS)
            await janitor.stop()
            menus.cancel()
            await asyncio.gather(menus, return_exceptions=True)
            await application.stop()
    log.info("stopped")


async def _publish_menus(application: Application) -> None:  # type: ignore[type-arg]
    try:
        await registry.publish_menus(application)
    except Exception as exc:  # menus are a convenience; never a reason to stop
        log.warning("could not publish command menus: %s", type(exc).__name__)
