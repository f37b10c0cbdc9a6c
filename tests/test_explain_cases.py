"""Explanations beyond the documented table: state conflicts, date limits, transient errors and
their retry wording, errors without Market's words, and errors read back from storage."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.market.errors import (
    HourlyBudgetExhausted,
    MarketError,
    MarketNetworkError,
    MarketTimeoutError,
    MarketUnreachable,
    classify,
    error_from_record,
)
from bot.market.writes import KINDS, MoveKind, OperationKind, TrackKind
from handlers.explain import explain
from handlers.texts import CATALOGS, Lang

MOSCOW = ZoneInfo("Europe/Moscow")
PREFIX: dict[Lang, str] = {"en": "Market said: ", "ru": "Ответ Маркета: "}
TRACK, MOVE = TrackKind(), MoveKind()
UNTIL_1230 = {"X-RateLimit-Resource-Until": "Wed, 01 Jan 2025 12:30:00 GMT"}
PARALLEL = "Hit rate limit of '4' parallel requests for campaign 51"
NOT_MADE: dict[Lang, str] = {"en": "NOT made", "ru": "НЕ сделано"}


def error_for(http: int, message: str, headers: dict[str, str] | None = None) -> MarketError:
    body = {"status": "ERROR", "errors": [{"code": "SOME_CODE", "message": message}]}
    return classify(http, json.dumps(body), headers or {})


def state(status: str, substatus: str, order: int = 123) -> MarketError:
    return error_for(
        400,
        f"Action is not allowed for order '{order}' with status '{status}' and substatus "
        f"'{substatus}'",
    )


def market_line(lang: Lang, message: str) -> str:
    return f"{PREFIX[lang]}{message}"


# --- state conflicts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "fact", "absent"),
    [
        ("en", "at this stage Market won't let you set the track number", "possible only"),
        ("ru", "на этом этапе Маркет не даёт указать трек-номер", "Это можно, только"),
    ],
)
def test_refusal_in_an_allowed_status_does_not_contradict_itself(
    lang: Lang, fact: str, absent: str
) -> None:
    answer = explain(
        TRACK, state("PICKUP", "PICKUP_SERVICE_RECEIVED"), lang, tz=MOSCOW, order_id=123
    )
    assert fact in answer
    assert absent not in answer


def test_move_of_an_order_at_the_pickup_point_lists_the_allowed_statuses() -> None:
    answer = explain(MOVE, state("PICKUP", "READY_FOR_PICKUP"), "en", tz=MOSCOW, order_id=123)
    assert answer.startswith(
        "Order 123 is at a pickup point (ready to be picked up), so Market won't let you move "
        "the delivery date now."
    )
    assert "only while the order is being processed or handed to delivery." in answer


@pytest.mark.parametrize("kind", [TRACK, KINDS["track"]], ids=["instance", "registry"])
def test_allowed_statuses_are_listed_in_markets_order(kind: OperationKind[Any]) -> None:
    answer = explain(kind, state("CANCELLED", "SHOP_FAILED"), "en", tz=MOSCOW)
    assert "only while the order is being processed, handed to delivery or at a pickup point." in (
        answer
    )


def test_state_conflict_takes_the_order_number_from_markets_message() -> None:
    answer = explain(TRACK, state("CANCELLED", "SHOP_FAILED", order=987), "ru", tz=MOSCOW)
    assert answer.startswith("Заказ 987 отменён (магазин не смог выполнить заказ), поэтому")
    given = explain(
        TRACK, state("CANCELLED", "SHOP_FAILED", order=987), "en", tz=MOSCOW, order_id=5
    )
    assert given.startswith("Order 5 is cancelled")


def test_unknown_status_and_substatus_are_shown_as_codes() -> None:
    answer = explain(MOVE, state("ARCHIVED", "MOVED_AWAY"), "en", tz=MOSCOW, order_id=123)
    assert answer.startswith(
        "Order 123 is ARCHIVED (MOVED_AWAY), so Market won't let you move the delivery date now."
    )


def test_unknown_substatus_is_left_out() -> None:
    answer = explain(TRACK, state("RETURNED", "UNKNOWN"), "en", tz=MOSCOW, order_id=123)
    assert answer.startswith("Order 123 is returned, so Market won't let you set the track number")


@pytest.mark.parametrize(
    ("kind", "lang", "fact"),
    [
        (TRACK, "en", "won't let you set the track number for order 123 in its current status"),
        (MOVE, "ru", "не даёт перенести дату доставки: заказ 123 в неподходящем статусе"),
    ],
)
def test_state_conflict_without_a_parsable_status(
    kind: OperationKind[Any], lang: Lang, fact: str
) -> None:
    message = "Action is not allowed for order 123"
    answer = explain(kind, error_for(400, message), lang, tz=MOSCOW, order_id=123)
    assert fact in answer
    assert answer.endswith(market_line(lang, message))


# --- dates, malformed requests, not found ------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "en_fact"),
    [
        ("Exceeded the number of days to edit delivery dates!", "too far ahead for Market"),
        ("Exceeded the number of edits of delivery dates!", "maximum number of times. Market"),
    ],
)
def test_date_rejection_without_a_limit_number(message: str, en_fact: str) -> None:
    answer = explain(MOVE, error_for(400, message), "en", tz=MOSCOW, order_id=5)
    assert answer.startswith("Order 5: ")
    assert en_fact in answer
    assert "None" not in answer


@pytest.mark.parametrize(
    ("kind", "lang", "fact"),
    [
        (TRACK, "en", "the order number, the track number and the delivery service id."),
        (MOVE, "en", "the order number, the new date (YYYY-MM-DD) and the reason."),
        (TRACK, "ru", "номер заказа, трек-номер и номер службы доставки."),
        (MOVE, "ru", "номер заказа, новую дату (ГГГГ-ММ-ДД) и причину."),
    ],
)
def test_malformed_request_names_the_kinds_values(
    kind: OperationKind[Any], lang: Lang, fact: str
) -> None:
    answer = explain(kind, error_for(400, "Required request body is missing"), lang, tz=MOSCOW)
    assert fact in answer


@pytest.mark.parametrize(
    ("lang", "order_fact", "campaign_fact"),
    [
        ("en", "Market can't find the order in this shop", "The shop's campaign is not found"),
        ("ru", "Маркет не нашёл этот заказ в этом магазине", "Кампания магазина не найдена"),
    ],
)
def test_not_found_without_ids(lang: Lang, order_fact: str, campaign_fact: str) -> None:
    order = explain(MOVE, error_for(404, "Order not found: '5'"), lang, tz=MOSCOW)
    campaign = explain(MOVE, error_for(404, "Campaign not found '51'"), lang, tz=MOSCOW)
    assert order.startswith(order_fact)
    assert campaign.startswith(campaign_fact)


# --- transient errors and retries --------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "page_line"),
    [
        ("en", "Market answered with an error page (HTTP 502) instead of a message."),
        ("ru", "Маркет ответил страницей ошибки (HTTP 502), а не сообщением."),
    ],
)
def test_an_html_error_page_is_never_quoted(lang: Lang, page_line: str) -> None:
    error = classify(502, "<html>\n<head><title>502 Bad Gateway</title></head></html>", {})
    retrying = explain(TRACK, error, lang, tz=MOSCOW, final=False)
    given_up = explain(TRACK, error, lang, tz=MOSCOW, final=True)
    for answer in (retrying, given_up):
        assert answer.split("\n")[-1] == page_line
        assert "<" not in answer and "Bad Gateway" not in answer
    assert "HTTP 502" in retrying
    assert ("shortly" if lang == "en" else "скоро") in retrying
    assert NOT_MADE[lang] in given_up


def test_a_plain_text_body_is_still_quoted() -> None:
    error = classify(502, "upstream connect error", {})
    assert explain(TRACK, error, "en", tz=MOSCOW).split("\n")[-1] == (
        "Market said: upstream connect error"
    )


@pytest.mark.parametrize(
    ("lang", "timeout_fact", "broken_fact", "unreachable_fact", "no_reply"),
    [
        (
            "en",
            "did not answer in time",
            "connection to Market broke",
            "Market can't be reached right now.",
            "There is no reply from Market to quote.",
        ),
        (
            "ru",
            "не ответил вовремя",
            "Связь с Маркетом оборвалась",
            "Маркет сейчас недоступен: до него не достучаться.",
            "Ответа Маркета нет: он не ответил.",
        ),
    ],
)
def test_transport_timeout_broken_connection_and_unreachable(
    lang: Lang, timeout_fact: str, broken_fact: str, unreachable_fact: str, no_reply: str
) -> None:
    timeout = explain(TRACK, MarketTimeoutError("read timeout"), lang, tz=MOSCOW, final=False)
    broken = explain(MOVE, MarketNetworkError("reset"), lang, tz=MOSCOW, final=False)
    unreachable = explain(MOVE, MarketUnreachable("refused"), lang, tz=MOSCOW, final=False)
    assert timeout_fact in timeout
    assert broken_fact in broken
    assert unreachable_fact in unreachable
    assert "busy" not in unreachable and "занят" not in unreachable
    for answer in (timeout, broken, unreachable):
        assert answer.split("\n")[-1] == no_reply
        assert PREFIX[lang] not in answer
        assert ("retried automatically shortly" if lang == "en" else "скоро") in answer
    # Given up: a request that never left says the change was not made; one that may have
    # reached Market says it may or may not have been made.
    unreachable_final = explain(TRACK, MarketUnreachable("r"), lang, tz=MOSCOW, final=True)
    assert NOT_MADE[lang] in unreachable_final
    for error in (MarketTimeoutError("t"), MarketNetworkError("n")):
        unsure = explain(TRACK, error, lang, tz=MOSCOW, order_id=7, final=True)
        assert NOT_MADE[lang] not in unsure
        assert ("Check order 7" if lang == "en" else "Проверьте заказ 7") in unsure


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
    retrying = explain(TRACK, error, lang, tz=MOSCOW, order_id=1, final=False)
    given_up = explain(TRACK, error, lang, tz=MOSCOW, order_id=1, final=True)
    assert retry_fact in retrying
    assert given_up_fact in given_up
    assert "15:00" not in given_up
    for answer in (retrying, given_up):
        assert answer.split("\n")[-1] == no_reply
        assert PREFIX[lang] not in answer


@pytest.mark.parametrize(
    ("http", "message", "headers", "en_fact"),
    [
        (420, PARALLEL, UNTIL_1230, "refusing"),
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
    answer = explain(MOVE, error, lang, tz=MOSCOW, order_id=123, final=True)
    explanation, last = answer.split("\n")
    assert last == market_line(lang, message)
    assert NOT_MADE[lang] in explanation
    assert ("Try again later" if lang == "en" else "Попробуйте позже") in explanation
    assert "15:30" not in explanation
    if lang == "en":
        assert en_fact in explanation
    not_final = explain(MOVE, error, lang, tz=MOSCOW, order_id=123, final=False)
    assert not_final != answer
    assert ("retried automatically" if lang == "en" else "автоматически повторена") in not_final


def test_retry_time_follows_the_given_time_zone() -> None:
    error = error_for(420, PARALLEL, UNTIL_1230)
    answer = explain(TRACK, error, "en", tz=ZoneInfo("Asia/Novosibirsk"), final=False)
    assert "at 19:30." in answer


def test_rate_limit_without_a_retry_time_says_shortly() -> None:
    answer = explain(TRACK, error_for(429, "Too Many Requests"), "en", tz=MOSCOW, final=False)
    assert "Market is busy right now and asked to wait." in answer
    assert "retried automatically shortly." in answer


@pytest.mark.parametrize(
    ("retry_after", "fact"),
    [("Wed, 01 Jan 2025 12:05:00 GMT", "at 15:05."), ("120", "shortly.")],
)
def test_server_error_uses_an_http_date_retry_after_only(retry_after: str, fact: str) -> None:
    error = error_for(503, "Service temporarily unavailable", {"Retry-After": retry_after})
    answer = explain(TRACK, error, "en", tz=MOSCOW, final=False)
    assert fact in answer


def test_the_callers_retry_time_wins() -> None:
    scheduled = datetime(2025, 1, 1, 12, 45, tzinfo=UTC)
    error = error_for(420, PARALLEL, UNTIL_1230)
    answer = explain(TRACK, error, "ru", tz=MOSCOW, final=False, retry_at=scheduled)
    assert "повторена в 15:45." in answer
    network = explain(
        MOVE, MarketNetworkError("reset"), "en", tz=MOSCOW, final=False, retry_at=scheduled
    )
    assert "retried automatically at 15:45." in network


# --- other answers -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_other_status_is_reported_with_its_number(lang: Lang) -> None:
    answer = explain(TRACK, error_for(302, "Moved"), lang, tz=MOSCOW)
    assert "HTTP 302" in answer
    assert answer.split("\n")[-1] == market_line(lang, "Moved")


def test_permanent_error_reads_the_same_whether_final_or_not() -> None:
    error = error_for(401, "Api-Key token is revoked")
    final = explain(TRACK, error, "en", tz=MOSCOW, final=True)
    assert final == explain(TRACK, error, "en", tz=MOSCOW, final=False)
    assert "revoked" in final


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_an_unexpected_error_still_ends_plainly(lang: Lang) -> None:
    answer = explain(MOVE, MarketError("boom"), lang, tz=MOSCOW)
    assert answer.split("\n")[-1] == CATALOGS[lang]["market.no_reply_other"]
    assert answer.split("\n")[0] == CATALOGS[lang]["market.unexpected"]
    assert "boom" not in answer


@pytest.mark.parametrize(
    "error",
    [
        state("DELIVERED", "USER_RECEIVED", order=1),
        error_for(400, "Exceeded the number of edits of delivery dates! limit is: '3'"),
        error_for(420, PARALLEL, UNTIL_1230),
        classify(502, "Bad Gateway", {}),
        HourlyBudgetExhausted("setOrderDeliveryDate", datetime(2025, 1, 1, 9, 0, tzinfo=UTC)),
        MarketTimeoutError("read timeout"),
        MarketNetworkError("refused"),
    ],
    ids=["state", "edits", "rate", "raw502", "budget", "timeout", "network"],
)
def test_a_stored_error_is_explained_as_it_was_live(error: MarketError) -> None:
    restored = error_from_record(json.loads(json.dumps(error.to_record())))
    assert type(restored) is type(error)
    for kind in (TRACK, MOVE):
        for lang in ("en", "ru"):
            live = explain(kind, error, lang, tz=MOSCOW, final=False)
            assert explain(kind, restored, lang, tz=MOSCOW, final=False) == live
