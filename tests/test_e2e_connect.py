"""/connect end to end, through the real bot and both fakes: which keys are taken, who may take
over a shop that already has owners (only with an owner's press), how often anyone may try, and
what people are told when Market refuses, cannot be reached or answers oddly."""

from __future__ import annotations

import re
import socket
import stat
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from storage import approvals
from storage.db import open_database
from storage.secrets import KeyBox
from tests.conftest import (
    API_KEY,
    CAMPAIGN,
    COURIER,
    MANAGER,
    OTHER_CAMPAIGN,
    OTHER_KEY,
    OWNER,
    STRANGER,
    RunningBot,
    running_bot,
    seed_shop,
)
from tests.fakes.market import FakeMarket
from tests.fakes.telegram import Call, FakeTelegram
from tests.openapi import validate_request
from tests.test_e2e_shops import (
    NEWCOMER,
    SHOP,
    assert_no_secret_in,
    bot_sent,
    private,
    query,
    storage_bytes,
    text_of,
    wait_audit,
)

# Another valid key of the shop's business (700), as a second person might hold.
SECOND_KEY = "ACMA:second-key-33333333333333:dddddddd"
READ_ONLY_KEY = "ACMA:read-only-key-4444444444:eeeeeeee"
ASKS = f"Eve (id {STRANGER}) wants to connect {SHOP} with their own API key"


@pytest.fixture
async def fresh_bot(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> AsyncIterator[RunningBot]:
    """A bot with an empty database: nothing connected, nobody known."""
    async with running_bot(settings, fake_telegram, fake_market) as running:
        yield running


def settings_without_secret_key(settings: Settings) -> Settings:
    return settings.model_copy(update={"bot_secret_key": None})


def file_modes(files: dict[str, Path]) -> dict[str, int | None]:
    """Permission bits of each file (None: missing)."""
    return {
        name: stat.S_IMODE(path.stat().st_mode) if path.exists() else None
        for name, path in files.items()
    }


def stored_key(settings: Settings, campaign_id: int = CAMPAIGN) -> str:
    ((cipher,),) = query(settings, "SELECT api_key_cipher FROM campaigns WHERE id = ?", campaign_id)
    secret = settings.bot_secret_key.get_secret_value() if settings.bot_secret_key else None
    return KeyBox.load(secret, settings.bot_db_path).decrypt(bytes(cipher))


def roles(settings: Settings) -> list[tuple[int, str]]:
    return query(
        settings, "SELECT user_id, role FROM members WHERE campaign_id = ? ORDER BY 1", CAMPAIGN
    )


def buttons_of(call: Call) -> dict[str, str]:
    keyboard = call.params["reply_markup"]["inline_keyboard"]
    return {button["text"]: button["callback_data"] for row in keyboard for button in row}


async def press(bot: RunningBot, user_id: int, message_id: int, data: str) -> str:
    """``user_id`` presses a button with ``data`` under the bot's message in their private
    chat; returns the short answer Telegram shows them."""
    query_id = bot.telegram.press_button(user_id, user_id, message_id, data)
    call = await bot.telegram.await_call(
        lambda c: (
            c.method == "answerCallbackQuery" and str(c.params.get("callback_query_id")) == query_id
        ),
        5,
    )
    return str(call.params.get("text", ""))


async def ask_to_connect(bot: RunningBot) -> tuple[str, Call]:
    """Eve (STRANGER) connects the shop with the second key; (her answer, the owner's request)."""
    mark = bot.mark()
    message_id = bot.telegram.send_private(
        STRANGER, f"/connect {CAMPAIGN} {SECOND_KEY}", first_name="Eve"
    )
    asked = await bot.reply(OWNER, mark)
    answer = text_of(await bot.reply(STRANGER, mark))
    assert (STRANGER, message_id) in bot.telegram.deleted
    return answer, asked


def assert_market_requests_valid(market: FakeMarket) -> None:
    for record in market.records:
        validate_request(record.method, record.path, record.body)


# --------------------------------------------------------------------------------------------
# Keys Market does not accept (moved from test_e2e_shops.py)


async def test_connected_key_is_stored_encrypted_in_private_files(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    keyless = settings_without_secret_key(settings)
    db_path = Path(keyless.bot_db_path)
    files = {"db": db_path, "wal": Path(f"{db_path}-wal"), "key": Path(f"{db_path}.key")}
    async with running_bot(keyless, fake_telegram, fake_market) as bot:
        answer = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {API_KEY}"))
        assert f"Connected: {SHOP}" in answer
        await wait_audit(keyless, 1)
        on_disk = storage_bytes(keyless)
        modes_while_running = file_modes(files)
    assert modes_while_running == {"db": 0o600, "wal": 0o600, "key": 0o600}
    assert_no_secret_in(on_disk, "the database")
    assert_no_secret_in(storage_bytes(keyless), "the database after shutdown")
    # The key is there, encrypted with the key file's key: the checks above saw real data.
    ((cipher,),) = query(keyless, "SELECT api_key_cipher FROM campaigns WHERE id = ?", CAMPAIGN)
    assert KeyBox.load(None, db_path).decrypt(bytes(cipher)) == API_KEY


async def test_connect_with_keys_market_refuses(fresh_bot: RunningBot) -> None:
    bot = fresh_bot
    wrong = "ACMA:wrong-key-222222222222222:cccccccc"
    mark = bot.mark()
    message_id = bot.telegram.send_private(OWNER, f"/connect {CAMPAIGN} {wrong}")
    answer = text_of(await bot.reply(OWNER, mark))
    assert (OWNER, message_id) in bot.telegram.deleted
    assert "Market does not accept this key: it is invalid" in answer
    assert "Market said: Api-Key token is invalid" in answer
    assert "The key was not saved." in answer
    assert wrong not in bot_sent(bot.telegram)
    assert query(bot.settings, "SELECT COUNT(*) FROM campaigns") == [(0,)]
    assert query(bot.settings, "SELECT COUNT(*) FROM members") == [(0,)]
    refusal = text_of(await private(bot, OWNER, "/members"))
    assert "You don't have access to a shop here" in refusal and str(OWNER) in refusal

    answer = text_of(await private(bot, OWNER, f"/connect {OTHER_CAMPAIGN} {API_KEY}"))
    assert f"This key does not give access to campaign {OTHER_CAMPAIGN}." in answer

    bot.market.disable_api(CAMPAIGN)
    answer = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {API_KEY}"))
    assert "Market has disabled the API for this campaign" in answer
    assert f"API for campaign '{CAMPAIGN}' disabled due to inactivity" in answer

    bot.market.revoke_key(API_KEY)
    answer = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {API_KEY}"))
    assert "This key has been revoked" in answer and "The key was not saved." in answer

    statuses = [r.status for r in bot.market.requests_for("getCampaign")]
    assert statuses == [401, 403, 403, 401]
    # A key getCampaign refuses is not checked any further (getAuthTokenInfo: 100 an hour).
    assert bot.market.requests_for("getAuthTokenInfo") == []
    assert query(bot.settings, "SELECT COUNT(*) FROM campaigns") == [(0,)]
    assert_no_secret_in(storage_bytes(bot.settings), "the database")


async def test_a_key_without_campaign_id_is_deleted_too(fresh_bot: RunningBot) -> None:
    bot = fresh_bot
    mark = bot.mark()
    message_id = bot.telegram.send_private(OWNER, f"/connect {API_KEY}")
    answer = text_of(await bot.reply(OWNER, mark))
    assert (OWNER, message_id) in bot.telegram.deleted
    assert "Usage: /connect <campaignId> <apiKey>" in answer
    assert bot.market.records == []
    await wait_audit(bot.settings, 1)
    assert query(bot.settings, "SELECT arguments FROM audit") == [("[key hidden]",)]


# --------------------------------------------------------------------------------------------
# 8. A shop with owners is not taken over with another key


async def test_another_key_of_the_business_only_asks_the_owners(bot: RunningBot) -> None:
    bot.market.add_campaign(CAMPAIGN, SECOND_KEY, domain="flowers.example", business_id=700)
    answer, asked = await ask_to_connect(bot)
    assert f"{SHOP} already has an owner. I asked its owners to approve" in answer
    assert text_of(asked).startswith(ASKS), text_of(asked)
    assert list(buttons_of(asked)) == ["Approve", "Decline"]
    assert all(re.fullmatch(r"ok:\d+:[ad]", data) for data in buttons_of(asked).values())
    # The key was checked, but nothing changed: the shop keeps the owner's key and people.
    assert [r.status for r in bot.market.requests_for("getCampaign")] == [200]
    assert [r.status for r in bot.market.requests_for("getAuthTokenInfo")] == [200]
    assert stored_key(bot.settings) == API_KEY
    assert roles(bot.settings) == [(OWNER, "owner"), (COURIER, "courier"), (MANAGER, "manager")]
    # Only the owner was asked, never the manager or the courier.
    assert bot.telegram.sent_texts(MANAGER) == [] and bot.telegram.sent_texts(COURIER) == []

    # Eve has no say in the shop meanwhile: she can't revoke the owner or send writes.
    refusal = text_of(await private(bot, STRANGER, f"/revoke {OWNER}"))
    assert "You don't have access to a shop here" in refusal
    refusal = text_of(await private(bot, STRANGER, "/track 101 RR1 51"))
    assert "You don't have access to a shop here" in refusal
    assert bot.market.requests_for("setOrderDeliveryTrackCode") == []
    assert (OWNER, "owner") in roles(bot.settings)
    assert_no_secret_in(storage_bytes(bot.settings), "the database")
    assert SECOND_KEY not in bot_sent(bot.telegram)
    assert_market_requests_valid(bot.market)


async def test_only_an_owner_can_approve_and_decline_changes_nothing(bot: RunningBot) -> None:
    bot.market.add_campaign(CAMPAIGN, SECOND_KEY, domain="flowers.example", business_id=700)
    _, asked = await ask_to_connect(bot)
    approve, decline = buttons_of(asked)["Approve"], buttons_of(asked)["Decline"]
    request_message = asked.result["message_id"]

    # The callback data is user input: a manager, or Eve herself, pressing it gets nowhere.
    for presser in (MANAGER, STRANGER):
        said = await press(bot, presser, request_message, approve)
        assert said == f"Only a current owner of {SHOP} can answer this request."
    assert stored_key(bot.settings) == API_KEY
    assert (STRANGER, "owner") not in roles(bot.settings)

    mark = bot.mark()
    assert await press(bot, OWNER, request_message, decline) == "Declined."
    told = text_of(await bot.reply(STRANGER, mark))
    assert told == (
        f"An owner of {SHOP} declined your connection. Nothing changed, and your key was not kept."
    )
    shown = bot.telegram.messages(OWNER)[request_message]
    assert shown.text.startswith(ASKS) and shown.reply_markup is None
    assert shown.text.endswith(
        f"You declined the request of Eve (id {STRANGER}). Nothing changed in {SHOP}."
    )
    assert stored_key(bot.settings) == API_KEY
    assert roles(bot.settings) == [(OWNER, "owner"), (COURIER, "courier"), (MANAGER, "manager")]

    # A second press says what happened, and changes nothing.
    assert await press(bot, OWNER, request_message, approve) == (
        f"This request was already declined (by {OWNER})."
    )
    assert stored_key(bot.settings) == API_KEY
    assert (STRANGER, "owner") not in roles(bot.settings)
    (cipher,) = query(bot.settings, "SELECT api_key_cipher FROM approvals")[0]
    assert cipher is None  # the declined key is not kept
    audit = query(
        bot.settings,
        "SELECT user_id, arguments, outcome FROM audit WHERE arguments "
        "LIKE 'approve%' OR arguments LIKE 'decline%' ORDER BY id",
    )
    assert audit == [
        (MANAGER, f"approve {STRANGER}", "refused:not_owner"),
        (STRANGER, f"approve {STRANGER}", "refused:not_owner"),
        (OWNER, f"decline {STRANGER}", "ok"),
        (OWNER, f"approve {STRANGER}", "refused:already"),
    ]


async def test_an_owners_approval_hands_over_the_key_and_tells_everyone(bot: RunningBot) -> None:
    seed_shop(bot.settings, (NEWCOMER, "owner"))  # a second owner, who is told too
    bot.market.add_campaign(CAMPAIGN, SECOND_KEY, domain="flowers.example", business_id=700)
    _, asked = await ask_to_connect(bot)
    second_owner_asked = await bot.reply(NEWCOMER, 0)
    assert text_of(second_owner_asked).startswith(ASKS)

    mark = bot.mark()
    assert await press(bot, OWNER, asked.result["message_id"], buttons_of(asked)["Approve"]) == (
        "Approved."
    )
    told = text_of(await bot.reply(STRANGER, mark))
    assert told == (
        f"An owner of {SHOP} approved your connection: you are now its owner, "
        "and the shop uses your key."
    )
    other = text_of(await bot.reply(NEWCOMER, mark))
    assert other == (
        f"User (id {OWNER}) approved Eve (id {STRANGER}) as an owner of {SHOP}; "
        "the shop now uses their key."
    )
    shown = bot.telegram.messages(OWNER)[asked.result["message_id"]]
    assert shown.reply_markup is None
    assert shown.text.endswith(
        f"You approved: Eve (id {STRANGER}) is now an owner of {SHOP}, and the shop uses their key."
    )
    assert stored_key(bot.settings) == SECOND_KEY
    assert roles(bot.settings) == [
        (OWNER, "owner"),
        (COURIER, "courier"),
        (MANAGER, "manager"),
        (STRANGER, "owner"),
        (NEWCOMER, "owner"),
    ]
    # The other owner's buttons now say it is done; the original owner kept access.
    their_request = second_owner_asked.result["message_id"]
    assert await press(bot, NEWCOMER, their_request, buttons_of(second_owner_asked)["Decline"]) == (
        f"This request was already approved (by {OWNER})."
    )
    members = text_of(await private(bot, OWNER, "/members"))
    assert f"owner: {OWNER} (you)" in members and f"owner: {STRANGER}" in members
    # Writes now go out with the new key, which Market accepts.
    mark = bot.mark()
    bot.telegram.send_private(COURIER, "/track 101 RR456 51")
    assert text_of(await bot.final(COURIER, mark)).startswith("✅")
    assert bot.market.order(CAMPAIGN, 101).track_codes == [("RR456", 51)]
    assert_market_requests_valid(bot.market)


async def test_expired_unknown_and_forged_requests_say_so(bot: RunningBot) -> None:
    db = open_database(bot.settings.bot_db_path)
    try:
        old = approvals.create_request(
            db,
            campaign_id=CAMPAIGN,
            requester_id=STRANGER,
            requester_name="Eve",
            language="en",
            api_key_cipher=b"not-a-real-cipher",
            now=datetime.now(UTC) - timedelta(hours=25),
        )
    finally:
        db.close()
    expired = "This request has expired or is no longer valid. Nothing changed."
    assert await press(bot, OWNER, 1, f"ok:{old.id}:a") == expired
    assert await press(bot, OWNER, 1, f"ok:{old.id + 1000}:a") == expired
    for forged in ("ok:abc:a", "ok:0:a", f"ok:{2**63}:a", "ok:1:x", f"ok:{old.id}:a:1"):
        assert (
            await press(bot, OWNER, 1, forged) == "This button has expired. Send the command again."
        )
    assert stored_key(bot.settings) == API_KEY
    assert (STRANGER, "owner") not in roles(bot.settings)


async def test_an_owner_reconnecting_tells_the_other_owners(bot: RunningBot) -> None:
    seed_shop(bot.settings, (NEWCOMER, "owner"))
    bot.market.add_campaign(CAMPAIGN, SECOND_KEY, domain="flowers.example", business_id=700)
    mark = bot.mark()
    bot.telegram.send_private(OWNER, f"/connect {CAMPAIGN} {SECOND_KEY}", first_name="Olga")
    answer = text_of(await bot.reply(OWNER, mark))
    told = text_of(await bot.reply(NEWCOMER, mark))
    assert f"Key updated for {SHOP}." in answer
    assert told == f"Olga (id {OWNER}) replaced the API key of {SHOP} with their own."
    assert stored_key(bot.settings) == SECOND_KEY
    await wait_audit(bot.settings, 1)
    assert bot.telegram.sent_texts(MANAGER) == [] and bot.telegram.sent_texts(COURIER) == []


# --------------------------------------------------------------------------------------------
# 9. Keys that may only read


async def test_a_read_only_key_is_refused_naming_the_permission(fresh_bot: RunningBot) -> None:
    bot = fresh_bot
    scopes = ("inventory-and-order-processing:read-only", "pricing")
    bot.market.add_campaign(
        CAMPAIGN, READ_ONLY_KEY, domain="flowers.example", business_id=700, scopes=scopes
    )
    answer = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {READ_ONLY_KEY}"))
    assert "This key can't process orders" in answer
    assert "Its access: view orders (read-only), prices." in answer
    assert "give the key the “Order processing” access (or full access)" in answer
    assert "The key was not saved." in answer
    ru = text_of(
        await private(bot, OWNER, f"/connect {CAMPAIGN} {READ_ONLY_KEY}", language_code="ru")
    )
    assert "доступ «Обработка заказов»" in ru and "просмотр информации о заказах" in ru
    assert query(bot.settings, "SELECT COUNT(*) FROM campaigns") == [(0,)]
    assert query(bot.settings, "SELECT COUNT(*) FROM members") == [(0,)]
    assert READ_ONLY_KEY.encode() not in storage_bytes(bot.settings)
    # One scope check per /connect.
    assert len(bot.market.requests_for("getAuthTokenInfo")) == 2

    bot.market.add_campaign(
        CAMPAIGN, READ_ONLY_KEY, domain="flowers.example", business_id=700, scopes=("all-methods",)
    )
    answer = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {READ_ONLY_KEY}"))
    assert f"Connected: {SHOP}. You are its owner." in answer
    assert stored_key(bot.settings) == READ_ONLY_KEY
    assert_market_requests_valid(bot.market)


async def test_an_owner_cannot_swap_in_a_read_only_key(bot: RunningBot) -> None:
    bot.market.add_campaign(
        CAMPAIGN,
        READ_ONLY_KEY,
        domain="flowers.example",
        business_id=700,
        scopes=("all-methods:read-only",),
    )
    answer = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {READ_ONLY_KEY}"))
    assert "Its access: view everything (read-only)." in answer
    assert stored_key(bot.settings) == API_KEY


# --------------------------------------------------------------------------------------------
# 19. Attempts


async def test_the_sixth_connect_in_ten_minutes_does_not_reach_market(bot: RunningBot) -> None:
    wrong = "ACMA:wrong-key-555555555555555:ffffffff"
    for _ in range(5):
        answer = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {wrong}"))
        assert "Market does not accept this key" in answer
    mark = bot.mark()
    message_id = bot.telegram.send_private(OWNER, f"/connect {CAMPAIGN} {API_KEY}")
    answer = text_of(await bot.reply(OWNER, mark))
    assert (OWNER, message_id) in bot.telegram.deleted
    assert re.search(
        r"Too many /connect attempts: at most 5 in 10 minutes\. Try again after \d\d:\d\d\.", answer
    ), answer
    assert len(bot.market.requests_for("getCampaign")) == 5
    await wait_audit(bot.settings, 6, user_id=OWNER)
    (outcome,) = query(bot.settings, "SELECT outcome FROM audit ORDER BY id DESC LIMIT 1")[0]
    assert outcome == "refused:too_many"

    # The limit is per person.
    answer = text_of(await private(bot, NEWCOMER, f"/connect {OTHER_CAMPAIGN} {OTHER_KEY}"))
    assert "Connected: books.example (21000002)" in answer
    assert len(bot.market.requests_for("getCampaign")) == 6


# --------------------------------------------------------------------------------------------
# 16, 21. Market unreachable, error pages and answers without details


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_market_is_not_called_busy(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    nowhere = settings.model_copy(
        update={"market_api_base_url": f"http://127.0.0.1:{closed_port()}"}
    )
    async with running_bot(nowhere, fake_telegram, fake_market) as bot:
        answer = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {API_KEY}"))
    assert "I can't reach Market right now (no connection)" in answer
    assert "not answering" not in answer and "busy" not in answer
    assert "The key was not saved." in answer


def market_answering(
    routes: dict[str, Callable[[], httpx.Response]], seen: list[str]
) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        for prefix, answer in routes.items():
            if request.url.path.startswith(prefix):
                return answer()
        return httpx.Response(404, json={"status": "ERROR", "errors": []})

    return httpx.MockTransport(handle)


PAGE = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


@pytest.mark.parametrize(
    ("answer", "expected", "audited"),
    [
        (
            lambda: httpx.Response(502, text=PAGE, headers={"Content-Type": "text/html"}),
            "Market is not answering right now.",
            "HTTP 502: an error page",
        ),
        (
            lambda: httpx.Response(200, text=PAGE, headers={"Content-Type": "text/html"}),
            "Market is not answering right now.",
            "HTTP 200: an answer that is not Market's",
        ),
        (
            lambda: httpx.Response(200, json={}),
            f"Market gave no details for campaign {CAMPAIGN}; check the campaign id",
            None,
        ),
    ],
    ids=["502-page", "200-page", "empty-campaign"],
)
async def test_odd_answers_to_the_key_check(
    settings: Settings,
    fake_telegram: FakeTelegram,
    fake_market: FakeMarket,
    answer: Callable[[], httpx.Response],
    expected: str,
    audited: str | None,
) -> None:
    seen: list[str] = []
    transport = market_answering({"/v2/campaigns/": answer}, seen)
    async with running_bot(settings, fake_telegram, fake_market, market_transport=transport) as bot:
        reply = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {API_KEY}"))
        await wait_audit(settings, 1)
    assert expected in reply and "The key was not saved." in reply
    sent = bot_sent(fake_telegram)
    assert "<html" not in sent and "Bad Gateway" not in sent and "nginx" not in sent
    assert seen == [f"GET /v2/campaigns/{CAMPAIGN}"]  # no scope check for a refused campaign
    assert query(settings, "SELECT market_error FROM audit") == [(audited,)]
    assert query(settings, "SELECT COUNT(*) FROM campaigns") == [(0,)]


async def test_an_empty_list_of_delivery_services_makes_a_name_unknown(
    settings: Settings, fake_telegram: FakeTelegram, fake_market: FakeMarket
) -> None:
    seed_shop(settings, (OWNER, "owner"))
    seen: list[str] = []
    routes = {"/v2/delivery/services": lambda: httpx.Response(200, json={})}
    transport = market_answering(routes, seen)
    async with running_bot(settings, fake_telegram, fake_market, market_transport=transport) as bot:
        answer = text_of(await private(bot, OWNER, "/track 101 RR456 cdek"))
    assert answer.startswith("No delivery service matches “cdek”."), answer
    assert seen == ["GET /v2/delivery/services"]


async def test_a_reconnect_is_one_campaign_read_and_one_scope_check(bot: RunningBot) -> None:
    answer = text_of(await private(bot, OWNER, f"/connect {CAMPAIGN} {API_KEY}"))
    assert f"Key updated for {SHOP}." in answer
    assert [(r.operation, r.status) for r in bot.market.records] == [
        ("getCampaign", 200),
        ("getAuthTokenInfo", 200),
    ]
    assert_market_requests_valid(bot.market)
