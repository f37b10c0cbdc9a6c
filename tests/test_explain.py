"""The plain-language explanations of Market's refusals (handlers.explain).

Errors are built with ``bot.market.errors.classify`` from an HTTP status, a JSON body and headers,
exactly as the Market client builds them. The main table holds every documented message of
``error-messages.json`` that applies to setOrderDeliveryTrackCode and setOrderDeliveryDate, with
realistic values in place of the placeholders.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.market.errors import (
    HourlyBudgetExhausted,
    MarketError,
    MarketNetworkError,
    MarketTimeoutError,
    classify,
    error_from_record,
)
from handlers.explain import (
    ALLOWED_STATUSES,
    Command,
    Lang,
    explain,
    status_words,
    substatus_words,
)
from handlers.texts_errors import (
    ERRORS_EN,
    ERRORS_RU,
    STATUS_EN,
    STATUS_RU,
    SUBSTATUS_EN,
    SUBSTATUS_RU,
)

MOSCOW = ZoneInfo("Europe/Moscow")
PREFIX: dict[Lang, str] = {"en": "Market said: ", "ru": "Ответ Маркета: "}
CYRILLIC = re.compile("[А-Яа-яЁё]")
# A copy of ../shared/market-api/error-messages.json, kept with the tests so they never skip.
ERROR_MESSAGES = Path(__file__).resolve().parent / "data" / "error-messages.json"

TRACK: tuple[Command, ...] = ("track",)
MOVE: tuple[Command, ...] = ("move",)
BOTH: tuple[Command, ...] = ("track", "move")

STATE = "Action is not allowed for order 'orderId' with status 'status' and substatus 'substatus'"
CAMPAIGN_NOT_FOUND = "Campaign not found 'campaignId'"
UNTIL_1230 = {"X-RateLimit-Resource-Until": "Wed, 01 Jan 2025 12:30:00 GMT"}
UNTIL_1300 = {"X-RateLimit-Resource-Until": "Wed, 01 Jan 2025 13:00:00 GMT"}


@dataclass(frozen=True)
class Case:
    section: str
    template: str
    http: int
    message: str
    commands: tuple[Command, ...]
    en: tuple[str, ...]
    ru: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()


def case(
    section: str,
    template: str,
    http: int,
    message: str,
    commands: tuple[Command, ...],
    en: tuple[str, ...],
    ru: tuple[str, ...],
    headers: dict[str, str] | None = None,
) -> Case:
    return Case(section, template, http, message, commands, en, ru, tuple((headers or {}).items()))


INVALID_KEY_EN = ("it is invalid", "new key", "/connect again")
INVALID_KEY_RU = ("недействителен", "новый ключ", "/connect")
NO_KEY_EN = ("no API key", "/connect again")
NO_KEY_RU = ("не получил API-ключ", "/connect")
CREDENTIALS_EN = ("credentials", "/connect again")
CREDENTIALS_RU = ("учётные данные", "/connect")
MALFORMED_EN = ("malformed", "Check the command's values")
MALFORMED_RU = ("некорректный", "Проверьте значения в команде")
ORDER_MISSING_EN = ("can't find order 123 in this shop", "another shop's order")
ORDER_MISSING_RU = ("не нашёл заказ 123 в этом магазине", "другого магазина")
CAMPAIGN_MISSING_EN = ("The shop's campaign 51 is not found", "/connect again")
CAMPAIGN_MISSING_RU = ("Кампания магазина 51 не найдена", "/connect")
SOMETHING_MISSING_EN = ("can't find order 123 or the shop's campaign", "/connect again")
SOMETHING_MISSING_RU = ("не нашёл заказ 123 или кампанию магазина", "/connect")

CASES: list[Case] = [
    # setOrderDeliveryTrackCode
    case(
        "setOrderDeliveryTrackCode",
        STATE,
        400,
        "Action is not allowed for order '123' with status 'CANCELLED' and substatus "
        "'USER_CHANGED_MIND'",
        TRACK,
        (
            "Order 123 is cancelled (the buyer changed their mind)",
            "the track number can't be set",
            "only while the order is being processed, handed to delivery or at a pickup point",
        ),
        (
            "Заказ 123 отменён (покупатель передумал)",
            "трек-номер указать нельзя",
            "только пока заказ в обработке, передан в доставку или в пункте выдачи",
        ),
    ),
    case(
        "setOrderDeliveryTrackCode",
        "Campaign 'campaignId' has no order id 'orderId'",
        404,
        "Campaign '51' has no order id '123'",
        TRACK,
        ORDER_MISSING_EN,
        ORDER_MISSING_RU,
    ),
    case(
        "setOrderDeliveryTrackCode",
        "Failed to find ['resource'] with id ['id']",
        404,
        "Failed to find [ORDER] with id [123]",
        TRACK,
        SOMETHING_MISSING_EN,
        SOMETHING_MISSING_RU,
    ),
    case(
        "setOrderDeliveryTrackCode",
        CAMPAIGN_NOT_FOUND,
        404,
        "Campaign not found '51'",
        TRACK,
        CAMPAIGN_MISSING_EN,
        CAMPAIGN_MISSING_RU,
    ),
    case(
        "setOrderDeliveryTrackCode",
        "Resource not found",
        404,
        "Resource not found",
        TRACK,
        SOMETHING_MISSING_EN,
        SOMETHING_MISSING_RU,
    ),
    # setOrderDeliveryDate
    case(
        "setOrderDeliveryDate",
        STATE,
        400,
        "Action is not allowed for order '123' with status 'DELIVERED' and substatus "
        "'DELIVERY_SERVICE_DELIVERED'",
        MOVE,
        (
            "Order 123 is already received by the buyer (the delivery service marked it delivered)",
            "the delivery date can't be changed",
            "only while the order is being processed or handed to delivery",
        ),
        (
            "Заказ 123 уже получен покупателем (служба доставки отметила его доставленным)",
            "дату доставки перенести нельзя",
            "только пока заказ в обработке или передан в доставку",
        ),
    ),
    case(
        "setOrderDeliveryDate",
        "Exceeded the number of days to edit delivery dates! limit is: 'days' days",
        400,
        "Exceeded the number of days to edit delivery dates! limit is: '30' days",
        MOVE,
        ("Order 123", "too far ahead", "at most 30 days ahead", "pick an earlier date"),
        ("Заказ 123", "слишком далеко", "не дальше чем на 30 дн.", "выберите дату пораньше"),
    ),
    case(
        "setOrderDeliveryDate",
        "Exceeded the number of edits of delivery dates! limit is: 'limit'",
        400,
        "Exceeded the number of edits of delivery dates! limit is: '3'",
        MOVE,
        ("Order 123", "maximum number of times (3)", "contact Market support"),
        ("Заказ 123", "максимальное число раз (3)", "обратитесь в поддержку Маркета"),
    ),
    case(
        "setOrderDeliveryDate",
        "New delivery dates are the same as the current!",
        400,
        "New delivery dates are the same as the current!",
        MOVE,
        ("Order 123 already has this delivery date", "nothing to change"),
        ("Заказ 123", "эта дата доставки уже стоит", "менять нечего"),
    ),
    case(
        "setOrderDeliveryDate",
        "Order not found: 'orderId'",
        404,
        "Order not found: '123'",
        MOVE,
        ORDER_MISSING_EN,
        ORDER_MISSING_RU,
    ),
    case(
        "setOrderDeliveryDate",
        "Order not found: partnerId = 'partnerId', orderId = 'orderId'",
        404,
        "Order not found: partnerId = '51', orderId = '123'",
        MOVE,
        ORDER_MISSING_EN,
        ORDER_MISSING_RU,
    ),
    case(
        "setOrderDeliveryDate",
        CAMPAIGN_NOT_FOUND,
        404,
        "Campaign not found '51'",
        MOVE,
        CAMPAIGN_MISSING_EN,
        CAMPAIGN_MISSING_RU,
    ),
    case(
        "setOrderDeliveryDate",
        "Resource not found",
        404,
        "Resource not found",
        MOVE,
        SOMETHING_MISSING_EN,
        SOMETHING_MISSING_RU,
    ),
    # common_400
    case(
        "common_400",
        "'field' must not be null (rejected value: null)",
        400,
        "'deliveryServiceId' must not be null (rejected value: null)",
        BOTH,
        MALFORMED_EN,
        MALFORMED_RU,
    ),
    case(
        "common_400",
        "Type mismatch: 'value'",
        400,
        "Type mismatch: 'RR-456'",
        BOTH,
        MALFORMED_EN,
        MALFORMED_RU,
    ),
    case(
        "common_400",
        "JSON: {message}",
        400,
        "JSON: Unexpected character ('}' (code 125)): was expecting double-quote",
        BOTH,
        MALFORMED_EN,
        MALFORMED_RU,
    ),
    case(
        "common_400",
        "Required request body is missing",
        400,
        "Required request body is missing",
        BOTH,
        MALFORMED_EN,
        MALFORMED_RU,
    ),
    case(
        "common_400",
        "Illegal input at 'path'",
        400,
        "Illegal input at 'dates.toDate'",
        BOTH,
        MALFORMED_EN,
        MALFORMED_RU,
    ),
    case(
        "common_400",
        "Campaign type is not allowed. Allowed campaign types: 'campaignTypes'",
        400,
        "Campaign type is not allowed. Allowed campaign types: 'DBS'",
        BOTH,
        ("not a DBS campaign", "/connect"),
        ("не DBS", "/connect"),
    ),
    # common_401
    *(
        case("common_401", text, 401, text, BOTH, INVALID_KEY_EN, INVALID_KEY_RU)
        for text in (
            "Api-Key token is invalid",
            "Api-Key token length invalid",
            "Api-Key token prefix invalid",
            "Api-Key token format invalid",
            "Authorization header has invalid syntax",
        )
    ),
    *(
        case("common_401", text, 401, text, BOTH, NO_KEY_EN, NO_KEY_RU)
        for text in (
            "Api-Key token is not specified",
            "Credentials are not specified",
            "OAuth client id is not specified",
            "OAuth credentials are not specified",
            "OAuth token is not specified",
        )
    ),
    case(
        "common_401",
        "Api-Key token is revoked",
        401,
        "Api-Key token is revoked",
        BOTH,
        ("has been revoked", "new key", "/connect again"),
        ("отозван", "новый ключ", "/connect"),
    ),
    # common_403
    case(
        "common_403",
        "Access denied",
        403,
        "Access denied",
        BOTH,
        ("doesn't give access to this shop", "/connect again"),
        ("не даёт доступа к этому магазину", "/connect"),
    ),
    case(
        "common_403",
        "The method is deprecated and is occasionally forbidden. Please stop using it",
        403,
        "The method is deprecated and is occasionally forbidden. Please stop using it",
        BOTH,
        ("deprecated", "administrator"),
        ("устаревшим", "администратору"),
    ),
    case(
        "common_403",
        "API for business 'businessId' disabled because it has only disabled partners",
        403,
        "API for business '777' disabled because it has only disabled partners",
        BOTH,
        ("whole business", "seller cabinet"),
        ("всего бизнеса", "кабинете продавца"),
    ),
    case(
        "common_403",
        "API for campaign 'campaignId' disabled because it has no placement program",
        403,
        "API for campaign '51' disabled because it has no placement program",
        BOTH,
        ("no placement program", "seller cabinet"),
        ("нет программы размещения", "кабинете продавца"),
    ),
    case(
        "common_403",
        "API for campaign 'campaignId' disabled because there are no active contracts with Market",
        403,
        "API for campaign '51' disabled because there are no active contracts with Market",
        BOTH,
        ("no active contracts", "seller cabinet"),
        ("нет действующих договоров", "кабинете продавца"),
    ),
    case(
        "common_403",
        "API for campaign 'campaignId' disabled due to inactivity",
        403,
        "API for campaign '51' disabled due to inactivity",
        BOTH,
        ("not used for a long time", "seller cabinet"),
        ("долго не пользовались", "кабинете продавца"),
    ),
    case(
        "common_403",
        "API for campaign 'campaignId' manually disabled",
        403,
        "API for campaign '51' manually disabled",
        BOTH,
        ("switched off by hand", "seller cabinet"),
        ("отключено вручную", "кабинете продавца"),
    ),
    *(
        case("common_403", text, 403, text, BOTH, CREDENTIALS_EN, CREDENTIALS_RU)
        for text in (
            "Client id is invalid",
            "OAuth token is invalid",
            "OAuth token is invalid (account has been globally logged out)",
            "Scope is invalid",
        )
    ),
    case(
        "common_403",
        "The method is not supported for Market Yandex Go sellers",
        403,
        "The method is not supported for Market Yandex Go sellers",
        BOTH,
        ("Yandex Go", "seller cabinet"),
        ("Yandex Go", "кабинете продавца"),
    ),
    case(
        "common_403",
        "Token does not have any of the scopes to access the API method",
        403,
        "Token does not have any of the scopes to access the API method",
        BOTH,
        ('"Order processing and inventory"', "inventory-and-order-processing", "/connect again"),
        ("«Обработка заказов и учёт товаров»", "inventory-and-order-processing", "/connect"),
    ),
    case(
        "common_403",
        "User account is disabled",
        403,
        "User account is disabled",
        BOTH,
        ("Yandex account", "is disabled", "/connect again"),
        ("Аккаунт Яндекса", "отключён", "/connect"),
    ),
    # common_420, with the retry time from X-RateLimit-Resource-Until shown in Moscow time
    case(
        "common_420",
        "Hit rate limit of 'N' parallel requests for {entity}",
        420,
        "Hit rate limit of '4' parallel requests for campaign 51",
        BOTH,
        ("too many requests to this shop at once", "retried automatically at 15:30"),
        ("слишком много одновременных запросов", "автоматически повторена в 15:30"),
        UNTIL_1230,
    ),
    case(
        "common_420",
        "Hit rate limit of 'N' requests per 'period' for resource 'R' for {entity}",
        420,
        "Hit rate limit of '10000' requests per '1h' for resource "
        "'/v2/campaigns/51/orders/delivery/track' for campaign 51",
        BOTH,
        ("hourly request limit", "retried automatically at 16:00"),
        ("Часовой лимит запросов", "автоматически повторена в 16:00"),
        UNTIL_1300,
    ),
    # common_503
    case(
        "common_503",
        "Service temporarily unavailable. Please, try again later",
        503,
        "Service temporarily unavailable. Please, try again later",
        BOTH,
        ("failing right now (HTTP 503)", "retried automatically shortly"),
        ("сбой (HTTP 503)", "скоро будет автоматически повторена"),
    ),
]

WRITE_SECTIONS = (
    "setOrderDeliveryTrackCode",
    "setOrderDeliveryDate",
    "common_400",
    "common_401",
    "common_403",
    "common_420",
    "common_503",
)


def body(message: str) -> str:
    return json.dumps({"status": "ERROR", "errors": [{"code": "SOME_CODE", "message": message}]})


def error_for(http: int, message: str, headers: dict[str, str] | None = None) -> MarketError:
    return classify(http, body(message), headers or {})


def market_line(lang: Lang, message: str) -> str:
    return f"{PREFIX[lang]}{message}"


def without_last_line(answer: str) -> str:
    return answer.rsplit("\n", 1)[0]


def table() -> list[tuple[Case, Command, Lang]]:
    return [(c, cmd, lang) for c in CASES for cmd in c.commands for lang in ("en", "ru")]


@pytest.mark.parametrize(
    ("c", "command", "lang"),
    table(),
    ids=[f"{c.section}:{c.message[:40]}:{cmd}:{lang}" for c, cmd, lang in table()],
)
def test_every_documented_message(c: Case, command: Command, lang: Lang) -> None:
    error = error_for(c.http, c.message, dict(c.headers))
    answer = explain(command, error, lang, tz=MOSCOW, order_id=123, campaign_id=51, final=False)
    lines = answer.split("\n")
    assert lines[-1] == market_line(lang, c.message)
    assert len(lines) == 2
    for fact in c.en if lang == "en" else c.ru:
        assert fact in answer
    explanation = lines[0]
    if lang == "ru":
        assert CYRILLIC.search(explanation)
    else:
        assert not CYRILLIC.search(explanation)
    assert len(explanation) < 300


def test_table_covers_every_documented_message_of_the_two_writes() -> None:
    documented = json.loads(ERROR_MESSAGES.read_text(encoding="utf-8"))
    wanted = {
        (section, template)
        for section in WRITE_SECTIONS
        for templates in (
            documented[section].values()
            if isinstance(documented[section], dict)
            else [documented[section]]
        )
        for template in templates
    }
    covered = {(c.section, c.template) for c in CASES}
    assert wanted - covered == set()


def test_the_commands_allowed_statuses_match_market() -> None:
    assert ALLOWED_STATUSES == {
        "track": ("PROCESSING", "DELIVERY", "PICKUP"),
        "move": ("PROCESSING", "DELIVERY"),
    }


@pytest.mark.parametrize(
    ("lang", "fact", "absent"),
    [
        ("en", "Market doesn't take a track number at this stage", "It can be set only"),
        ("ru", "на этом этапе Маркет не принимает трек-номер", "Его можно указать"),
    ],
)
def test_refusal_in_an_allowed_status_does_not_contradict_itself(
    lang: Lang, fact: str, absent: str
) -> None:
    error = error_for(
        400,
        "Action is not allowed for order '123' with status 'PICKUP' and substatus "
        "'PICKUP_SERVICE_RECEIVED'",
    )
    answer = explain("track", error, lang, tz=MOSCOW, order_id=123)
    assert fact in answer
    assert absent not in answer


def test_move_of_an_order_at_the_pickup_point_lists_the_allowed_statuses() -> None:
    error = error_for(
        400,
        "Action is not allowed for order '123' with status 'PICKUP' and substatus "
        "'READY_FOR_PICKUP'",
    )
    answer = explain("move", error, "en", tz=MOSCOW, order_id=123)
    assert answer.startswith("Order 123 is at a pickup point (ready to be picked up)")
    assert "only while the order is being processed or handed to delivery" in answer


def test_state_conflict_takes_the_order_number_from_markets_message() -> None:
    error = error_for(
        400,
        "Action is not allowed for order '987' with status 'CANCELLED' and substatus 'SHOP_FAILED'",
    )
    answer = explain("track", error, "ru", tz=MOSCOW)
    assert answer.startswith("Заказ 987 отменён (магазин не смог выполнить заказ)")


def test_unknown_status_and_substatus_are_shown_as_codes() -> None:
    error = error_for(
        400,
        "Action is not allowed for order '123' with status 'ARCHIVED' and substatus 'MOVED_AWAY'",
    )
    answer = explain("move", error, "en", tz=MOSCOW, order_id=123)
    assert answer.startswith("Order 123 is ARCHIVED (MOVED_AWAY), so the delivery date")


def test_unknown_substatus_is_left_out() -> None:
    error = error_for(
        400,
        "Action is not allowed for order '123' with status 'RETURNED' and substatus 'UNKNOWN'",
    )
    answer = explain("track", error, "en", tz=MOSCOW, order_id=123)
    assert answer.startswith("Order 123 is returned, so the track number can't be set.")


@pytest.mark.parametrize(
    ("command", "lang", "fact"),
    [
        ("track", "en", "in its current status"),
        ("move", "ru", "в неподходящем статусе"),
    ],
)
def test_state_conflict_without_a_parsable_status(command: Command, lang: Lang, fact: str) -> None:
    message = "Action is not allowed for order 123"
    answer = explain(command, error_for(400, message), lang, tz=MOSCOW, order_id=123)
    assert fact in answer
    assert answer.endswith(market_line(lang, message))


@pytest.mark.parametrize(
    ("message", "en_fact"),
    [
        ("Exceeded the number of days to edit delivery dates!", "too far ahead for Market"),
        ("Exceeded the number of edits of delivery dates!", "maximum number of times. Market"),
    ],
)
def test_date_rejection_without_a_limit_number(message: str, en_fact: str) -> None:
    answer = explain("move", error_for(400, message), "en", tz=MOSCOW, order_id=5)
    assert en_fact in answer
    assert "None" not in answer


@pytest.mark.parametrize(
    ("command", "lang", "fact"),
    [
        ("track", "en", "the track number and the delivery service id"),
        ("move", "en", "the new date (YYYY-MM-DD) and the reason"),
        ("track", "ru", "трек-номер и номер службы доставки"),
        ("move", "ru", "новую дату (ГГГГ-ММ-ДД) и причину"),
    ],
)
def test_malformed_request_names_the_commands_values(
    command: Command, lang: Lang, fact: str
) -> None:
    answer = explain(command, error_for(400, "Required request body is missing"), lang, tz=MOSCOW)
    assert fact in answer


@pytest.mark.parametrize(
    ("lang", "order_fact", "campaign_fact"),
    [
        ("en", "Market can't find the order in this shop", "The shop's campaign is not found"),
        ("ru", "Маркет не нашёл этот заказ в этом магазине", "Кампания магазина не найдена"),
    ],
)
def test_not_found_without_ids(lang: Lang, order_fact: str, campaign_fact: str) -> None:
    order = explain("move", error_for(404, "Order not found: '5'"), lang, tz=MOSCOW)
    campaign = explain("move", error_for(404, "Campaign not found '51'"), lang, tz=MOSCOW)
    assert order.startswith(order_fact)
    assert campaign.startswith(campaign_fact)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_non_json_502_keeps_the_raw_text(lang: Lang) -> None:
    error = classify(502, "<html>\n<body>502 Bad Gateway</body>\n</html>", {})
    retrying = explain("track", error, lang, tz=MOSCOW, final=False)
    given_up = explain("track", error, lang, tz=MOSCOW, final=True)
    raw = "<html> <body>502 Bad Gateway</body> </html>"
    for answer in (retrying, given_up):
        assert answer.split("\n")[-1] == market_line(lang, raw)
    assert "HTTP 502" in retrying
    assert ("shortly" if lang == "en" else "скоро") in retrying
    assert ("NOT made" if lang == "en" else "НЕ сделано") in given_up


@pytest.mark.parametrize(
    ("lang", "timeout_fact", "network_fact", "no_reply"),
    [
        (
            "en",
            "did not answer in time",
            "can't be reached right now (network error)",
            "There is no reply from Market to quote.",
        ),
        (
            "ru",
            "не ответил вовремя",
            "недоступен (ошибка сети)",
            "Ответа Маркета нет: он не ответил.",
        ),
    ],
)
def test_transport_timeout_and_network_failure(
    lang: Lang, timeout_fact: str, network_fact: str, no_reply: str
) -> None:
    timeout = explain("track", MarketTimeoutError("read timeout"), lang, tz=MOSCOW, final=False)
    network = explain("move", MarketNetworkError("refused"), lang, tz=MOSCOW, final=False)
    assert timeout_fact in timeout
    assert network_fact in network
    for answer in (timeout, network):
        assert answer.split("\n")[-1] == no_reply
        assert PREFIX[lang] not in answer
        assert ("retried automatically shortly" if lang == "en" else "скоро") in answer
    timeout_final = explain("track", MarketTimeoutError("t"), lang, tz=MOSCOW, final=True)
    network_final = explain("track", MarketNetworkError("n"), lang, tz=MOSCOW, final=True)
    assert timeout_final != network_final
    for answer in (timeout_final, network_final):
        assert ("NOT made" if lang == "en" else "НЕ сделано") in answer
        assert answer.split("\n")[-1] == no_reply


@pytest.mark.parametrize(
    ("lang", "retry_fact", "no_reply", "given_up_fact"),
    [
        (
            "en",
            "hourly request budget for this shop. The command is saved and will be retried "
            "automatically at 15:00.",
            "Market was not asked, so there is no reply from it to quote.",
            "stayed used up until the deadline, so the change was NOT made",
        ),
        (
            "ru",
            "часовой лимит запросов для этого магазина. Команда сохранена и будет "
            "автоматически повторена в 15:00.",
            "К Маркету не обращались, поэтому его ответа нет.",
            "изменение НЕ сделано",
        ),
    ],
)
def test_our_hourly_budget(lang: Lang, retry_fact: str, no_reply: str, given_up_fact: str) -> None:
    error = HourlyBudgetExhausted(
        "setOrderDeliveryTrackCode", datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    )
    retrying = explain("track", error, lang, tz=MOSCOW, order_id=1, final=False)
    given_up = explain("track", error, lang, tz=MOSCOW, order_id=1, final=True)
    assert retry_fact in retrying
    assert given_up_fact in given_up
    assert "15:00" not in given_up
    for answer in (retrying, given_up):
        assert answer.split("\n")[-1] == no_reply
        assert PREFIX[lang] not in answer


@pytest.mark.parametrize(
    ("http", "message", "headers", "en_fact"),
    [
        (420, "Hit rate limit of '4' parallel requests for campaign 51", UNTIL_1230, "refusing"),
        (429, "Too Many Requests", {}, "refusing"),
        (503, "Service temporarily unavailable. Please, try again later", {}, "failing"),
        (500, "Internal Server Error", {}, "failing"),
    ],
)
@pytest.mark.parametrize("lang", ["en", "ru"])
def test_final_transient_api_error_says_the_change_was_not_made(
    http: int, message: str, headers: dict[str, str], en_fact: str, lang: Lang
) -> None:
    error = error_for(http, message, headers)
    answer = explain("move", error, lang, tz=MOSCOW, order_id=123, final=True)
    explanation, last = answer.split("\n")
    assert last == market_line(lang, message)
    assert ("NOT made" if lang == "en" else "НЕ сделано") in explanation
    assert ("Try again later" if lang == "en" else "Попробуйте позже") in explanation
    assert "15:30" not in explanation
    if lang == "en":
        assert en_fact in explanation
    not_final = explain("move", error, lang, tz=MOSCOW, order_id=123, final=False)
    assert not_final != answer
    assert ("retried automatically" if lang == "en" else "автоматически повторена") in not_final


def test_retry_time_follows_the_given_time_zone() -> None:
    error = error_for(420, "Hit rate limit of '4' parallel requests for campaign 51", UNTIL_1230)
    answer = explain("track", error, "en", tz=ZoneInfo("Asia/Novosibirsk"), final=False)
    assert "at 19:30." in answer


def test_rate_limit_without_a_retry_time_says_shortly() -> None:
    error = error_for(429, "Too Many Requests")
    answer = explain("track", error, "en", tz=MOSCOW, final=False)
    assert "Market is busy right now and asked to wait." in answer
    assert "retried automatically shortly." in answer


@pytest.mark.parametrize(
    ("retry_after", "fact"),
    [("Wed, 01 Jan 2025 12:05:00 GMT", "at 15:05."), ("120", "shortly.")],
)
def test_server_error_uses_an_http_date_retry_after_only(retry_after: str, fact: str) -> None:
    error = error_for(503, "Service temporarily unavailable", {"Retry-After": retry_after})
    answer = explain("track", error, "en", tz=MOSCOW, final=False)
    assert fact in answer


def test_the_callers_retry_time_wins() -> None:
    error = error_for(420, "Hit rate limit of '4' parallel requests for campaign 51", UNTIL_1230)
    scheduled = datetime(2025, 1, 1, 12, 45, tzinfo=UTC)
    answer = explain("track", error, "ru", tz=MOSCOW, final=False, retry_at=scheduled)
    assert "повторена в 15:45." in answer
    network = explain(
        "move", MarketNetworkError("reset"), "en", tz=MOSCOW, final=False, retry_at=scheduled
    )
    assert "retried automatically at 15:45." in network


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_other_status_is_reported_with_its_number(lang: Lang) -> None:
    answer = explain("track", error_for(302, "Moved"), lang, tz=MOSCOW)
    assert "HTTP 302" in answer
    assert answer.split("\n")[-1] == market_line(lang, "Moved")


def test_permanent_error_reads_the_same_whether_final_or_not() -> None:
    error = error_for(401, "Api-Key token is revoked")
    assert explain("track", error, "en", tz=MOSCOW, final=True) == explain(
        "track", error, "en", tz=MOSCOW, final=False
    )


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_an_unexpected_error_still_ends_plainly(lang: Lang) -> None:
    answer = explain("move", MarketError("boom"), lang, tz=MOSCOW)
    assert answer.split("\n")[-1] == (ERRORS_EN if lang == "en" else ERRORS_RU)["no_reply_other"]
    assert "boom" not in answer


@pytest.mark.parametrize(
    "error",
    [
        error_for(
            400,
            "Action is not allowed for order '1' with status 'DELIVERED' and "
            "substatus 'USER_RECEIVED'",
        ),
        error_for(400, "Exceeded the number of edits of delivery dates! limit is: '3'"),
        error_for(420, "Hit rate limit of '4' parallel requests for campaign 51", UNTIL_1230),
        classify(502, "Bad Gateway", {}),
        HourlyBudgetExhausted("setOrderDeliveryDate", datetime(2025, 1, 1, 9, 0, tzinfo=UTC)),
        MarketTimeoutError("read timeout"),
    ],
    ids=["state", "edits", "rate", "raw502", "budget", "timeout"],
)
def test_a_stored_error_is_explained_as_it_was_live(error: MarketError) -> None:
    restored = error_from_record(json.loads(json.dumps(error.to_record())))
    for lang in ("en", "ru"):
        assert explain("move", restored, lang, tz=MOSCOW, final=False) == explain(
            "move", error, lang, tz=MOSCOW, final=False
        )


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def test_error_texts_have_the_same_keys_and_placeholders_in_both_languages() -> None:
    assert ERRORS_EN.keys() == ERRORS_RU.keys()
    for key, en in ERRORS_EN.items():
        assert placeholders(en) == placeholders(ERRORS_RU[key]), key


def test_status_words_are_complete_in_both_languages() -> None:
    assert STATUS_EN.keys() == STATUS_RU.keys()
    assert SUBSTATUS_EN.keys() == SUBSTATUS_RU.keys()
    assert len(SUBSTATUS_EN) >= 40


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_texts_are_plain_and_in_the_right_script(lang: Lang) -> None:
    tables = (
        (ERRORS_EN, STATUS_EN, SUBSTATUS_EN)
        if lang == "en"
        else (ERRORS_RU, STATUS_RU, SUBSTATUS_RU)
    )
    for texts in tables:
        for key, text in texts.items():
            assert not re.search(r"[<>*`]", text), key
            if lang == "en":
                assert not CYRILLIC.search(text), key
        if lang == "ru" and texts is not ERRORS_RU:
            assert all(CYRILLIC.search(text) for text in texts.values())


ORDER_STATUSES = (
    "PLACING",
    "RESERVED",
    "UNPAID",
    "PROCESSING",
    "DELIVERY",
    "PICKUP",
    "DELIVERED",
    "CANCELLED",
    "PENDING",
    "PARTIALLY_RETURNED",
    "RETURNED",
    "UNKNOWN",
)
# The PROCESSING stages and CANCELLED reasons Market describes for getBusinessOrders.
DESCRIBED_SUBSTATUSES = (
    "STARTED",
    "READY_TO_SHIP",
    "RESERVATION_EXPIRED",
    "USER_NOT_PAID",
    "USER_UNREACHABLE",
    "USER_CHANGED_MIND",
    "USER_REFUSED_DELIVERY",
    "USER_REFUSED_PRODUCT",
    "SHOP_FAILED",
    "USER_REFUSED_QUALITY",
    "USER_IDENTIFICATION_MISMATCH",
    "PURCHASE_GROUP_THRESHOLD_NOT_REACHED_CANCELLED",
    "REPLACING_ORDER",
    "PROCESSING_EXPIRED",
    "PICKUP_EXPIRED",
    "TOO_MANY_DELIVERY_DATE_CHANGES",
    "TOO_LONG_DELIVERY",
    "INCORRECT_PERSONAL_DATA",
    "TECHNICAL_ERROR",
    "SHIPPED",
)


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_order_status_and_described_substatus_has_words(lang: Lang) -> None:
    for status in ORDER_STATUSES:
        assert status_words(status, lang) != status
    for substatus in DESCRIBED_SUBSTATUSES:
        assert substatus_words(substatus, lang) != substatus


@pytest.mark.parametrize(
    ("code", "lang", "expected"),
    [
        ("PROCESSING", "en", "being processed"),
        ("PROCESSING", "ru", "в обработке"),
        ("processing", "en", "being processed"),
        ("ARCHIVED", "ru", "ARCHIVED"),
    ],
)
def test_status_words(code: str, lang: Lang, expected: str) -> None:
    assert status_words(code, lang) == expected


@pytest.mark.parametrize(
    ("code", "lang", "expected"),
    [
        ("USER_CHANGED_MIND", "en", "the buyer changed their mind"),
        ("READY_TO_SHIP", "ru", "собран и готов к отправке"),
        ("SOMETHING_NEW", "en", "SOMETHING_NEW"),
    ],
)
def test_substatus_words(code: str, lang: Lang, expected: str) -> None:
    assert substatus_words(code, lang) == expected
