"""Plain-language explanations of why Market did not take a write, and what to do.

Pure: plain values in, text out; no Telegram, no I/O, no clock. The words live in the
``market.*`` texts (``handlers/texts/market.toml``) and each kind's ``kind.<name>.*`` phrases;
this module only chooses them, from the operation kind, the error's class, its HTTP status and
Market's own message.

Every answer ends with one line of Market's own words, verbatim ("Market said: …" /
"Ответ Маркета: …"), or, when Market gave none (no HTTP answer, or our own hourly budget kept us
from asking), a line that says so plainly.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from bot.market.errors import (
    DeliveryDateRejected,
    HourlyBudgetExhausted,
    MarketAPIError,
    MarketBadRequest,
    MarketError,
    MarketForbidden,
    MarketNotFound,
    MarketRateLimited,
    MarketTimeoutError,
    MarketTransportError,
    MarketUnauthorized,
    MarketUnconfirmed,
    MarketUnreachable,
    OrderStateConflict,
    looks_like_a_page,
    parse_http_date,
)
from bot.market.writes import OperationKind
from handlers.texts import CATALOGS, Lang

# The order in which Market's statuses are named when listing where a write is allowed.
_STATUS_ORDER = ("PROCESSING", "DELIVERY", "PICKUP", "DELIVERED")

# Market's 403 messages, matched on lower-cased text, first match wins. Order matters: the
# "API … disabled" family is told apart by its tail before the generic checks run.
_FORBIDDEN_MARKERS: tuple[tuple[str, str], ...] = (
    ("does not have any of the scopes", "forbidden_scope"),
    ("disabled due to inactivity", "forbidden_inactive"),
    ("manually disabled", "forbidden_manual"),
    ("no active contracts", "forbidden_contracts"),
    ("no placement program", "forbidden_placement"),
    ("only disabled partners", "forbidden_business"),
    ("deprecated", "forbidden_deprecated"),
    ("user account is disabled", "forbidden_account_disabled"),
    ("yandex go", "forbidden_go"),
    ("oauth", "forbidden_credentials"),
    ("client id is invalid", "forbidden_credentials"),
    ("scope is invalid", "forbidden_credentials"),
    ("access denied", "forbidden_denied"),
)


class _Texts:
    """The ``market.*`` texts of one language, read like a dict: ``texts["market_said"]``."""

    def __init__(self, lang: Lang) -> None:
        self.catalog = CATALOGS[lang]

    def __getitem__(self, key: str) -> str:
        return self.catalog[f"market.{key}"]


def status_words(status: str, lang: Lang) -> str:
    """An order status in words ("PROCESSING" → "being processed"); an unknown one as is."""
    return CATALOGS[lang].get(f"status.{status.upper()}", status)


def substatus_words(substatus: str, lang: Lang) -> str:
    """An order substatus in words ("USER_CHANGED_MIND" → "the buyer changed their mind");
    an unknown one as is."""
    return CATALOGS[lang].get(f"substatus.{substatus.upper()}", substatus)


def explain(
    kind: OperationKind[Any],
    error: MarketError,
    lang: Lang,
    *,
    tz: tzinfo,
    order_id: int | None = None,
    campaign_id: int | None = None,
    final: bool = True,
    retry_at: datetime | None = None,
    unsure: bool = False,
) -> str:
    """Why a write of ``kind`` failed with ``error`` and what to do next, in ``lang``.

    ``final`` says whether the command has been given up on (its deadline passed or the error
    is permanent); while it is False a transient error is explained as "saved, will be retried
    at HH:MM" with the time in ``tz``. That time is ``retry_at`` when given (the caller's own
    schedule), else the one the error carries (Market's ``X-RateLimit-Resource-Until``, an
    HTTP-date ``Retry-After``, or our hourly budget's end); without any, "shortly". ``unsure``
    says an earlier attempt may have reached Market: giving up then says the change may or may
    not have been made, whatever the last error was.

    The last line is always Market's own message verbatim, after a language-specific prefix, or
    a plain statement that there is none.
    """
    texts = _Texts(lang)
    order = _order_ref(texts, order_id, error)
    if final and unsure and error.transient:
        body = texts["gave_up_unsure"].format(order=order)
    else:
        body = _body(kind, error, lang, tz, order, campaign_id, final, retry_at)
    body = body[:1].upper() + body[1:]
    return f"{body}\n{_last_line(texts, error)}"


def _body(
    kind: OperationKind[Any],
    error: MarketError,
    lang: Lang,
    tz: tzinfo,
    order: str,
    campaign_id: int | None,
    final: bool,
    retry_at: datetime | None,
) -> str:
    texts = _Texts(lang)
    if error.transient:
        return _transient(texts, error, tz, final, retry_at, order)
    if isinstance(error, OrderStateConflict):
        return _state_conflict(kind, error, lang, order)
    if isinstance(error, DeliveryDateRejected):
        return _date_rejected(texts, error, order)
    if not isinstance(error, MarketAPIError):
        return texts["unexpected"]
    lowered = error.message.lower()
    if isinstance(error, MarketBadRequest):
        if "campaign type is not allowed" in lowered:
            return texts["bad_request_campaign_type"]
        return texts["bad_request"].format(fields=CATALOGS[lang][f"kind.{kind.name}.fields"])
    if isinstance(error, MarketNotFound):
        if "campaign not found" in lowered:
            ref = (
                texts["campaign_ref"].format(campaign_id=campaign_id)
                if campaign_id is not None
                else texts["campaign_ref_unknown"]
            )
            return texts["not_found_campaign"].format(campaign=ref)
        if "has no order" in lowered or "order not found" in lowered:
            return texts["not_found_order"].format(order=order)
        return texts["not_found_other"].format(order=order)
    if isinstance(error, MarketUnauthorized):
        if "revoked" in lowered:
            return texts["unauthorized_revoked"]
        if "not specified" in lowered:
            return texts["unauthorized_missing"]
        return texts["unauthorized_invalid"]
    if isinstance(error, MarketForbidden):
        for marker, key in _FORBIDDEN_MARKERS:
            if marker in lowered:
                return texts[key]
        return texts["forbidden_other"]
    return texts["other_api"].format(status=error.status)


def _transient(
    texts: _Texts,
    error: MarketError,
    tz: tzinfo,
    final: bool,
    retry_at: datetime | None,
    order: str,
) -> str:
    why: str
    gave_up: str
    known_at: datetime | None = None
    if isinstance(error, MarketRateLimited):
        why = {"parallel": "busy_parallel", "hourly": "busy_hourly"}.get(error.kind, "busy")
        gave_up = "gave_up_busy"
        known_at = error.retry_at or _retry_after(error)
    elif isinstance(error, HourlyBudgetExhausted):
        why, gave_up, known_at = "budget", "gave_up_budget", error.retry_at
    elif isinstance(error, MarketUnreachable):
        why, gave_up = "unreachable", "gave_up_network"
    elif isinstance(error, MarketTimeoutError):
        why, gave_up = "timeout", "gave_up_unsure"
    elif isinstance(error, MarketTransportError):
        why, gave_up = "network", "gave_up_unsure"
    elif isinstance(error, MarketUnconfirmed):
        why, gave_up = "unconfirmed", "gave_up_unsure"
    else:
        # Market's 5xx, and any other error that says a retry can succeed.
        why, gave_up = "failing", "gave_up_failing"
        if isinstance(error, MarketAPIError):
            known_at = _retry_after(error)
    if final:
        return texts[gave_up].format(order=order)
    status = error.status if isinstance(error, MarketAPIError) else 0
    reason = texts[why].format(status=status)
    when = retry_at or known_at
    if when is None:
        return f"{reason} {texts['retry_soon']}"
    local = when.astimezone(tz).strftime("%H:%M")
    return f"{reason} {texts['retry_at'].format(time=local)}"


def _retry_after(error: MarketAPIError) -> datetime | None:
    """Retry-After as an HTTP date; the delta-seconds form needs a clock, so it is left out."""
    value = next((v for k, v in error.headers.items() if k.lower() == "retry-after"), None)
    if value is None or value.strip().isdigit():
        return None
    return parse_http_date(value)


def _state_conflict(
    kind: OperationKind[Any], error: OrderStateConflict, lang: Lang, order: str
) -> str:
    texts = _Texts(lang)
    allowed_codes = [code for code in _STATUS_ORDER if code in kind.statuses]
    allowed = _or_list(texts, [status_words(code, lang) for code in allowed_codes])
    action = CATALOGS[lang][f"kind.{kind.name}.action"]
    if not error.order_status:
        return texts["state_unknown"].format(order=order, allowed=allowed, action=action)
    state = status_words(error.order_status, lang)
    substatus = error.order_substatus
    if substatus and substatus != "UNKNOWN":
        state = f"{state} ({substatus_words(substatus, lang)})"
    # Market can refuse in an allowed status too (at some substatus); then "it can be done
    # only while …" would contradict the status just named.
    stage = "stage" if error.order_status in allowed_codes else "conflict"
    return texts[f"state_{stage}"].format(order=order, state=state, allowed=allowed, action=action)


def _date_rejected(texts: _Texts, error: DeliveryDateRejected, order: str) -> str:
    if error.kind == "same_date":
        return texts["date_same"].format(order=order)
    key = "date_days_limit" if error.kind == "days_limit" else "date_edits_limit"
    if error.limit is None:
        return texts[f"{key}_unknown"].format(order=order)
    return texts[key].format(order=order, limit=error.limit)


def _or_list(texts: _Texts, items: list[str]) -> str:
    if len(items) < 2:
        return "".join(items)
    return texts["list_or"].format(head=", ".join(items[:-1]), last=items[-1])


def _order_ref(texts: _Texts, order_id: int | None, error: MarketError) -> str:
    if order_id is not None:
        return texts["order_ref"].format(order_id=order_id)
    # Market names the order in a state conflict; it is the best we have without the caller's.
    if isinstance(error, OrderStateConflict) and error.order_id.isdigit():
        return texts["order_ref"].format(order_id=error.order_id)
    return texts["order_ref_unknown"]


def _last_line(texts: _Texts, error: MarketError) -> str:
    if isinstance(error, MarketAPIError) and not error.errors and looks_like_a_page(error.message):
        # A proxy's HTML error page says nothing a person can use; its status says enough.
        return texts["no_reply_page"].format(status=error.status)
    if isinstance(error, MarketAPIError):
        return texts["market_said"].format(message=error.message)
    if isinstance(error, HourlyBudgetExhausted):
        return texts["no_reply_budget"]
    if isinstance(error, MarketTransportError):
        return texts["no_reply_transport"]
    return texts["no_reply_other"]
