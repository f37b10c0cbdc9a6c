"""/connect <campaignId> <apiKey>: check a shop's key with Market, store it, name its owner.

The message holding the key is deleted whatever happens, and the key never reaches the audit
log. Then, each step stopping the command with a plain answer:

1. Attempts: at most ``ATTEMPTS`` per person in ``WINDOW``, so nobody can test keys through the
   bot; a refused attempt does not reach Market. The counter (``AttemptLimiter``, a sliding
   window per user) is kept in memory, in the Application's ``bot_data``: a restart forgets it,
   which at worst lets one more window of attempts through, and nothing about keys is kept.
2. getCampaign: the key opens this campaign (and Market says something about it).
3. getAuthTokenInfo, once: the key may process orders (``ALL_METHODS`` or
   ``INVENTORY_AND_ORDER_PROCESSING``); a read-only key would fail every write, so it is refused
   with the permission to give it and the ones it has, in plain words.
4. Who asks: a shop not connected yet (or without owners) is connected and the sender becomes
   its owner; an owner reconnecting replaces the key and the other owners are told; anyone else
   (another valid key of the same business) only asks the owners (``handlers.approvals``), and
   nothing changes until one of them approves.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from telegram.error import TelegramError

from bot.market.errors import (
    HourlyBudgetExhausted,
    MarketAPIError,
    MarketError,
    MarketForbidden,
    MarketNotFound,
    MarketRateLimited,
    MarketUnauthorized,
    MarketUnconfirmed,
    MarketUnreachable,
    looks_like_a_page,
)
from bot.market.models import Campaign
from handlers import approvals
from handlers.access import Allowed
from handlers.context import Outcome, Request, Result
from handlers.parsing import sanitize
from handlers.shopnames import shop_name
from handlers.shops import campaign_arg
from handlers.texts import CATALOGS
from storage import campaigns, members
from storage.secrets import remember_secret

log = logging.getLogger(__name__)

ATTEMPTS = 5
WINDOW = timedelta(minutes=10)
_LIMITER = "connect.attempts"


@dataclass
class AttemptLimiter:
    """At most ``limit`` attempts per person in any sliding ``window`` (kept in memory)."""

    limit: int = ATTEMPTS
    window: timedelta = WINDOW
    _seen: dict[int, deque[datetime]] = field(default_factory=dict)

    def attempt(self, user_id: int, now: datetime) -> datetime | None:
        """Count an attempt at ``now``: None when allowed, else the time the next one will be.

        A refused attempt is not counted.
        """
        since = now - self.window
        if len(self._seen) > 1000:
            self._forget_idle(since)
        times = self._seen.setdefault(user_id, deque())
        while times and times[0] <= since:
            times.popleft()
        if len(times) >= self.limit:
            return times[0] + self.window
        times.append(now)
        return None

    def _forget_idle(self, since: datetime) -> None:
        for user_id in [
            uid for uid, times in self._seen.items() if not times or times[-1] <= since
        ]:
            del self._seen[user_id]


@dataclass(frozen=True)
class _Refusal:
    """Why a key is not taken, as the person reads it, and what the audit keeps."""

    text: str
    result: Result = Result.FAILED
    detail: str = ""
    market_error: str | None = None


def _limiter(request: Request) -> AttemptLimiter:
    found = request.context.bot_data.setdefault(_LIMITER, AttemptLimiter())
    assert isinstance(found, AttemptLimiter)
    return found


async def _delete_message(request: Request) -> bool:
    try:
        return bool(await request.context.bot.delete_message(request.chat_id, request.message_id))
    except TelegramError as exc:
        log.info("could not delete a message with a key in chat %s: %s", request.chat_id, exc)
        return False


async def connect(request: Request, access: Allowed) -> Outcome:
    """``/connect <campaignId> <apiKey>`` in private (see the module docstring)."""
    # Whatever happens, the key never reaches the audit log: only a campaign id is kept.
    hidden = " ".join(arg if campaign_arg(arg) else "[key hidden]" for arg in request.args)
    if len(request.args) != 2:
        # A key pasted without the campaign id (or with extra words) must not stay either.
        if any(campaign_arg(arg) is None for arg in request.args):
            await _delete_message(request)
        await request.reply(request.t("connect.usage"))
        return Outcome(Result.BAD_INPUT, arguments=hidden)
    campaign_id, api_key = campaign_arg(request.args[0]), request.args[1]
    remember_secret(api_key)  # hidden in every log line from now on, whatever its shape
    deleted = await _delete_message(request)
    notice = request.t("connect.deleted" if deleted else "connect.not_deleted")
    if campaign_id is None:
        value = sanitize(request.args[0], 30)
        bad = request.t("connect.bad_campaign", value=value)
        await request.reply(f"{bad}\n{notice}\n\n{request.t('connect.usage')}")
        return Outcome(Result.BAD_INPUT, arguments=hidden)
    assert request.user_id is not None  # access refuses anonymous senders
    services = request.services
    retry_at = _limiter(request).attempt(request.user_id, services.clock())
    if retry_at is not None:
        at = retry_at.astimezone(services.tz).strftime("%H:%M")
        minutes = int(WINDOW.total_seconds() // 60)
        too_many = request.t("connect.too_many", limit=ATTEMPTS, minutes=minutes, at=at)
        await request.reply(f"{notice}\n\n{too_many}")
        return Outcome(Result.REFUSED, "too_many", campaign_id=campaign_id, arguments=hidden)
    checked = await _check_key(request, api_key, campaign_id)
    if isinstance(checked, _Refusal):
        await request.reply(f"{notice}\n\n{checked.text}\n{request.t('connect.failed')}")
        return Outcome(
            checked.result,
            checked.detail,
            campaign_id=campaign_id,
            arguments=hidden,
            market_error=checked.market_error,
        )
    outcome = await _store(request, campaign_id, api_key, checked, notice)
    return Outcome(outcome.result, outcome.detail, campaign_id=campaign_id, arguments=hidden)


async def _check_key(request: Request, api_key: str, campaign_id: int) -> Campaign | _Refusal:
    """The campaign as Market describes it when the key opens it and may process orders."""
    market = request.services.market
    try:
        campaign = await market.get_campaign(api_key, campaign_id)
        if campaign is None:
            text = request.t("connect.no_details", campaign_id=campaign_id)
            return _Refusal(text, Result.REFUSED, "no_details")
        key_info = await market.get_auth_token_info(api_key)
    except MarketError as exc:
        return _Refusal(_failure(request, exc, campaign_id), market_error=_error_note(exc))
    if not key_info.can_process_orders:
        text = request.t("connect.read_only", scopes=_scope_words(request, key_info.auth_scopes))
        return _Refusal(text, Result.REFUSED, "read_only")
    return campaign


async def _store(
    request: Request, campaign_id: int, api_key: str, campaign: Campaign, notice: str
) -> Outcome:
    """Connect, reconnect, or ask the owners, depending on who is asking (step 4)."""
    services, user_id = request.services, request.user_id
    assert user_id is not None
    existing = campaigns.get_campaign(services.db, campaign_id)
    owners = approvals.owners_of(services, campaign_id) if existing else []
    if owners and user_id not in owners:
        asked = await approvals.ask_owners(request, campaign_id, api_key, owners)
        key = "connect.awaiting" if asked else "connect.no_owner_reached"
        await request.reply(f"{notice}\n\n" + request.t(key, shop=shop_name(existing)))
        return Outcome(Result.ASKED if asked else Result.NOT_DELIVERED, "owner_approval")
    now = services.clock()
    row = campaigns.save_campaign(
        services.db,
        campaign_id=campaign_id,
        domain=campaign.domain,
        business_id=campaign.business.id if campaign.business else None,
        business_name=campaign.business.name if campaign.business else "",
        placement_type=campaign.placement_type or "",
        api_key_cipher=services.keybox.encrypt(api_key),
        connected_by=user_id,
        now=now,
    )
    members.set_member(services.db, campaign_id, user_id, "owner", user_id, now)
    shop = shop_name(row)
    lines = [notice, "", request.t("connect.reconnected" if existing else "connect.ok", shop=shop)]
    if (campaign.placement_type or "DBS") != "DBS":
        lines.append(request.t("connect.not_dbs", placement=campaign.placement_type))
    if not existing:
        lines.append(request.t("connect.next"))
    await request.reply("\n".join(lines))
    others = [owner for owner in owners if owner != user_id]
    name = approvals.person_name(request.user_name)
    await approvals.tell(
        request.context.bot,
        services,
        others,
        request.lang,
        "connect.owner_changed_key",
        name=name,
        user_id=user_id,
        shop=shop,
    )
    return Outcome(Result.OK)


def _failure(request: Request, exc: MarketError, campaign_id: int) -> str:
    """Why Market did not let the key through, and Market's own words when worth showing."""
    at = ""
    if isinstance(exc, HourlyBudgetExhausted):
        at = exc.retry_at.astimezone(request.services.tz).strftime("%H:%M")
    text = request.t(_failure_key(exc), campaign_id=campaign_id, at=at)
    words = _markets_words(exc)
    if words:
        text += "\n" + request.t("connect.market_said", message=words)
    return text


def _failure_key(exc: MarketError) -> str:
    message = exc.message.lower() if isinstance(exc, MarketAPIError) else ""
    if isinstance(exc, MarketUnauthorized):
        return "connect.revoked" if "revoked" in message else "connect.unauthorized"
    if isinstance(exc, MarketForbidden):
        if "scope" in message:
            return "connect.no_scope"
        return "connect.api_disabled" if "disabled" in message else "connect.access_denied"
    if isinstance(exc, MarketNotFound):
        return "connect.not_found"
    if isinstance(exc, MarketUnreachable):
        return "connect.unreachable"
    if isinstance(exc, HourlyBudgetExhausted):
        return "connect.budget"
    if isinstance(exc, MarketRateLimited):
        return "connect.rate_limited"
    return "connect.busy" if exc.transient else "connect.refused"


def _markets_words(exc: MarketError) -> str | None:
    """What Market said, when it said something a person can read (never an error page)."""
    if not isinstance(exc, MarketAPIError) or isinstance(exc, MarketUnconfirmed):
        return None
    if exc.errors:
        return sanitize(exc.message, 300)
    if exc.raw_text and not looks_like_a_page(exc.raw_text):
        return sanitize(exc.raw_text, 200)
    return None


def _error_note(exc: MarketError) -> str:
    """The failure as the audit log keeps it (and /log shows it): no page bodies."""
    if isinstance(exc, MarketUnconfirmed):
        return f"HTTP {exc.status}: an answer that is not Market's"
    if isinstance(exc, MarketAPIError) and not exc.errors and looks_like_a_page(exc.raw_text):
        return f"HTTP {exc.status}: an error page"
    return str(exc)


def _scope_words(request: Request, scopes: list[str]) -> str:
    """A key's scopes in plain words (an unknown one as Market wrote it)."""
    words = [
        request.t(f"scope.{scope}") if f"scope.{scope}" in CATALOGS["en"] else sanitize(scope, 60)
        for scope in scopes
    ]
    return ", ".join(words) if words else request.t("scope.none")
