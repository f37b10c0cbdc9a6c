"""Webhook mode's one HTTP port (Starlette, served by uvicorn), as python-telegram-bot's
``customwebhookbot`` example does it:

- ``POST /telegram``: Telegram's updates; the ``X-Telegram-Bot-Api-Secret-Token`` header must be
  the configured secret (403 otherwise); each update goes to the Application's queue.
- ``POST /market/notification``: Market's push notifications. ``PING`` is answered at once with
  the body Market expects; an order event makes the order feed sweep that shop now; anything
  else is acknowledged. Only Market's networks may post (``MARKET_NOTIFY_ALLOWED_NETWORKS``;
  set it empty to accept any source, e.g. behind a proxy that checks it);
  behind a proxy the client address is taken from ``X-Forwarded-For`` only when the direct peer
  is one of ``TRUSTED_PROXIES``.
- ``GET /healthz``: 200 with queue figures when the worker and storage are alive, 503 otherwise.
- ``GET /metrics``: Prometheus text (``bot.metrics``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import socket
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ORDER_EVENTS = frozenset(
    {
        "ORDER_CREATED",
        "ORDER_STATUS_UPDATED",
        "ORDER_CANCELLED",
        "ORDER_CANCELLATION_REQUEST",
        "ORDER_UPDATED",
    }
)
# The time each order event carries, by type (the latest one wins).
_EVENT_TIME = ("updatedAt", "createdAt", "cancelledAt", "requestedAt")


def networks(text: str) -> tuple[Network, ...]:
    """Comma-separated networks ("5.45.207.0/25, 10.0.0.1") as ip_network objects."""
    return tuple(
        ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip()
    )


@dataclass
class WebHooks:
    """What the routes call into; ``bot.app`` fills it in."""

    application: Application  # type: ignore[type-arg]
    secret: str
    health: Callable[[], tuple[bool, dict[str, Any]]]
    metrics: Callable[[], bytes]
    order_event: Callable[[int, int | None], None]
    allowed: Sequence[Network]
    trusted_proxies: Sequence[Network] = ()
    name: str = "market-dbs-bot"


def web_app(hooks: WebHooks) -> Starlette:
    """The Starlette application of webhook mode."""
    seen: dict[tuple[int, int | None], str] = {}

    async def telegram(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), hooks.secret.encode()):
            return PlainTextResponse("forbidden", status_code=403)
        try:
            data = await request.json()
        except ValueError:
            return PlainTextResponse("not JSON", status_code=400)
        update = Update.de_json(data, hooks.application.bot)
        await hooks.application.update_queue.put(update)
        return PlainTextResponse("ok")

    async def notification(request: Request) -> Response:
        if not _allowed_source(request, hooks):
            return PlainTextResponse("forbidden", status_code=403)
        try:
            event = json.loads(await request.body())
        except ValueError:
            return _market_error(400, "WRONG_EVENT_FORMAT", "the body is not JSON")
        if not isinstance(event, dict) or not isinstance(event.get("notificationType"), str):
            return _market_error(400, "WRONG_EVENT_FORMAT", "notificationType is missing")
        kind = event["notificationType"]
        if kind in ORDER_EVENTS:
            campaign_id, order_id = _ids(event)
            if campaign_id is None:
                return _market_error(400, "WRONG_EVENT_FORMAT", "campaignId is missing")
            at = next((str(event[k]) for k in _EVENT_TIME if event.get(k)), "")
            key = (campaign_id, order_id)
            # Duplicates and events older than one already handled change nothing.
            if key not in seen or at > seen[key]:
                seen[key] = at
                hooks.order_event(campaign_id, order_id)
        return JSONResponse(
            {"version": "1.0", "name": hooks.name, "time": datetime.now(UTC).isoformat()}
        )

    async def healthz(request: Request) -> Response:
        alive, figures = hooks.health()
        return JSONResponse(figures, status_code=200 if alive else 503)

    async def metrics(request: Request) -> Response:
        return Response(hooks.metrics(), media_type="text/plain; version=0.0.4")

    return Starlette(
        routes=[
            Route("/telegram", telegram, methods=["POST"]),
            Route("/market/notification", notification, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
        ]
    )


def _ids(event: dict[str, Any]) -> tuple[int | None, int | None]:
    def number(value: Any) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return number(event.get("campaignId")), number(event.get("orderId"))


def _market_error(status: int, kind: str, message: str) -> Response:
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status)


def _allowed_source(request: Request, hooks: WebHooks) -> bool:
    peer = request.client.host if request.client else ""
    source = peer
    if _within(peer, hooks.trusted_proxies):
        forwarded = request.headers.get("X-Forwarded-For", "")
        # The proxy appends the address it saw last; anything before it could be forged.
        source = forwarded.split(",")[-1].strip() if forwarded else peer
    # An empty list of networks (MARKET_NOTIFY_ALLOWED_NETWORKS="") accepts any source.
    allowed = not hooks.allowed or _within(source, hooks.allowed)
    if not allowed:
        log.warning("a push notification from %s was refused", source or "?")
    return allowed


def _within(address: str, allowed: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in allowed)


class PortError(Exception):
    """The webhook port cannot be served (in use, not allowed); the message is one line."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The bot's own SIGTERM/SIGINT handling stops the server (``stop``), not uvicorn's.
        yield


async def serve(app: Starlette, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve ``app`` on ``host:port`` until ``stop`` is set. Raises PortError at once when the
    port cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortError(f"cannot listen on {host}:{port} ({exc.strerror}); set PORT/HOST") from None
    # proxy_headers off: the client address is what connected; X-Forwarded-For is ours to read.
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="off", proxy_headers=False
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="webhook-server")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        await asyncio.gather(serving, stopping, return_exceptions=True)
        sock.close()
