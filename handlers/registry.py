"""The one list of commands: it installs the handlers and produces /help and the menus.

A new command is one ``CommandSpec`` here (plus its texts ``cmd.<name>`` in both languages);
tests check that README and /help mention every registered command.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from handlers import buttons, orders, shops, start
from handlers.guard import Handler, command_callback
from handlers.texts import Lang, t


@dataclass(frozen=True)
class CommandSpec:
    name: str
    handler: Handler
    example: str
    private_menu: bool = True
    group_menu: bool = False


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("track", orders.track, "/track 123456789 RR456 51", group_menu=True),
    CommandSpec("move", orders.move, "/move 123456789 25.12 buyer", group_menu=True),
    CommandSpec("help", start.help_command, "/help", group_menu=True),
    CommandSpec("start", start.start, "/start", private_menu=False),
    CommandSpec("connect", shops.connect, "/connect 21000000 ACMA:xxxx:yyyy"),
    CommandSpec("invite", shops.invite, "/invite courier"),
    CommandSpec("grant", shops.grant, "/grant courier", private_menu=False, group_menu=True),
    CommandSpec("revoke", shops.revoke, "/revoke 123456789", group_menu=True),
    CommandSpec("members", shops.members_command, "/members", group_menu=True),
    CommandSpec("bind", shops.bind, "/bind 21000000", private_menu=False, group_menu=True),
    CommandSpec("unbind", shops.unbind, "/unbind", private_menu=False, group_menu=True),
    CommandSpec("use", shops.use, "/use 21000000"),
    CommandSpec("disconnect", shops.disconnect, "/disconnect 21000000"),
    CommandSpec("log", shops.log_command, "/log 20", group_menu=True),
    CommandSpec("language", start.language, "/language en"),
)
BY_NAME = {spec.name: spec for spec in COMMANDS}


def help_text(lang: Lang) -> str:
    lines = [t(lang, "help.title")]
    for spec in COMMANDS:
        lines.append(f"/{spec.name} — {t(lang, f'cmd.{spec.name}')}")
        if spec.example != f"/{spec.name}":
            lines.append("   " + t(lang, "help.example", example=spec.example))
    lines.append("")
    lines.append(t(lang, "help.footer"))
    return "\n".join(lines)


def menu(lang: Lang, *, group: bool) -> list[BotCommand]:
    return [
        BotCommand(spec.name, t(lang, f"cmd.{spec.name}"))
        for spec in COMMANDS
        if (spec.group_menu if group else spec.private_menu)
    ]


async def publish_menus(application: Application) -> None:  # type: ignore[type-arg]
    """Set the Telegram command menus: private chats and groups, English and Russian."""
    bot = application.bot
    for group, scope in (
        (False, BotCommandScopeAllPrivateChats()),
        (True, BotCommandScopeAllGroupChats()),
    ):
        await bot.set_my_commands(menu("en", group=group), scope=scope)
        await bot.set_my_commands(menu("ru", group=group), scope=scope, language_code="ru")


def install(application: Application) -> None:  # type: ignore[type-arg]
    """Register every command and the button handler on the Application."""
    for spec in COMMANDS:
        # Edited messages are not commands again: only new messages are handled.
        application.add_handler(
            CommandHandler(
                spec.name,
                command_callback(spec.name, spec.handler),
                filters=filters.UpdateType.MESSAGE,
            )
        )
    application.add_handler(CallbackQueryHandler(buttons.on_button))
