"""What a person is told about the commands they may use: /help by role (read from the access
rules), /help all, the short version in groups, and the group refusal that names the role."""

from __future__ import annotations

import asyncio
import re

import pytest

from handlers.access import CommandRule
from handlers.help import commands_for, help_text, least_role
from handlers.registry import COMMANDS
from handlers.texts import LANGS
from tests.conftest import COURIER, GROUP, MANAGER, OWNER, STRANGER, RunningBot
from tests.test_e2e_shops import bind_by_command, in_group, private, text_of

COURIERS = {"track", "move", "help", "language", "start", "use"}
OWNERS_ONLY = {"connect", "grant", "bind", "unbind", "disconnect"}
MANAGERS = {"invite", "revoke", "members", "log"}
GROUP_ONLY = {"grant", "bind", "unbind"}


def listed(text: str) -> set[str]:
    """The commands a help text lists: the /name at the start of its lines."""
    return set(re.findall(r"^/([a-z]+)", text, re.MULTILINE))


def test_the_least_role_comes_from_the_rule() -> None:
    by_name = {spec.name: spec for spec in COMMANDS}
    assert least_role(by_name["help"].rule) is None
    assert least_role(by_name["track"].rule) == "courier"
    assert least_role(by_name["members"].rule) == "manager"
    # On no campaign but not public: connecting a shop makes its sender the owner.
    assert least_role(by_name["connect"].rule) == "owner"
    assert least_role(CommandRule.public()) is None


@pytest.mark.parametrize("lang", LANGS)
def test_each_role_sees_what_it_may_do(lang: str) -> None:
    courier = {spec.name for spec in commands_for(COMMANDS, "courier", group=False)}
    manager = {spec.name for spec in commands_for(COMMANDS, "manager", group=False)}
    owner = {spec.name for spec in commands_for(COMMANDS, "owner", group=False)}
    assert courier >= COURIERS and not (OWNERS_ONLY | MANAGERS) & courier
    assert manager >= COURIERS | MANAGERS and not OWNERS_ONLY & manager
    assert owner == {spec.name for spec in COMMANDS}
    text = help_text(lang, COMMANDS, role="courier")  # type: ignore[arg-type]
    assert listed(text) == courier
    assert text.splitlines()[-1].endswith("/help all")
    # One line a command: a title, the commands, a word on several orders, /help all.
    assert len(text.splitlines()) == len(courier) + 4
    assert "/help all" not in help_text(lang, COMMANDS, role="owner")  # type: ignore[arg-type]


def test_help_all_lists_every_command_with_its_example() -> None:
    text = help_text("en", COMMANDS)
    assert listed(text) == {spec.name for spec in COMMANDS}
    assert all(spec.example in text for spec in COMMANDS)


def test_the_group_version_is_short() -> None:
    courier = help_text("en", COMMANDS, role="courier", group=True)
    owner = help_text("ru", COMMANDS, role="owner", group=True)
    assert {"track", "move", "help"} <= listed(courier)
    assert not {"use", "language", "start", "members"} & listed(courier)
    assert listed(owner) >= GROUP_ONLY
    assert not {"connect", "use", "language", "disconnect"} & listed(owner)
    assert "/track 123456789 RR456 51 — " in courier
    assert len(courier.splitlines()) == len(listed(courier)) + 2
    assert len(owner) < len(help_text("ru", COMMANDS))


# --- end to end --------------------------------------------------------------------------------


async def test_a_courier_sees_only_their_commands(bot: RunningBot) -> None:
    answer = text_of(await private(bot, COURIER, "/help"))
    assert listed(answer) >= COURIERS
    assert not (OWNERS_ONLY | MANAGERS) & listed(answer)
    assert answer.splitlines()[-1] == "All commands, for every role: /help all"
    assert (
        len(answer.splitlines())
        < len(text_of(await private(bot, COURIER, "/help all")).splitlines()) / 2
    )
    # Someone with no role sees the same: what they will do once invited.
    assert listed(text_of(await private(bot, STRANGER, "/help"))) == listed(answer)


async def test_help_all_shows_everything(bot: RunningBot) -> None:
    answer = text_of(await private(bot, COURIER, "/help all"))
    assert listed(answer) == {spec.name for spec in COMMANDS}
    russian = text_of(await private(bot, COURIER, "/help все", language_code="ru"))
    assert listed(russian) == {spec.name for spec in COMMANDS}
    assert "Несколько заказов сразу" in russian


async def test_managers_and_owners_see_theirs(bot: RunningBot) -> None:
    manager = listed(text_of(await private(bot, MANAGER, "/help")))
    assert manager >= COURIERS | MANAGERS and not OWNERS_ONLY & manager
    owner = text_of(await private(bot, OWNER, "/help"))
    assert listed(owner) == {spec.name for spec in COMMANDS}
    assert "/help all" not in owner


async def test_in_a_group_the_short_version_for_the_role_there(bot: RunningBot) -> None:
    await bind_by_command(bot)
    courier = text_of(await in_group(bot, COURIER, "/help"))
    assert {"track", "move", "help"} <= listed(courier)
    assert not ({"use", "language", "start"} | OWNERS_ONLY | MANAGERS) & listed(courier)
    assert "Several orders at once" not in courier
    owner = text_of(await in_group(bot, OWNER, "/help@DbsTestBot"))
    assert listed(owner) >= GROUP_ONLY and "connect" not in listed(owner)


async def test_a_role_too_low_in_a_group_is_named(bot: RunningBot) -> None:
    await bind_by_command(bot)
    refusal = text_of(await in_group(bot, COURIER, "/unbind", first_name="Kolya"))
    assert refusal == "Kolya, your role (courier) does not allow /unbind; ask an owner."
    refusal = text_of(await in_group(bot, MANAGER, "/bind", first_name="Masha", language_code="ru"))
    assert refusal == "Masha, ваша роль (менеджер) не позволяет /bind; обратитесь к владельцу."
    # Once a minute per person, as before; someone with no role is told they have no access.
    mark = bot.mark()
    bot.telegram.send_group(GROUP, COURIER, "/unbind")
    stranger = text_of(await in_group(bot, STRANGER, "/unbind", first_name="Eve"))
    assert stranger.startswith("Eve, you have no access to this shop.")
    await asyncio.sleep(0.3)
    to_group = [c for c in bot.telegram.calls[mark:] if c.method == "sendMessage"]
    assert [text_of(c) for c in to_group if c.chat_id == GROUP] == [stranger]
