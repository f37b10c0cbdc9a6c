"""Async client of the Yandex Market Partner API (the operations the bot needs).

One ``MarketClient`` serves every shop: the API key is passed per call and never stored, logged
or put into an exception. ``httpx`` failures are translated here, once, into the error tree of
``bot.market.errors``; callers never see ``httpx`` exceptions.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ValidationError

from bot.market.errors import (
    HourlyBudgetExhausted,
    MarketError,
    MarketNetworkError,
    MarketRateLimited,
    MarketServerError,
    MarketTimeoutError,
    MarketUnconfirmed,
    MarketUnreachable,
    classify,
    parse_http_date,
)
from bot.market.limits import HourlyBudget, MarketLimits
from bot.market.models import (
    ApiKeyInfo,
    AuthTokenResponse,
    BusinessOrder,
    BusinessOrdersRequest,
    BusinessOrdersResponse,
    Campaign,
    CampaignResponse,
    DeliveryService,
    DeliveryServicesResponse,
)
from bot.market.writes import MarketCall

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.partner.market.yandex.ru"
USER_AGENT = "market-dbs-bot/0.1"

ModelT = TypeVar("ModelT", bound=BaseModel)


def exc_name(exc: BaseException) -> str:
    return type(exc).__name__


class MarketClient:
    """Calls Market on behalf of many shops, within Market's per-campaign limits.

    Close it with ``aclose()`` (or ``async with``). Pass ``transport`` to talk to a fake.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        parallel_limit: int = 4,
        hourly_limit: int = 10_000,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: MarketLimits | None = None,
    ) -> None:
        # Called after every request with (method, HTTP status or None, seconds): metrics.
        self.observer: Callable[[str, int | None, float], None] = lambda *_: None
        self.limits = limits or MarketLimits(
            parallel_limit=parallel_limit, hourly_limit=hourly_limit
        )
        # Long enough to avoid Market's 499 (client closed request); connecting must be quick.
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    async def __aenter__(self) -> MarketClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- operations ---------------------------------------------------------------------------

    async def get_campaign(self, api_key: str, campaign_id: int) -> Campaign | None:
        """GET /v2/campaigns/{campaignId}: checks that the key works for the campaign.

        None when Market answered without details of the campaign (``{}`` is spec-valid).
        """
        body = await self._call(
            "getCampaign",
            "GET",
            f"/v2/campaigns/{campaign_id}",
            api_key=api_key,
            campaign_id=campaign_id,
            model=CampaignResponse,
        )
        return body.details()

    async def get_auth_token_info(self, api_key: str) -> ApiKeyInfo:
        """POST /v2/auth/token (no body): the key's name and scopes. 100 an hour, counted here
        per key (by a digest, so the key itself is not kept as a budget's name)."""
        digest = hashlib.blake2b(api_key.encode(), digest_size=8).hexdigest()
        body = await self._call(
            "getAuthTokenInfo",
            "POST",
            "/v2/auth/token",
            api_key=api_key,
            campaign_id=None,
            scope=f"key:{digest}",
            model=AuthTokenResponse,
        )
        return body.result.api_key

    async def write(self, api_key: str, call: MarketCall) -> BaseModel:
        """Send one write (see ``bot.market.writes``); returns Market's answer.

        Raises a MarketError subclass on failure, including a 2xx whose ``status`` is not OK.
        """
        return await self._call(
            call.method,
            call.http_method,
            call.path,
            api_key=api_key,
            campaign_id=call.campaign_id,
            json_body=call.body,
            model=call.answer,
        )

    async def get_delivery_services(self, api_key: str, campaign_id: int) -> list[DeliveryService]:
        """GET /v2/delivery/services: every delivery service Market knows, with ids; the hourly
        budget is the shop's (``campaign_id``, whose key this is). ``{}`` is an empty list."""
        body = await self._call(
            "getDeliveryServices",
            "GET",
            "/v2/delivery/services",
            api_key=api_key,
            campaign_id=None,
            scope=f"campaign:{campaign_id}",
            model=DeliveryServicesResponse,
        )
        return list(body.result.delivery_service)

    async def get_business_orders(
        self, api_key: str, business_id: int, order_ids: list[int]
    ) -> list[BusinessOrder]:
        """POST /v1/businesses/{businessId}/orders for 1–50 order ids."""
        found, _ = await self.business_orders(
            api_key, business_id, BusinessOrdersRequest(order_ids=order_ids)
        )
        return found

    async def business_orders(
        self,
        api_key: str,
        business_id: int,
        query: BusinessOrdersRequest,
        *,
        page_token: str | None = None,
        limit: int = 50,
    ) -> tuple[list[BusinessOrder], str | None]:
        """One page of POST /v1/businesses/{businessId}/orders: (orders, next page token)."""
        params = {"limit": str(limit), **({"pageToken": page_token} if page_token else {})}
        body = await self._call(
            "getBusinessOrders",
            "POST",
            f"/v1/businesses/{business_id}/orders?{urlencode(params)}",
            api_key=api_key,
            campaign_id=None,
            business_id=business_id,
            scope=f"business:{business_id}",
            json_body=query.body(),
            model=BusinessOrdersResponse,
        )
        return list(body.orders), body.paging.next_page_token if body.paging else None

    # --- the one place that talks HTTP --------------------------------------------------------

    async def _call(
        self,
        method: str,
        http_method: str,
        path: str,
        *,
        api_key: str,
        campaign_id: int | None,
        model: type[ModelT],
        json_body: dict[str, Any] | None = None,
        scope: str | None = None,
        business_id: int | None = None,
    ) -> ModelT:
        budget = self.limits.budget(scope or f"campaign:{campaign_id}", method)
        refill_at = budget.take(self.limits.clock())
        if refill_at is not None:
            raise HourlyBudgetExhausted(method, refill_at)
        async with self.limits.slot(campaign_id, business_id):
            started = time.monotonic()
            try:
                response = await self._http.request(
                    http_method, path, json=json_body, headers={"Api-Key": api_key}
                )
            except httpx.HTTPError as exc:
                self.observer(method, None, time.monotonic() - started)
                raise self._transport_error(method, campaign_id, exc, budget) from exc
        self.observer(method, response.status_code, time.monotonic() - started)
        elapsed_ms = (time.monotonic() - started) * 1000
        log.debug(
            "market %s campaign=%s -> %s in %.0f ms",
            method,
            campaign_id,
            response.status_code,
            elapsed_ms,
        )
        if response.status_code not in (420, 429):
            # A 420's headers describe the limit that was hit, not the hourly window.
            self._observe_limits(budget, response)
        if response.is_success:
            return self._success(response, model)
        error = classify(response.status_code, response.text, dict(response.headers))
        if isinstance(error, MarketServerError):
            budget.give_back()  # Market does not count 5xx against the hourly limit
        elif isinstance(error, MarketRateLimited) and error.kind == "hourly":
            budget.exhaust(error.retry_at, self.limits.clock())
        raise error

    @staticmethod
    def _transport_error(
        method: str, campaign_id: int | None, exc: httpx.HTTPError, budget: HourlyBudget
    ) -> MarketError:
        """The error tree's name for an HTTP failure with no answer."""
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            budget.give_back()  # never reached Market, so it did not count there
            log.warning("market %s campaign=%s unreachable: %s", method, campaign_id, exc_name(exc))
            return MarketUnreachable(f"{method}: {exc_name(exc)}")
        if isinstance(exc, httpx.TimeoutException):
            log.warning("market %s campaign=%s timed out", method, campaign_id)
            return MarketTimeoutError(f"{method}: Market did not answer in time")
        log.warning("market %s campaign=%s network error %s", method, campaign_id, exc_name(exc))
        return MarketNetworkError(f"{method}: {exc_name(exc)}")

    @staticmethod
    def _success(response: httpx.Response, model: type[ModelT]) -> ModelT:
        """Market's answer read as ``model``.

        Raises MarketAPIError when the body is Market's envelope saying it failed (a 2xx with
        ``"status": "ERROR"``), and MarketUnconfirmed when the body is not the documented
        answer at all: the call may or may not have been applied.
        """
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("status", "OK") != "OK":
            # Market's envelope says it failed although HTTP said 2xx: believe the envelope.
            raise classify(response.status_code, response.text, dict(response.headers))
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise MarketUnconfirmed(
                response.status_code, [], raw_text=f"unexpected answer: {response.text[:200]}"
            ) from exc

    @staticmethod
    def _observe_limits(budget: HourlyBudget, response: httpx.Response) -> None:
        remaining_header = response.headers.get("X-RateLimit-Resource-Remaining")
        until = parse_http_date(response.headers.get("X-RateLimit-Resource-Until"))
        remaining: int | None = None
        if remaining_header is not None and remaining_header.strip().isdigit():
            remaining = int(remaining_header.strip())
        if remaining is not None or until is not None:
            budget.observe(remaining, until)
