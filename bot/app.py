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
from typing import Any

import httpx
from sqlite_utils import Database
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.config import Settings
from bot.feed import OrderFeed
from bot.janitor import Janitor
from bot.logs import protect_logs
from bot.market.client import MarketClient
from bot.market.limits import utcnow
from bot.metrics import Metrics
from bot.plan import MorningPlan
from bot.telegram_limits import TelegramLimiter, window_for_rate
from bot.web import WebHooks, networks, serve, web_app
from bot.worker import Worker
from handlers import messaging, registry
from handlers.cards import CardPublisher
from handlers.context import Services
from handlers.feed_commands import PlanPoster
from handlers.reporting import TelegramReporter
from storage.db import open_database, storage_alive
from storage.secrets import KeyBox

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 5.0


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    """The python-telegram-bot Application with every command installed (not started)."""
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .rate_limiter(
            # Telegram's flood limits as sliding windows (the bot, each group, each private
            # chat), chats taking turns, results before progress notes, 16 calls in flight.
            TelegramLimiter(bot=window_for_rate(settings.telegram_max_messages_per_second))
        )
        .concurrent_updates(256)
        .get_updates_read_timeout(settings.telegram_poll_timeout + 10)
    )
    if settings.webhook_mode:
        builder.updater(None)  # updates come to /telegram instead
    application = builder.build()
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


ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY]


async def _serve(
    settings: Settings, stop: asyncio.Event, db: Database, keybox: KeyBox, market: MarketClient
) -> None:
    application = build_application(settings)
    async with application:  # initialize (getMe) … shutdown
        worker, metrics = _worker(settings, application, db, keybox, market)
        await application.start()
        await worker.start()
        orders = OrderFeed(
            db,
            market,
            keybox,
            CardPublisher(application.bot, db, settings.timezone),
            interval=settings.order_feed_interval_seconds,
            tz=settings.timezone,
            busy=worker.busy,
        )
        await orders.start()
        worker.on_written = orders.poke
        plan = await _start_plan(settings, application, db)
        janitor = Janitor(db, retention=timedelta(days=settings.retention_days), clock=utcnow)
        await janitor.start()
        menus = asyncio.create_task(_publish_menus(application))
        try:
            if settings.webhook_mode:
                hooks = _web_hooks(settings, application, db, worker, orders, metrics)
                await _receive_by_webhook(settings, application, hooks, stop)
            else:
                await _receive_by_polling(settings, application, stop)
        finally:
            log.info("stopping: no new updates; letting Market calls in flight finish")
            await orders.stop()
            await plan.stop()
            await worker.stop(grace=STOP_GRACE_SECONDS)
            await janitor.stop()
            menus.cancel()
            await asyncio.gather(menus, return_exceptions=True)
            await application.stop()
    log.info("stopped")


def _worker(
    settings: Settings,
    application: Application,  # type: ignore[type-arg]
    db: Database,
    keybox: KeyBox,
    market: MarketClient,
) -> tuple[Worker, Metrics]:
    """The worker, the metrics that watch it, and the services every handler is given."""
    reporter = TelegramReporter(application.bot, db, settings.timezone)
    worker = Worker(
        db,
        market,
        keybox,
        reporter,
        parallel_limit=settings.market_parallel_limit,
        deadline=timedelta(hours=settings.operation_deadline_hours),
        retry_base=settings.retry_base_seconds,
    )
    metrics = Metrics(worker.health)
    market.observer = metrics.market
    messaging.on_failure = metrics.telegram_failed
    application.bot_data["services"] = Services(
        db=db,
        keybox=keybox,
        market=market,
        runner=worker,
        tz=settings.timezone,
        clock=utcnow,
        bot_username=application.bot.username,
        on_command=metrics.command,
    )
    return worker, metrics


async def _start_plan(
    settings: Settings,
    application: Application,  # type: ignore[type-arg]
    db: Database,
) -> MorningPlan:
    """The morning plan, looked for as often as the feed sweeps (at most every 30 s)."""
    every = min(30.0, settings.order_feed_interval_seconds or 30.0)
    plan = MorningPlan(db, PlanPoster(application.bot, db), tz=settings.timezone, every=every)
    await plan.start()
    return plan


async def _receive_by_polling(
    settings: Settings,
    application: Application,  # type: ignore[type-arg]
    stop: asyncio.Event,
) -> None:
    """Long polling until ``stop`` (python-telegram-bot deletes a webhook left from before)."""
    assert application.updater is not None
    await application.updater.start_polling(
        poll_interval=0,
        timeout=timedelta(seconds=settings.telegram_poll_timeout),
        allowed_updates=ALLOWED_UPDATES,
    )
    log.info("bot @%s is polling", application.bot.username)
    try:
        await stop.wait()
    finally:
        await application.updater.stop()


async def _receive_by_webhook(
    settings: Settings,
    application: Application,  # type: ignore[type-arg]
    hooks: WebHooks,
    stop: asyncio.Event,
) -> None:
    """Tell Telegram where to post updates, then serve that port until ``stop``."""
    await application.bot.set_webhook(
        url=str(settings.telegram_webhook_url),
        secret_token=hooks.secret,
        allowed_updates=ALLOWED_UPDATES,
    )
    log.info("bot @%s takes webhooks on port %s", application.bot.username, settings.port)
    await serve(web_app(hooks), settings.host, settings.port, stop)


def _web_hooks(
    settings: Settings,
    application: Application,  # type: ignore[type-arg]
    db: Database,
    worker: Worker,
    orders: OrderFeed,
    metrics: Metrics,
) -> WebHooks:
    def health() -> tuple[bool, dict[str, Any]]:
        figures = worker.health()
        storage = storage_alive(db)
        figures["storage"] = "ok" if storage else "unavailable"
        return bool(figures["alive"]) and storage, figures

    secret = settings.telegram_webhook_secret
    assert secret is not None  # the settings refuse webhook mode without one
    return WebHooks(
        application=application,
        secret=secret.get_secret_value(),
        health=health,
        metrics=metrics.text,
        order_event=lambda campaign_id, order_id: orders.pushed(campaign_id),
        allowed=networks(settings.market_notify_allowed_networks),
        trusted_proxies=networks(settings.trusted_proxies),
    )


async def _publish_menus(application: Application) -> None:  # type: ignore[type-arg]
    try:
        await registry.publish_menus(application)
    except Exception as exc:  # menus are a convenience; never a reason to stop
        log.warning("could not publish command menus: %s", type(exc).__name__)
