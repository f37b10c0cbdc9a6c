"""People and access end to end: strangers, invites, roles given and taken, and what a
message in a group says about whom a command names.

Each test drives the real Application in-process against the fake Telegram and fake Market.
The fake Telegram allows 20 bot messages a minute per group, so each test keeps its group
traffic under that.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from storage import invites
from storage.db import open_database
from tests.conftest import (
    API_KEY,
    CAMPAIGN,
    COURIER,
    GROUP,
    MANAGER,
    OTHER_CAMPAIGN,
    OWNER,
    STRANGER,
    RunningBot,
    seed_shop,
)
from tests.fakes.telegram import TELEGRAM_SERVICE_USER_ID
from tests.test_e2e_shops import (
    INVITE_LINK,
    NEWCOMER,
    SHOP,
    assert_no_secret_in,
    bind_by_command,
    bot_sent,
    in_group,
    private,
    query,
    storage_bytes,
    text_of,
    wait_audit,
)

OTHER_SHOP = f"books.example ({OTHER_CAMPAIGN})"
GRANT_USAGE = "Usage: reply to a message of the person with /grant <courier|manager>"
REVOKE_USAGE = "Usage: /revoke <userId>, or reply to the person's message with /revoke"
NOT_A_PERSON = "That message was not written by a person I can give a role to."
NO_LONGER_VALID = "This invite is no longer valid"
LAST_OWNER = "The last owner can't be removed. Add another owner first, or /disconnect."


def roles(bot: RunningBot) -> list[tuple[int, str]]:
    return query(bot.settings, "SELECT user_id, role FROM members ORDER BY user_id")


ORIGINAL_ROLES = [(OWNER, "owner"), (COURIER, "courier"), (MANAGER, "manager")]


def unused_invites_of(bot: RunningBot, user_id: int) -> int:
    ((count,),) = query(
        bot.settings,
        "SELECT COUNT(*) FROM invites WHERE created_by = ? AND used_by IS NULL",
        user_id,
    )
    return int(count)


def sent_to(bot: RunningBot, chat_id: int, since: int) -> list[str]:
    return [
        text_of(c)
        for c in bot.telegram.calls[since:]
        if c.method == "sendMessage" and c.chat_id == chat_id
    ]


async def invite_link(bot: RunningBot, user_id: int, role: str = "courier") -> str:
    link = INVITE_LINK.search(text_of(await private(bot, user_id, f"/invite {role}")))
    assert link is not None
    return link.group(1)


# --------------------------------------------------------------------------------------------
# Strangers


async def test_stranger_in_bound_group_is_refused_once_a_minute(bot: RunningBot) -> None:
    await bind_by_command(bot)

    mark = bot.mark()
    first = bot.telegram.send_group(GROUP, STRANGER, "/track 102 RR1 51", first_name="Eve")
    refusal = await bot.reply(GROUP, mark)
    assert text_of(refusal) == (
        f"Eve, you have no access to this shop. Ask its owner; your id: {STRANGER}"
    )
    assert refusal.params["reply_parameters"]["message_id"] == first

    mark = bot.mark()
    bot.telegram.send_group(GROUP, STRANGER, "/track 102 RR1 51", first_name="Eve")
    await wait_audit(bot.settings, 2, user_id=STRANGER)
    assert bot.telegram.sent_texts(GROUP)[-1] == text_of(refusal)
    assert [c for c in bot.telegram.calls[mark:] if c.method == "sendMessage"] == []
    outcomes = query(bot.settings, "SELECT outcome FROM audit WHERE user_id = ?", STRANGER)
    assert outcomes == [("denied:not_member",), ("denied:not_member",)]

    # The limit is per person: another stranger is still told why.
    other = text_of(await in_group(bot, NEWCOMER, "/track 102 RR1 51"))
    assert str(NEWCOMER) in other
    assert bot.market.requests_for("setOrderDeliveryTrackCode") == []
    assert bot.market.order(CAMPAIGN, 102).track_codes == []


async def test_stranger_in_private_is_told_their_id_and_to_ask_for_an_invite(
    bot: RunningBot,
) -> None:
    answer = text_of(await private(bot, STRANGER, "/track 101 RR1 51"))
    assert str(STRANGER) in answer
    assert "Ask the shop's owner for an invite" in answer
    answer_ru = text_of(await private(bot, STRANGER, "/members", language_code="ru"))
    assert str(STRANGER) in answer_ru and "приглашение" in answer_ru
    assert bot.market.records == []


# --------------------------------------------------------------------------------------------
# Roles and invites


async def test_anonymous_admin_in_bound_group_is_told_why(bot: RunningBot) -> None:
    await bind_by_command(bot)
    answer = text_of(await in_group(bot, None, "/track 101 RR1 51"))
    assert "You are writing as the group (anonymous admin)" in answer
    assert "Remain anonymous" in answer
    # Refusals in a group are said once a minute per sender: the second one stays quiet.
    mark = bot.mark()
    bot.telegram.send_group(GROUP, None, "/members")
    await asyncio.sleep(0.5)
    assert [c for c in bot.telegram.calls[mark:] if c.method == "sendMessage"] == []
    assert bot.market.requests_for("setOrderDeliveryTrackCode") == []


async def test_invites_expired_used_and_unknown(bot: RunningBot) -> None:
    db = open_database(bot.settings.bot_db_path)
    try:
        old, _ = invites.create_invite(
            db, CAMPAIGN, "courier", OWNER, datetime.now(UTC) - timedelta(days=2)
        )
    finally:
        db.close()
    answer = text_of(await private(bot, STRANGER, f"/start {old}"))
    assert answer == "This invite has expired (invites are valid for 24 hours). Ask for a new one."

    link = INVITE_LINK.search(text_of(await private(bot, OWNER, "/invite courier")))
    assert link is not None
    answer = text_of(await private(bot, STRANGER, f"/start {link.group(1)}"))
    assert answer.startswith(f"Welcome! You are now a courier of {SHOP}.")
    for user in (NEWCOMER, STRANGER):
        answer = text_of(await private(bot, user, f"/start {link.group(1)}"))
        assert answer == "This invite has already been used. Ask for a new one."
    answer = text_of(await private(bot, NEWCOMER, "/start not-a-real-code-at-all"))
    assert answer == "This invite code is not valid. Ask for a new invite."

    roles = query(bot.settings, "SELECT user_id, role FROM members ORDER BY user_id")
    assert (STRANGER, "courier") in roles and NEWCOMER not in [uid for uid, _ in roles]
    assert old not in bot_sent(bot.telegram)


async def test_members_and_who_may_give_or_take_roles(bot: RunningBot) -> None:
    answer = text_of(await private(bot, OWNER, "/members"))
    assert answer.splitlines() == [
        f"People of {SHOP}:",
        f"owner: {OWNER} (you)",
        f"manager: {MANAGER}",
        f"courier: {COURIER}",
    ]

    answer = text_of(await private(bot, MANAGER, "/invite manager"))
    assert answer == (
        f"Your role in this shop does not allow /invite. Ask the shop's owner. Your id: {MANAGER}"
    )
    assert INVITE_LINK.search(text_of(await private(bot, MANAGER, "/invite courier")))
    answer = text_of(await private(bot, COURIER, "/invite courier"))
    assert "does not allow /invite" in answer and str(COURIER) in answer

    answer = text_of(await private(bot, MANAGER, f"/revoke {OWNER}"))
    assert "does not allow /revoke" in answer
    answer = text_of(await private(bot, OWNER, f"/revoke {OWNER}"))
    assert answer == "The last owner can't be removed. Add another owner first, or /disconnect."
    answer = text_of(await private(bot, OWNER, f"/revoke {STRANGER}"))
    assert answer == "That person has no role in this shop."
    roles = query(bot.settings, "SELECT user_id, role FROM members ORDER BY user_id")
    assert roles == [(OWNER, "owner"), (COURIER, "courier"), (MANAGER, "manager")]


async def test_a_crowd_of_strangers_does_not_delay_a_courier(bot: RunningBot) -> None:
    # 400 /start from 300 strangers, some of them several times, and one 4 KB message.
    bot.telegram.send_private(STRANGER, "/help " + "word " * 800)
    for number in range(400):
        bot.telegram.send_private(700_000 + number % 300, "/start")
    mark = bot.mark()
    started = time.monotonic()
    bot.telegram.send_private(COURIER, "/track 101 RR456 51")
    result = await bot.final(COURIER, mark, timeout=30)
    elapsed = time.monotonic() - started
    assert text_of(result).startswith("✅"), text_of(result)
    assert elapsed < 3.0, f"the courier waited {elapsed:.1f} s behind the strangers"
    assert bot.market.order(CAMPAIGN, 101).track_codes == [("RR456", 51)]

    await wait_audit(bot.settings, 1, user_id=COURIER)
    await asyncio.sleep(0.3)
    ((stranger_rows,),) = query(
        bot.settings, "SELECT COUNT(*) FROM audit WHERE user_id != ?", COURIER
    )
    assert 0 < stranger_rows <= 25
    ((longest,),) = query(bot.settings, "SELECT MAX(LENGTH(arguments)) FROM audit")
    assert longest <= 200
    answers_to_strangers = [
        c for c in bot.telegram.calls if c.method == "sendMessage" and c.chat_id != COURIER
    ]
    assert 0 < len(answers_to_strangers) <= 25
    # Members are never held back, even right after the crowd.
    answers = [text_of(await private(bot, OWNER, "/members")) for _ in range(6)]
    assert all(answer.startswith(f"People of {SHOP}:") for answer in answers)


# --------------------------------------------------------------------------------------------
# Whom a command in a group names


async def test_in_a_forum_topic_grant_and_revoke_name_nobody_by_default(bot: RunningBot) -> None:
    await bind_by_command(bot)
    topic = bot.telegram.create_topic(GROUP, COURIER, "Deliveries")

    # Telegram marks these as replies to the topic's first message, which the courier wrote.
    answer = await in_group(bot, OWNER, "/grant manager", thread_id=topic)
    assert text_of(answer).startswith(GRANT_USAGE)
    assert int(answer.params["message_thread_id"]) == topic
    assert text_of(await in_group(bot, OWNER, "/revoke", thread_id=topic)).startswith(REVOKE_USAGE)
    explicit = text_of(
        await in_group(bot, OWNER, "/grant manager", thread_id=topic, reply_to=topic)
    )
    assert explicit.startswith(GRANT_USAGE)
    assert roles(bot) == ORIGINAL_ROLES

    # A real reply inside the topic does name its author.
    hello = bot.telegram.send_group(GROUP, NEWCOMER, "hello", thread_id=topic, first_name="Ann")
    answer = await in_group(bot, OWNER, "/grant courier", thread_id=topic, reply_to=hello)
    assert text_of(answer) == f"Ann (id {NEWCOMER}) is now a courier of {SHOP}."
    assert (NEWCOMER, "courier") in roles(bot)


async def test_replies_to_channels_forwards_and_bots_name_nobody(bot: RunningBot) -> None:
    await bind_by_command(bot)
    bot_message = bot.telegram.sent_texts(GROUP) and max(bot.telegram.messages(GROUP))
    assert bot_message
    automatic = bot.telegram.send_group(GROUP, None, "Channel post", is_automatic_forward=True)
    channel = bot.telegram.send_group(GROUP, None, "Post", sender_chat_id=-1001000000888)
    anonymous = bot.telegram.send_group(GROUP, None, "Admin note")
    for replied in (automatic, channel, anonymous, bot_message):
        answer = text_of(await in_group(bot, OWNER, "/grant courier", reply_to=replied))
        assert answer == NOT_A_PERSON, replied
    answer = text_of(await in_group(bot, OWNER, "/revoke", reply_to=automatic))
    assert answer.startswith("That message was not written by a person with a role here.")
    assert roles(bot) == ORIGINAL_ROLES
    assert TELEGRAM_SERVICE_USER_ID not in [user for user, _ in roles(bot)]


async def test_forwarded_commands_are_not_commands(bot: RunningBot) -> None:
    await bind_by_command(bot)
    mark = bot.mark()
    bot.telegram.send_private(OWNER, "/invite courier", forward_from_user_id=STRANGER)
    bot.telegram.send_group(GROUP, OWNER, "/unbind", forwarded_from_user_id=MANAGER)
    bot.telegram.send_group(GROUP, OWNER, "/grant manager", forwarded_from_user_id=MANAGER)
    # A command typed afterwards is answered, so the forwards above were seen and passed over.
    answer = text_of(await private(bot, OWNER, "/members"))
    assert answer.startswith(f"People of {SHOP}:")
    await asyncio.sleep(0.3)
    assert sent_to(bot, GROUP, mark) == []
    assert sent_to(bot, OWNER, mark) == [answer]
    assert query(bot.settings, "SELECT COUNT(*) FROM invites") == [(0,)]
    assert query(bot.settings, "SELECT campaign_id FROM chat_bindings") == [(CAMPAIGN,)]
    assert roles(bot) == ORIGINAL_ROLES


# --------------------------------------------------------------------------------------------
# Losing a role


async def test_invites_die_with_their_creators_role(bot: RunningBot) -> None:
    links = [await invite_link(bot, MANAGER) for _ in range(3)]
    assert unused_invites_of(bot, MANAGER) == 3
    mark = bot.mark()
    bot.telegram.send_private(OWNER, f"/revoke {MANAGER}")
    assert text_of(await bot.reply(OWNER, mark)).startswith(f"User {MANAGER} no longer")
    assert text_of(await bot.reply(MANAGER, mark)).startswith("Your access to")
    assert unused_invites_of(bot, MANAGER) == 0

    mark = bot.mark()
    answer = text_of(await private(bot, STRANGER, f"/start {links[0]}"))
    assert answer == "This invite code is not valid. Ask for a new invite."
    answer = text_of(await private(bot, STRANGER, "/track 101 RR1 51"))
    assert "You don't have access to a shop here" in answer
    await asyncio.sleep(0.3)
    assert sent_to(bot, MANAGER, mark) == []
    assert STRANGER not in [user for user, _ in roles(bot)]
    assert bot.market.requests_for("setOrderDeliveryTrackCode") == []


async def test_an_invite_is_checked_against_its_creators_role_now(bot: RunningBot) -> None:
    # Invites made before their creators lost the right to give these roles.
    db = open_database(bot.settings.bot_db_path)
    try:
        now = datetime.now(UTC)
        by_courier, _ = invites.create_invite(db, CAMPAIGN, "courier", COURIER, now)
        by_manager, _ = invites.create_invite(db, CAMPAIGN, "manager", MANAGER, now)
        by_owner, _ = invites.create_invite(db, CAMPAIGN, "courier", OWNER, now)
    finally:
        db.close()
    mark = bot.mark()
    for code in (by_courier, by_manager):
        answer = text_of(await private(bot, STRANGER, f"/start {code}"))
        assert answer.startswith(NO_LONGER_VALID), answer
    ru = text_of(await private(bot, NEWCOMER, f"/start {by_courier}", language_code="ru"))
    assert ru.startswith("Это приглашение больше не действует")
    await asyncio.sleep(0.3)
    assert sent_to(bot, COURIER, mark) == [] and sent_to(bot, MANAGER, mark) == []
    assert roles(bot) == ORIGINAL_ROLES

    answer = text_of(await private(bot, STRANGER, f"/start {by_owner}"))
    assert answer.startswith(f"Welcome! You are now a courier of {SHOP}.")


async def test_the_last_owner_cannot_demote_themself(bot: RunningBot) -> None:
    await bind_by_command(bot)
    own = bot.telegram.send_group(GROUP, OWNER, "I'll do deliveries myself")
    assert text_of(await in_group(bot, OWNER, "/grant courier", reply_to=own)) == LAST_OWNER
    assert roles(bot) == ORIGINAL_ROLES

    # Demoting a manager is the owner's right, and the manager's links die with the role.
    link = await invite_link(bot, MANAGER)
    said = bot.telegram.send_group(GROUP, MANAGER, "ok", first_name="Max")
    answer = text_of(await in_group(bot, OWNER, "/grant courier", reply_to=said))
    assert answer == f"Max (id {MANAGER}) is now a courier of {SHOP}."
    assert (MANAGER, "courier") in roles(bot)
    assert unused_invites_of(bot, MANAGER) == 0
    answer = text_of(await private(bot, STRANGER, f"/start {link}"))
    assert answer == "This invite code is not valid. Ask for a new invite."

    # With a second owner, an owner may step down.
    seed_shop(bot.settings, (NEWCOMER, "owner"))
    own = bot.telegram.send_group(GROUP, OWNER, "handing over")
    answer = text_of(await in_group(bot, OWNER, "/grant manager", reply_to=own))
    assert answer.endswith(f"(id {OWNER}) is now a manager of {SHOP}.")
    assert (OWNER, "manager") in roles(bot)


# --------------------------------------------------------------------------------------------
# Buttons and held commands


async def test_a_reason_button_after_the_group_is_rebound_has_expired(bot: RunningBot) -> None:
    await bind_by_command(bot)
    seed_shop(bot.settings, (OWNER, "owner"), (COURIER, "courier"), campaign_id=OTHER_CAMPAIGN)
    question = await in_group(bot, COURIER, "/move 101 tomorrow")
    buttons = question.params["reply_markup"]["inline_keyboard"][0]
    assert len(buttons) == 2
    answer = text_of(await in_group(bot, OWNER, f"/bind {OTHER_CAMPAIGN}"))
    assert answer.startswith(f"This group now acts on {OTHER_SHOP}")

    mark = bot.mark()
    message_id = int(question.result["message_id"])
    bot.telegram.press_button(COURIER, GROUP, message_id, buttons[0]["callback_data"])
    answer = text_of(await bot.reply(GROUP, mark))
    assert answer == "This button has expired. Send the command again."
    await asyncio.sleep(0.3)
    assert bot.market.requests_for("setOrderDeliveryDate") == []
    assert query(
        bot.settings, "SELECT outcome FROM audit WHERE user_id = ? ORDER BY id DESC", COURIER
    )[0] == ("refused:button_expired",)


async def test_a_command_with_a_key_is_never_held_for_a_button(bot: RunningBot) -> None:
    seed_shop(bot.settings, (COURIER, "courier"), campaign_id=OTHER_CAMPAIGN)
    answer = text_of(await private(bot, COURIER, f"/track 201 {API_KEY} 51"))
    assert "looks like an API key" in answer and "without the key" in answer
    assert "reply_markup" not in bot.telegram.calls[-1].params
    assert query(bot.settings, "SELECT COUNT(*) FROM pending") == [(0,)]
    await wait_audit(bot.settings, 1, user_id=COURIER)
    assert_no_secret_in(storage_bytes(bot.settings), "the database")
    assert_no_secret_in(bot_sent(bot.telegram), "a bot message")
    assert bot.market.records == []


# --------------------------------------------------------------------------------------------
# Names


async def test_names_are_shown_without_invisible_characters_and_cut(bot: RunningBot) -> None:
    await bind_by_command(bot)
    first, last = "\u202eKolya\u200b\u2066", "Z" * 100
    shown = "Kolya " + "Z" * 33 + "…"
    said = bot.telegram.send_group(GROUP, NEWCOMER, "hi", first_name=first, last_name=last)
    answer = text_of(await in_group(bot, OWNER, "/grant courier", reply_to=said))
    assert answer == f"{shown} (id {NEWCOMER}) is now a courier of {SHOP}."

    answer = text_of(
        await in_group(bot, STRANGER, "/track 101 RR1 51", first_name=first, last_name=last)
    )
    assert answer.startswith(f"{shown}, you have no access to this shop.")

    link = await invite_link(bot, OWNER)
    mark = bot.mark()
    bot.telegram.send_private(STRANGER, f"/start {link}", first_name=first, last_name=last)
    told_owner = text_of(await bot.reply(OWNER, mark))
    assert (
        told_owner
        == f"{shown} (id {STRANGER}) accepted your invite and is now a courier of {SHOP}."
    )
    for text in bot.telegram.sent_texts(GROUP) + bot.telegram.sent_texts(OWNER):
        assert not set(text) & {"\u202e", "\u200b", "\u2066"}
