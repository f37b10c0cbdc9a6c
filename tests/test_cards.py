"""Order cards, digests and the plan as text and buttons: pure functions, no I/O.

``handlers.card_view`` (what a card says), ``handlers.card_buttons`` (the ``o`` family's
callback data, built and parsed side by side) and ``bot.plan`` (when a morning plan is due).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.market.models import BusinessOrder
from bot.market.orders import Action, Need
from bot.plan import due, plan_time
from handlers import card_buttons, card_view
from handlers.card_buttons import CardPress, DeclineReason, DeliveredOn, DigestOpen, DigestPage
from storage.feed import FeedShop

TODAY = date(2025, 12, 24)  # a Wednesday
MOSCOW = ZoneInfo("Europe/Moscow")
INT64_MAX = 2**63 - 1


def order(**changes: Any) -> BusinessOrder:
    """A DBS order as getBusinessOrders serves it, due tomorrow, without a track code."""
    wire: dict[str, Any] = {
        "orderId": 123456789,
        "campaignId": 21000001,
        "status": "PROCESSING",
        "substatus": "STARTED",
        "items": [{"offerName": "Букет роз", "count": 2}, {"offerName": "Ваза", "count": 1}],
        "prices": {"payment": {"value": 4500.0, "currencyId": "RUR"}},
        "delivery": {
            "serviceName": "Своя служба",
            "deliveryServiceId": 51,
            "dates": {"fromDate": "2025-12-25", "toDate": "2025-12-25"},
            "courier": {"address": {"city": "Москва", "street": "Тверская", "house": "1"}},
        },
        "cancelRequested": False,
    }
    wire.update(changes)
    return BusinessOrder.model_validate(wire)


def with_delivery(**delivery: Any) -> BusinessOrder:
    base = order().model_dump(mode="json", by_alias=True)["delivery"]
    return order(delivery={**base, **delivery})


# --- the card ----------------------------------------------------------------------------------


def test_a_new_order_shows_what_a_courier_needs() -> None:
    view = card_view.card(order(), lang="ru", today=TODAY, taken_name=None)
    lines = view.text.split("\n")
    assert lines[0] == "📦 Заказ 123456789 · ждёт доставки"
    assert "📅 чт 25.12.2025" in lines
    assert "🚛 Своя служба" in lines
    assert "📍 Москва, Тверская" in lines
    assert "🛒 Букет роз × 2, Ваза × 1" in lines
    assert "💰 4 500 ₽" in lines
    assert "⚠️ нет трека" in lines
    assert [action for _, action in view.buttons] == [
        Action.TRACK,
        Action.SHIP,
        Action.MOVE,
        Action.TAKE,
    ]
    assert view.buttons[0][0] == "🏷 Трек"


def test_an_interval_with_times_and_the_english_words() -> None:
    shown = with_delivery(
        dates={
            "fromDate": "2025-12-23",
            "toDate": "2025-12-26",
            "fromTime": "10:00",
            "toTime": "14:00",
        }
    )
    text = card_view.card(shown, lang="en", today=TODAY, taken_name="Ivan").text
    assert "📅 23.12–Fri 26.12.2025 10:00–14:00" in text
    assert "🙋 Taken by Ivan" in text
    assert text.startswith("📦 Order 123456789 · to be delivered")


def test_late_and_today_are_flagged_and_the_new_flag_is_not() -> None:
    late = card_view.card(order(), lang="en", today=TODAY + timedelta(days=2), taken_name=None)
    assert "⚠️ late, no track code" in late.text
    today = card_view.card(order(), lang="en", today=TODAY + timedelta(days=1), taken_name=None)
    assert "⚠️ due today, no track code" in today.text
    assert "new" not in today.text


def test_a_track_code_is_shown_and_its_button_goes() -> None:
    tracked = with_delivery(tracks=[{"trackCode": "RR123", "deliveryServiceId": 51}])
    view = card_view.card(tracked, lang="en", today=TODAY, taken_name=None)
    assert "🏷 Track: RR123" in view.text
    assert Action.TRACK not in [action for _, action in view.buttons]
    assert "no track code" not in view.text


def test_a_cancellation_request_offers_only_the_answers() -> None:
    asked = order(status="DELIVERY", substatus="DELIVERY_SERVICE_RECEIVED", cancelRequested=True)
    view = card_view.card(asked, lang="ru", today=TODAY, taken_name=None)
    assert view.text.startswith("🚚 Заказ 123456789 · покупатель просит отменить")
    assert "ответьте за 48 часов" in view.text
    assert [action for _, action in view.buttons] == [Action.ACCEPT_CANCEL, Action.DECLINE_CANCEL]


@pytest.mark.parametrize("status", ["DELIVERED", "CANCELLED"])
def test_a_finished_order_has_no_buttons_and_no_taker(status: str) -> None:
    done = order(status=status, substatus="DELIVERY_SERVICE_DELIVERED")
    view = card_view.card(done, lang="en", today=TODAY, taken_name="Ivan")
    assert view.buttons == ()
    assert "Taken by" not in view.text
    assert card_buttons.card_markup(view, 21000001, 123456789) is None


def test_a_taken_order_offers_release_instead_of_take() -> None:
    view = card_view.card(order(), lang="en", today=TODAY, taken_name="Ivan")
    assert ("↩️ Release", Action.TAKE) in view.buttons


def test_market_text_is_cleaned_and_shortened() -> None:
    items = [{"offerName": "A\u202eB" + "x" * 80, "count": 1}] + [
        {"offerName": f"item {n}", "count": n} for n in range(1, 5)
    ]
    text = card_view.card(order(items=items), lang="en", today=TODAY, taken_name=None).text
    line = next(line for line in text.split("\n") if line.startswith("🛒"))
    assert "\u202e" not in line
    assert "…" in line and "and 2 more" in line
    assert len(line) < 150


def test_shown_changes_with_what_the_card_shows_only() -> None:
    first = card_view.card(order(), lang="en", today=TODAY, taken_name=None)
    again = card_view.card(order(), lang="en", today=TODAY, taken_name=None)
    taken = card_view.card(order(), lang="en", today=TODAY, taken_name="Ivan")
    assert first.shown == again.shown != taken.shown


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [(4500.0, "RUR", "4 500 ₽"), (1234567.5, "RUB", "1 234 567.50 ₽"), (10.0, "USD", "10 USD")],
)
def test_money(value: float, currency: str, expected: str) -> None:
    shown = order(prices={"payment": {"value": value, "currencyId": currency}})
    assert card_view.money(shown) == expected


def test_a_listed_order_remembers_its_needs() -> None:
    marker = card_view.listed_marker([Need.NEW, Need.NO_TRACK, Need.TODAY])
    assert card_view.listed_needs(marker) == {"no_track", "today"}
    assert card_view.listed_needs("a1b2c3") is None


# --- digests and the plan ----------------------------------------------------------------------


def test_a_digest_page_lists_its_orders_and_says_how_to_open_one() -> None:
    line = card_view.order_line(order(), "en", TODAY, first_seen=True)
    assert line == "123456789 · Thu 25.12 · no track code, new"
    text = card_view.digest_text("new", [line], total=12, page=1, pages=2, lang="en")
    assert text.split("\n") == [
        "🆕 New orders: 12",
        "Page 2 of 2",
        "• 123456789 · Thu 25.12 · no track code, new",
        "Tap an order to see its card.",
    ]


def test_the_plan_counts_each_need_and_names_the_orders() -> None:
    day = TODAY + timedelta(days=1)
    due_today = [order(orderId=100 + n) for n in range(12)]
    late = order(orderId=7, delivery={"dates": {"toDate": "2025-12-20"}})
    text = card_view.plan_text([late, *due_today], lang="en", today=day, shop="flowers (1)")
    lines = text.split("\n")
    assert lines[0] == "📋 Plan for Thu 25.12.2025 · flowers (1)"
    assert lines[1] == "⏰ Late: 1 — 7"
    assert lines[2].startswith("📦 Due today: 12 — 100, 101") and lines[2].endswith("and 2 more")
    assert lines[3].startswith("🏷 No track code: 13 — 7, 100")
    assert card_view.plan_has_work([late], day)
    quiet = with_delivery(tracks=[{"trackCode": "RR1", "deliveryServiceId": 51}])
    assert not card_view.plan_has_work([quiet], TODAY)
    assert "No open order needs action today." in card_view.plan_text(
        [quiet], lang="en", today=TODAY, shop="s"
    )


# --- callback data -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "press"),
    [
        (card_buttons.card_data(Action.TRACK, 21000001, 5), CardPress(Action.TRACK, 21000001, 5)),
        (
            card_buttons.card_data(Action.DECLINE_CANCEL, INT64_MAX, INT64_MAX),
            CardPress(Action.DECLINE_CANCEL, INT64_MAX, INT64_MAX),
        ),
        (card_buttons.delivered_data(1, 2, TODAY), DeliveredOn(1, 2, TODAY)),
        (
            card_buttons.decline_data(1, 2, "ORDER_IN_DELIVERY"),
            DeclineReason(1, 2, "ORDER_IN_DELIVERY"),
        ),
        (
            card_buttons.decline_data(1, 2, "ORDER_DELIVERED"),
            DeclineReason(1, 2, "ORDER_DELIVERED"),
        ),
        (card_buttons.page_data(9, 3), DigestPage(9, 3)),
        (card_buttons.open_data(9, 123), DigestOpen(9, 123)),
    ],
)
def test_built_data_parses_back(data: str, press: object) -> None:
    assert len(data.encode()) <= 64
    assert card_buttons.parse(data) == press


@pytest.mark.parametrize(
    "data",
    [
        "",
        "o:",
        "o:z:1:2",  # no such action
        "o:t:0:2",
        f"o:t:1:{INT64_MAX + 1}",
        "o:t:1:2:3",
        "o:t:-1:2",
        "o:t:1:2\n",
        "o:y:1:2:20250231",  # no such day
        "o:r:1:2:x",
        "o:p:0:1",
        "o:c:1:99999999999999999999",
        "q:1:0",
        "o:t:١:2",  # Arabic-Indic digit
    ],
)
def test_forged_data_is_refused(data: str) -> None:
    assert card_buttons.parse(data) is None


def test_digest_buttons_page_through() -> None:
    ids = list(range(1, 20))
    assert card_buttons.pages(len(ids)) == 3
    assert card_buttons.page_of(ids, 2) == [17, 18, 19]
    assert card_buttons.page_of(ids, 9) == [17, 18, 19]
    markup = card_buttons.digest_markup(4, [("17", 17), ("18", 18), ("19", 19)], 2, len(ids))
    rows = [[button.callback_data for button in row] for row in markup.inline_keyboard]
    assert rows == [["o:c:4:17", "o:c:4:18"], ["o:c:4:19"], ["o:p:4:1"]]


# --- when the morning plan is due --------------------------------------------------------------


def shop(plan_at: str = "09:00", sent: str | None = None) -> FeedShop:
    return FeedShop(1, 700, None, None, plan_at, sent)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("08:30", time(8, 30)), ("8.05", time(8, 5)), ("23:59", time(23, 59)), ("24:00", None)],
)
def test_plan_time(text: str, expected: time | None) -> None:
    assert plan_time(text) == expected


@pytest.mark.parametrize(
    ("at", "plan", "sent", "expected"),
    [
        ("08:59", "09:00", None, False),
        ("09:00", "09:00", None, True),
        ("11:59", "09:00", "2025-12-23", True),
        ("09:30", "09:00", "2025-12-24", False),  # already out today
        ("12:01", "09:00", None, False),  # more than three hours late: tomorrow
        ("09:30", "off", None, False),
    ],
)
def test_plan_due(at: str, plan: str, sent: str | None, expected: bool) -> None:
    now = datetime.combine(TODAY, time.fromisoformat(at), tzinfo=MOSCOW)
    assert due(shop(plan, sent), now) is expected
