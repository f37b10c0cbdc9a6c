"""Errors of the Yandex Market Partner API boundary.

Every failure of a Market call reaches the caller as one of these; ``httpx`` exceptions are
translated in ``bot.market.client`` with ``raise … from exc`` and never escape it.

::

    MarketError                          base; ``transient``: a retry can succeed;
    │                                    ``uncertain``: the request may have been applied
    ├── MarketTransportError             no HTTP answer at all                   transient
    │   ├── MarketUnreachable            no connection (refused, DNS, connect
    │   │                                timeout): nothing was sent
    │   ├── MarketTimeoutError           sent, no answer in time                 uncertain
    │   └── MarketNetworkError           the connection broke after sending      uncertain
    ├── HourlyBudgetExhausted            our own hourly budget for the method is spent;
    │                                    Market was not called (``retry_at``)    transient
    └── MarketAPIError(status, errors)   Market answered with an error status
        ├── MarketBadRequest             400                                      permanent
        │   ├── OrderStateConflict       400 "Action is not allowed for order '…' with
        │   │                            status '…' and substatus '…'" (parsed)
        │   ├── DeliveryDateRejected     400 date edits exhausted / too far ahead / same date
        ├── MarketUnauthorized           401 key missing, invalid, revoked        permanent
        ├── MarketForbidden              403 scope missing, API disabled, denied  permanent
        ├── MarketNotFound               404 order or campaign not found          permanent
        ├── MarketRateLimited            420 (and 429) parallel or hourly limit;  transient
        │                                ``retry_at`` from X-RateLimit-Resource-Until
        ├── MarketServerError            5xx (and 499); uncertain but a 503       transient
        └── MarketUnconfirmed            2xx whose body is not the documented     transient
                                         answer (a proxy's page, cut short)       uncertain

``MarketAPIError`` always keeps every ``code`` and ``message`` Market sent (``errors``) and the
raw body text (truncated) when the body was not the documented JSON envelope. It can be turned
into a plain record and back (``to_record``/``error_from_record``) so a stored operation can be
explained after a restart exactly as it was explained live.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Literal

RAW_TEXT_LIMIT = 500

RateLimitKind = Literal["parallel", "hourly", "unknown"]


@dataclass(frozen=True)
class ApiErrorItem:
    """One entry of Market's ``errors`` array, verbatim."""

    code: str
    message: str


class MarketError(Exception):
    """Base of every Market failure."""

    transient: ClassVar[bool] = False
    uncertain: bool = False

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable description that ``error_from_record`` turns back into an error."""
        return {"type": type(self).__name__, "text": str(self)}


class MarketTransportError(MarketError):
    """No HTTP answer from Market (network failure or timeout). A retry can succeed."""

    transient = True


class MarketUnreachable(MarketTransportError):
    """No connection to Market could be made (refused, name resolution, connect timeout):
    the request was never sent."""


class MarketTimeoutError(MarketTransportError):
    """Market did not answer in time; the request may have been applied."""

    uncertain = True


class MarketNetworkError(MarketTransportError):
    """The connection broke after the request was sent (reset, protocol error)."""

    uncertain = True


class HourlyBudgetExhausted(MarketError):
    """Our hourly budget for this method and campaign is spent; Market was not called."""

    transient = True

    def __init__(self, method: str, retry_at: datetime) -> None:
        super().__init__(f"hourly budget for {method} is spent until {retry_at.isoformat()}")
        self.method = method
        self.retry_at = retry_at

    def to_record(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "method": self.method,
            "retry_at": self.retry_at.isoformat(),
        }


class MarketAPIError(MarketError):
    """Market answered with an error HTTP status.

    ``errors`` holds every code and message Market sent, verbatim; ``raw_text`` holds the body
    (truncated to ``RAW_TEXT_LIMIT`` characters) when it was not the documented JSON envelope.
    """

    def __init__(
        self,
        status: int,
        errors: list[ApiErrorItem],
        *,
        raw_text: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.errors = errors
        self.raw_text = raw_text
        self.headers = dict(headers or {})
        super().__init__(f"HTTP {status}: {self.message}")

    @property
    def message(self) -> str:
        """Market's own words: every message joined, or the raw body when there were none."""
        if self.errors:
            return "; ".join(e.message for e in self.errors if e.message) or self.errors[0].code
        return self.raw_text or f"HTTP {self.status} without a body"

    @property
    def codes(self) -> list[str]:
        return [e.code for e in self.errors]

    def to_record(self) -> dict[str, Any]:
        return {
            "type": "MarketAPIError",
            "status": self.status,
            "errors": [{"code": e.code, "message": e.message} for e in self.errors],
            "raw_text": self.raw_text,
            "headers": self.headers,
        }


class MarketBadRequest(MarketAPIError):
    """400: the request must change before it can succeed."""


_STATE_RE = re.compile(
    r"Action is not allowed for order '?(?P<order>[^' ]*)'? with status '?(?P<status>[^' ]*)'?"
    r" and substatus '?(?P<substatus>[^' ]*)'?",
    re.IGNORECASE,
)


class OrderStateConflict(MarketBadRequest):
    """400: the order's status and substatus do not allow the action."""

    def __init__(self, status: int, errors: list[ApiErrorItem], **kwargs: Any) -> None:
        super().__init__(status, errors, **kwargs)
        match = _STATE_RE.search(self.message)
        self.order_id = match.group("order") if match else ""
        self.order_status = match.group("status").upper() if match else ""
        self.order_substatus = match.group("substatus").upper() if match else ""


DateRejection = Literal["days_limit", "edits_limit", "same_date"]


class DeliveryDateRejected(MarketBadRequest):
    """400 from setOrderDeliveryDate: too far ahead, too many edits, or the same date."""

    def __init__(self, status: int, errors: list[ApiErrorItem], **kwargs: Any) -> None:
        super().__init__(status, errors, **kwargs)
        text = self.message
        lowered = text.lower()
        self.kind: DateRejection
        if "number of days" in lowered:
            self.kind = "days_limit"
        elif "number of edits" in lowered:
            self.kind = "edits_limit"
        else:
            self.kind = "same_date"
        match = re.search(r"limit is:?\s*'?(\d+)", text)
        self.limit: int | None = int(match.group(1)) if match else None


class MarketUnauthorized(MarketAPIError):
    """401: the API key is missing, invalid or revoked."""


class MarketForbidden(MarketAPIError):
    """403: the key lacks the scope, the campaign's API is disabled, or access is denied."""


class MarketNotFound(MarketAPIError):
    """404: no such order or campaign (for this key)."""


class MarketRateLimited(MarketAPIError):
    """420: too many parallel requests or the hourly limit; retry not before ``retry_at``."""

    transient = True

    def __init__(self, status: int, errors: list[ApiErrorItem], **kwargs: Any) -> None:
        super().__init__(status, errors, **kwargs)
        lowered = self.message.lower()
        self.kind: RateLimitKind
        if "parallel" in lowered:
            self.kind = "parallel"
        elif "requests per" in lowered or "per '" in lowered:
            self.kind = "hourly"
        else:
            self.kind = "unknown"
        self.retry_at: datetime | None = parse_http_date(
            _header(self.headers, "X-RateLimit-Resource-Until")
        )


class MarketServerError(MarketAPIError):
    """5xx: Market's own failure. A retry can succeed.

    Uncertain, except for 503 ("Service temporarily unavailable. Please, try again later"):
    a 500 or a proxy's 502/504 may come after the change was made.
    """

    transient = True

    def __init__(self, status: int, errors: list[ApiErrorItem], **kwargs: Any) -> None:
        super().__init__(status, errors, **kwargs)
        self.uncertain = status != 503


class MarketUnconfirmed(MarketAPIError):
    """A 2xx whose body is not the documented answer: the request may or may not have been
    applied, so a write is checked on the order before it is sent again."""

    transient = True
    uncertain = True

    def to_record(self) -> dict[str, Any]:
        return {**super().to_record(), "type": "MarketUnconfirmed"}


def looks_like_a_page(text: str) -> bool:
    """True for an HTML error page (a proxy's "502 Bad Gateway"), which is not worth quoting."""
    head = text.lstrip()[:200].lower()
    return head.startswith("<") and ("<html" in head or "<!doctype" in head or "<head" in head)


def _header(headers: dict[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def parse_http_date(value: str | None) -> datetime | None:
    """Parse an HTTP date (``Thu, 10 Jul 2018 00:42:42 GMT``) or ISO 8601; None when unusable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


# Headers worth keeping with an error; nothing else (never the request's Api-Key).
KEPT_HEADERS = (
    "X-RateLimit-Resource-Limit",
    "X-RateLimit-Resource-Remaining",
    "X-RateLimit-Resource-Until",
    "Retry-After",
)


def classify(status: int, body: str, headers: dict[str, str] | None = None) -> MarketAPIError:
    """Build the right ``MarketAPIError`` subclass from an HTTP status, body text and headers.

    Never raises: a body that is not Market's JSON envelope is kept, truncated, in ``raw_text``.
    """
    kept = {
        name: value
        for name in KEPT_HEADERS
        if (value := _header(dict(headers or {}), name)) is not None
    }
    errors, raw_text = _parse_error_body(body)
    message = " ".join(e.message for e in errors).lower()
    cls: type[MarketAPIError]
    if status == 400:
        if "action is not allowed for order" in message:
            cls = OrderStateConflict
        elif (
            "number of days to edit delivery dates" in message
            or "number of edits of delivery dates" in message
            or "delivery dates are the same" in message
        ):
            cls = DeliveryDateRejected
        else:
            cls = MarketBadRequest
    elif status == 401:
        cls = MarketUnauthorized
    elif status == 403:
        cls = MarketForbidden
    elif status == 404:
        cls = MarketNotFound
    elif status in (420, 429):
        cls = MarketRateLimited
    elif status >= 500 or status in (408, 499):
        cls = MarketServerError
    elif 400 <= status < 500:
        cls = MarketBadRequest
    else:
        cls = MarketAPIError
    return cls(status, errors, raw_text=raw_text, headers=kept)


def _parse_error_body(body: str) -> tuple[list[ApiErrorItem], str]:
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    errors: list[ApiErrorItem] = []
    if isinstance(data, dict) and isinstance(data.get("errors"), list):
        for item in data["errors"]:
            if isinstance(item, dict):
                errors.append(
                    ApiErrorItem(
                        code=str(item.get("code") or ""),
                        message=str(item.get("message") or ""),
                    )
                )
    if errors:
        return errors, ""
    text = " ".join(body.split())
    if len(text) > RAW_TEXT_LIMIT:
        text = text[:RAW_TEXT_LIMIT] + "…"
    return [], text


def error_from_record(record: dict[str, Any]) -> MarketError:
    """Rebuild an error stored with ``MarketError.to_record``."""
    kind = record.get("type")
    if kind == "MarketAPIError":
        body = json.dumps({"status": "ERROR", "errors": record.get("errors") or []})
        if not record.get("errors"):
            body = str(record.get("raw_text") or "")
        return classify(int(record.get("status") or 0), body, record.get("headers") or {})
    if kind == "MarketUnconfirmed":
        return MarketUnconfirmed(
            int(record.get("status") or 200), [], raw_text=str(record.get("raw_text") or "")
        )
    if kind == "HourlyBudgetExhausted":
        return HourlyBudgetExhausted(
            str(record.get("method") or ""), datetime.fromisoformat(str(record["retry_at"]))
        )
    if kind == "MarketTimeoutError":
        return MarketTimeoutError(str(record.get("text") or "timeout"))
    if kind == "MarketNetworkError":
        return MarketNetworkError(str(record.get("text") or "network error"))
    if kind == "MarketUnreachable":
        return MarketUnreachable(str(record.get("text") or "unreachable"))
    return MarketError(str(record.get("text") or "unknown error"))
