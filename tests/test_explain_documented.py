"""Every documented Market message for the two writes, explained in both languages.

Errors are built with ``bot.market.errors.classify`` from an HTTP status, a JSON body and headers,
exactly as the Market client builds them. The table holds every message of
``error-messages.json`` that applies to setOrderDeliveryTrackCode (kind "track") and
setOrderDeliveryDate (kind "move"), with realistic values in place of the placeholders.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.market.errors import MarketError, classify
from bot.market.writes import KINDS, MoveKind, TrackKind
from handlers.explain import explain
from handlers.texts import Lang

MOSCOW = ZoneInfo("Europe/Moscow")
PREFIX: dict[Lang, str] = {"en": "Market said: ", "ru": "Ответ Маркета: "}
CYRILLIC = re.compile("[А-Яа-яЁё]")
# A copy of ../shared/market-api/error-messages.json, kept with the tests so they never skip.
ERROR_MESSAGES = Path(__file__).resolve().parent / "data" / "error-messages.json"
WRITE_SECTIONS = {
    "setOrderDeliveryTrackCode": "track",
    "setOrderDeliveryDate": "move",
    "common_400": None,
    "common_401": None,
    "common_403": None,
    "common_420": None,
    "common_503": None,
}

TRACK = ("track",)
MOVE = ("move",)
BOTH = ("track", "move")

STATE = "Action is not allowed for order 'orderId' with status 'status' and substatus 'substatus'"
CAMPAIGN_NOT_FOUND = "Campaign not found 'campaignId'"
RESOURCE_NOT_FOUND = "Resource not found"
UNTIL_1230 = {"X-RateLimit-Resource-Until": "Wed, 01 Jan 2025 12:30:00 GMT"}
UNTIL_1300 = {"X-RateLimit-Resource-Until": "Wed, 01 Jan 2025 13:00:00 GMT"}


@dataclass(frozen=True)
class Case:
    section: str
    template: str
    http: int
    message: str
    kinds: tuple[str, ...]
    en: tuple[str, ...]
    ru: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()


def case(
    section: str,
    template: str,
    http: int,
    message: str,
    kinds: tuple[str, ...],
    en: tuple[str, ...],
    ru: tuple[str, ...],
    headers: dict[str, str] | None = None,
) -> Case:
    return Case(section, template, http, message, kinds, en, ru, tuple((headers or {}).items()))


def same(section: str, http: int, text: str, en: tuple[str, ...], ru: tuple[str, ...]) -> Case:
    """A message without placeholders, which applies to both writes."""
    return case(section, text, http, text, BOTH, en, ru)


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
SELLER_CABINET = ("seller cabinet", "кабинете продавца")

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
            "Market won't let you set the track number now",
            "only while the order is being processed, handed to delivery or at a pickup point",
        ),
        (
            "Заказ 123 отменён (покупатель передумал)",
            "Маркет не даст указать трек-номер",
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
            "Market won't let you move the delivery date now",
            "only while the order is being processed or handed to delivery",
        ),
        (
            "Заказ 123 уже получен покупателем (служба доставки отметила его доставленным)",
            "Маркет не даст перенести дату доставки",
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
    # Listed under both writes.
    *(
        case(section, template, 404, message, kinds, en, ru)
        for section, kinds in (("setOrderDeliveryTrackCode", TRACK), ("setOrderDeliveryDate", MOVE))
        for template, message, en, ru in (
            (
                CAMPAIGN_NOT_FOUND,
                "Campaign not found '51'",
                CAMPAIGN_MISSING_EN,
                CAMPAIGN_MISSING_RU,
            ),
            (RESOURCE_NOT_FOUND, RESOURCE_NOT_FOUND, SOMETHING_MISSING_EN, SOMETHING_MISSING_RU),
        )
    ),
    # common_400
    *(
        case("common_400", template, 400, message, BOTH, MALFORMED_EN, MALFORMED_RU)
        for template, message in (
            (
                "'field' must not be null (rejected value: null)",
                "'deliveryServiceId' must not be null (rejected value: null)",
            ),
            ("Type mismatch: 'value'", "Type mismatch: 'RR-456'"),
            (
                "JSON: {message}",
                "JSON: Unexpected character ('}' (code 125)): was expecting double-quote",
            ),
            ("Required request body is missing", "Required request body is missing"),
            ("Illegal input at 'path'", "Illegal input at 'dates.toDate'"),
        )
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
        same("common_401", 401, text, INVALID_KEY_EN, INVALID_KEY_RU)
        for text in (
            "Api-Key token is invalid",
            "Api-Key token length invalid",
            "Api-Key token prefix invalid",
            "Api-Key token format invalid",
            "Authorization header has invalid syntax",
        )
    ),
    *(
        same("common_401", 401, text, NO_KEY_EN, NO_KEY_RU)
        for text in (
            "Api-Key token is not specified",
            "Credentials are not specified",
            "OAuth client id is not specified",
            "OAuth credentials are not specified",
            "OAuth token is not specified",
        )
    ),
    same(
        "common_401",
        401,
        "Api-Key token is revoked",
        ("has been revoked", "new key", "/connect again"),
        ("отозван", "новый ключ", "/connect"),
    ),
    # common_403
    same(
        "common_403",
        403,
        "Access denied",
        ("doesn't give access to this shop", "/connect again"),
        ("не даёт доступа к этому магазину", "/connect"),
    ),
    same(
        "common_403",
        403,
        "The method is deprecated and is occasionally forbidden. Please stop using it",
        ("deprecated", "administrator"),
        ("устаревшим", "администратору"),
    ),
    *(
        case(
            "common_403",
            template,
            403,
            message,
            BOTH,
            (en, SELLER_CABINET[0]),
            (ru, SELLER_CABINET[1]),
        )
        for template, message, en, ru in (
            (
                "API for business 'businessId' disabled because it has only disabled partners",
                "API for business '777' disabled because it has only disabled partners",
                "whole business",
                "всего бизнеса",
            ),
            (
                "API for campaign 'campaignId' disabled because it has no placement program",
                "API for campaign '51' disabled because it has no placement program",
                "no placement program",
                "нет программы размещения",
            ),
            (
                "API for campaign 'campaignId' disabled because there are no active contracts "
                "with Market",
                "API for campaign '51' disabled because there are no active contracts with Market",
                "no active contracts",
                "нет действующих договоров",
            ),
            (
                "API for campaign 'campaignId' disabled due to inactivity",
                "API for campaign '51' disabled due to inactivity",
                "not used for a long time",
                "долго не пользовались",
            ),
            (
                "API for campaign 'campaignId' manually disabled",
                "API for campaign '51' manually disabled",
                "switched off by hand",
                "отключено вручную",
            ),
            (
                "The method is not supported for Market Yandex Go sellers",
                "The method is not supported for Market Yandex Go sellers",
                "Yandex Go",
                "Yandex Go",
            ),
        )
    ),
    *(
        same("common_403", 403, text, CREDENTIALS_EN, CREDENTIALS_RU)
        for text in (
            "Client id is invalid",
            "OAuth token is invalid",
            "OAuth token is invalid (account has been globally logged out)",
            "Scope is invalid",
        )
    ),
    same(
        "common_403",
        403,
        "Token does not have any of the scopes to access the API method",
        ('"Order processing and inventory"', "inventory-and-order-processing", "/connect again"),
        ("«Обработка заказов и учёт товаров»", "inventory-and-order-processing", "/connect"),
    ),
    same(
        "common_403",
        403,
        "User account is disabled",
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
    same(
        "common_503",
        503,
        "Service temporarily unavailable. Please, try again later",
        ("failing right now (HTTP 503)", "retried automatically shortly"),
        ("сбой (HTTP 503)", "скоро будет автоматически повторена"),
    ),
]


def error_for(http: int, message: str, headers: dict[str, str]) -> MarketError:
    body = {"status": "ERROR", "errors": [{"code": "SOME_CODE", "message": message}]}
    return classify(http, json.dumps(body), headers)


def table() -> list[tuple[Case, str, Lang]]:
    return [(c, kind, lang) for c in CASES for kind in c.kinds for lang in ("en", "ru")]


@pytest.mark.parametrize(
    ("c", "kind", "lang"),
    table(),
    ids=[f"{c.section}:{c.message[:40]}:{kind}:{lang}" for c, kind, lang in table()],
)
def test_every_documented_message(c: Case, kind: str, lang: Lang) -> None:
    error = error_for(c.http, c.message, dict(c.headers))
    answer = explain(KINDS[kind], error, lang, tz=MOSCOW, order_id=123, campaign_id=51, final=False)
    lines = answer.split("\n")
    assert lines == [lines[0], f"{PREFIX[lang]}{c.message}"]
    for fact in c.en if lang == "en" else c.ru:
        assert fact in lines[0]
    assert bool(CYRILLIC.search(lines[0])) is (lang == "ru")
    assert lines[0][0].isupper()
    assert "{" not in lines[0]
    assert len(lines[0]) < 300


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
    assert covered - wanted == set()  # no case claims a message the file does not list


def test_a_write_specific_message_is_checked_for_its_own_kind_only() -> None:
    for c in CASES:
        own = WRITE_SECTIONS[c.section]
        assert c.kinds == (BOTH if own is None else (own,)), c.section


def test_the_kinds_allowed_statuses_match_market() -> None:
    assert TrackKind().statuses == frozenset({"PROCESSING", "DELIVERY", "PICKUP"})
    assert MoveKind().statuses == frozenset({"PROCESSING", "DELIVERY"})
    assert set(KINDS) == {"track", "move", "ship", "deliver", "cancellation"}
    # updateOrderStatus: PROCESSING → DELIVERY → (PICKUP →) DELIVERED; a buyer's cancellation
    # request is answered while the order is with the courier or at the pickup point.
    assert KINDS["ship"].statuses == frozenset({"PROCESSING"})
    assert KINDS["deliver"].statuses == frozenset({"DELIVERY", "PICKUP"})
    assert KINDS["cancellation"].statuses == frozenset({"DELIVERY", "PICKUP"})
    assert KINDS["track"].statuses == TrackKind().statuses
