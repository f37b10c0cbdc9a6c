"""A minimal /track bot: the yardstick ``benchmarks/burst.py`` measures the real bot against.

python-telegram-bot with concurrent updates and one ``CommandHandler("track")`` that parses
``<orderId> <trackCode> <serviceId>``, calls Market's setOrderDeliveryTrackCode directly with
httpx and answers, as a reply to the command, "✅ …" or "❌ <Market's message>". No storage, no
access checks, no rate limiter, no retries: about the least a bot can do per command. Against
Telegram's flood limits the answers beyond them are refused with 429 and lost (python-telegram-bot
raises RetryAfter in the handler, which logs it).

Configured by the environment: TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL, MARKET_API_BASE_URL,
MARKET_API_KEY, MARKET_CAMPAIGN_ID and optionally TELEGRAM_POLL_TIMEOUT (seconds, default 1).
Runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import os

# The same opt-in as the bot, so that both run python-telegram-bot alike.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from datetime import timedelta
from typing import Any

import httpx
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

USAGE = "❌ Usage: /track <orderId> <trackCode> <serviceId>"


def market_message(response: httpx.Response) -> str:
    """Market's own error message from its envelope, or the HTTP status when there is none."""
    try:
        errors = response.json().get("errors") or []
        return str(errors[0]["message"])
    except (ValueError, AttributeError, LookupError, TypeError):
        return f"HTTP {response.status_code}"


async def track(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    if len(args) != 3 or not args[0].isdigit() or not args[2].isdigit():
        await message.reply_text(USAGE, do_quote=True)
        return
    order_id, track_code, service_id = int(args[0]), args[1], int(args[2])
    config: dict[str, Any] = context.bot_data["market"]
    client: httpx.AsyncClient = config["client"]
    try:
        response = await client.post(
            f"/v2/campaigns/{config['campaign_id']}/orders/{order_id}/delivery/track",
            json={"trackCode": track_code, "deliveryServiceId": service_id},
            headers={"Api-Key": config["api_key"]},
        )
    except httpx.HTTPError as exc:
        text = f"❌ Order {order_id}: {type(exc).__name__}"
    else:
        if response.status_code == 200:
            text = f"✅ Order {order_id}: track code {track_code} (service {service_id}) set"
        else:
            text = f"❌ Order {order_id}: {market_message(response)}"
    await message.reply_text(text, do_quote=True)


async def _open_market(application: Application) -> None:  # type: ignore[type-arg]
    config = application.bot_data["market"]
    config["client"] = httpx.AsyncClient(
        base_url=config["base_url"], timeout=httpx.Timeout(30.0, connect=10.0)
    )


async def _close_market(application: Application) -> None:  # type: ignore[type-arg]
    await application.bot_data["market"]["client"].aclose()


def main() -> None:
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ.get("TELEGRAM_API_BASE_URL", "https://api.telegram.org/bot"))
        .concurrent_updates(True)
        .post_init(_open_market)
        .post_shutdown(_close_market)
        .build()
    )
    application.bot_data["market"] = {
        "base_url": os.environ["MARKET_API_BASE_URL"].rstrip("/"),
        "api_key": os.environ["MARKET_API_KEY"],
        "campaign_id": int(os.environ["MARKET_CAMPAIGN_ID"]),
    }
    application.add_handler(CommandHandler("track", track))
    application.run_polling(
        poll_interval=0,
        timeout=timedelta(seconds=int(os.environ.get("TELEGRAM_POLL_TIMEOUT", "1"))),
        allowed_updates=[Update.MESSAGE],
    )


if __name__ == "__main__":
    main()
