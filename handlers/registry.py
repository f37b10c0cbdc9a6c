"""The one list of commands: it installs the handlers and produces /help and the menus.

A command is one ``CommandSpec`` here (its texts ``cmd.<name>`` and usage live in
``handlers/texts``); a Market write also has its operation kind in ``bot.market.writes`` and its
line parser in ``handlers.lines``. Tests check that README and /help mention every command and
that every command has an access rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Update,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.market.writes import DeliverKind, MoveKind, ShipKind, TrackKind
from handlers import (
    approvals,
    captions,
    card_buttons,
    card_presses,
    connect,
    datepicker,
    edits,
    feed_commands,
    keyguard,
    lines,
    orders,
    people,
    photos,
    questions,
    services,
    shops,
    start,
    track_prompts,
)
from handlers.access import ANY_CHAT, GROUP, PRIVATE, Allowed, CampaignSource, CommandRule
from handlers.access import TargetCheck as Target
from handlers.context import Outcome, Request, person_language, request_from_update, services_of
from handlers.dispatch import run_command
from handlers.fallback import on_text as fallback_on_text
from handlers.help import help_command
from handlers.help import help_text as render_help
from handlers.spec import CommandSpec, LineSpec
from handlers.texts import Lang, t

ACTIVE, EXPLICIT, TO_BIND = CampaignSource.ACTIVE, CampaignSource.EXPLICIT, CampaignSource.TO_BIND
PUBLIC = CommandRule.public()


async def _write(request: Request, access: Allowed) -> Outcome:
    return await orders.work(request, access, WRITE_LINES)


async def _help(request: Request, access: Allowed) -> Outcome:
    return await help_command(request, COMMANDS)


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "track",
        _write,
        CommandRule(ANY_CHAT, ACTIVE, "courier"),
        "/track 123456789 RR456 51",
        line=LineSpec(TrackKind(), lines.parse_track, lines.track_prompt_order),
        group_menu=True,
    ),
    CommandSpec(
        "move",
        _write,
        CommandRule(ANY_CHAT, ACTIVE, "courier"),
        "/move 123456789 25.12 buyer",
        line=LineSpec(MoveKind(), lines.parse_move),
        group_menu=True,
    ),
    CommandSpec(
        "shipped",
        _write,
        CommandRule(ANY_CHAT, ACTIVE, "courier"),
        "/shipped 123456789",
        line=LineSpec(ShipKind(), lines.parse_shipped),
        group_menu=True,
    ),
    CommandSpec(
        "delivered",
        _write,
        CommandRule(ANY_CHAT, ACTIVE, "courier"),
        "/delivered 123456789",
        line=LineSpec(DeliverKind(), lines.parse_delivered),
        group_menu=True,
    ),
    CommandSpec("help", _help, PUBLIC, "/help", group_menu=True),
    CommandSpec("start", start.start, PUBLIC, "/start", private_menu=False),
    # The Market API key is the proof of authority, and keys are accepted in private only.
    CommandSpec(
        "connect",
        connect.connect,
        CommandRule(PRIVATE, CampaignSource.NONE, None),
        "/connect 21000000 ACMA:xxxx:yyyy",
    ),
    CommandSpec(
        "invite",
        people.invite,
        CommandRule(PRIVATE, ACTIVE, "manager", Target.GIVE),
        "/invite courier",
        facts=people.invite_facts,
    ),
    CommandSpec(
        "grant",
        people.grant,
        CommandRule(GROUP, ACTIVE, "owner", Target.GIVE),
        "/grant courier",
        facts=people.grant_facts,
        private_menu=False,
        group_menu=True,
    ),
    CommandSpec(
        "revoke",
        people.revoke,
        CommandRule(ANY_CHAT, ACTIVE, "manager", Target.REVOKE),
        "/revoke 123456789",
        facts=people.revoke_facts,
        group_menu=True,
    ),
    CommandSpec(
        "members",
        people.members_command,
        CommandRule(ANY_CHAT, ACTIVE, "manager"),
        "/members",
        group_menu=True,
    ),
    CommandSpec(
        "bind",
        feed_commands.bind,
        CommandRule(GROUP, TO_BIND, "owner"),
        "/bind 21000000",
        facts=shops.bind_facts,
        private_menu=False,
        group_menu=True,
    ),
    CommandSpec(
        "unbind",
        shops.unbind,
        CommandRule(GROUP, ACTIVE, "owner"),
        "/unbind",
        private_menu=False,
        group_menu=True,
    ),
    CommandSpec(
        "use",
        shops.use,
        CommandRule(PRIVATE, EXPLICIT, "courier"),
        "/use 21000000",
        facts=shops.use_facts,
    ),
    CommandSpec(
        "service",
        services.service_command,
        CommandRule(ANY_CHAT, ACTIVE, "manager"),
        "/service 51",
        facts=services.service_facts,
        group_menu=True,
    ),
    CommandSpec(
        "disconnect",
        shops.disconnect,
        CommandRule(PRIVATE, EXPLICIT, "owner"),
        "/disconnect 21000000",
        facts=shops.disconnect_facts,
    ),
    CommandSpec(
        "log",
        people.log_command,
        CommandRule(ANY_CHAT, ACTIVE, "manager"),
        "/log 20",
        facts=people.log_facts,
        group_menu=True,
    ),
    CommandSpec("language", start.language, PUBLIC, "/language en"),
    CommandSpec(
        "orders",
        feed_commands.orders,
        CommandRule(ANY_CHAT, ACTIVE, "courier"),
        "/orders",
        group_menu=True,
    ),
    CommandSpec(
        "plan",
        feed_commands.plan,
        CommandRule(ANY_CHAT, ACTIVE, "courier"),  # setting the time needs a manager
        "/plan 08:30",
        group_menu=True,
    ),
    CommandSpec(
        "feed",
        feed_commands.feed_switch,
        CommandRule(ANY_CHAT, ACTIVE, "owner"),
        "/feed off",
        group_menu=True,
    ),
)
BY_NAME: Mapping[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}
WRITE_LINES: Mapping[str, LineSpec] = {
    spec.name: spec.line for spec in COMMANDS if spec.line is not None
}


def help_text(lang: Lang) -> str:
    """Every command with its example, as ``/help all`` shows it."""
    return render_help(lang, COMMANDS)


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


async def _on_command(
    spec: CommandSpec, update: Update, context: ContextTypes.DEFAULT_TYPE
) -> None:
    request = request_from_update(update, context, spec.name)
    if request is not None:
        await run_command(spec, request)


async def _rerun(request: Request, *, make_default: bool = False) -> None:
    """A button completed a command: run it again through the same wrapper."""
    spec = BY_NAME.get(request.command)
    if spec is not None:
        await run_command(spec, request, make_default=make_default)


async def _stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is not None:
        lang = person_language(services_of(context), query.from_user)
        await query.answer(t(lang, "button.expired"))


def _install_cards(application: Application) -> None:  # type: ignore[type-arg]
    """The order cards' buttons, and the reply that gives a track code (before the fallback:
    any other reply goes on to it)."""
    application.add_handler(
        CallbackQueryHandler(
            partial(card_presses.on_press, rerun=_rerun), pattern=card_buttons.PATTERN
        )
    )
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & filters.TEXT
            & filters.REPLY
            & ~filters.FORWARDED
            & ~filters.COMMAND,
            partial(
                track_prompts.on_reply,
                rerun=_rerun,
                otherwise=partial(fallback_on_text, commands=tuple(BY_NAME)),
            ),
        )
    )


def install(application: Application) -> None:  # type: ignore[type-arg]
    """Register the key guard, every command and every button family on the Application."""
    application.add_handler(
        MessageHandler(
            filters.ChatType.GROUPS & (filters.TEXT | filters.CAPTION),
            keyguard.guard_group_message,
        ),
        group=-1,
    )
    for spec in COMMANDS:
        # New messages here; edits below (handlers.edits). A forwarded message is someone
        # else's words, not a command of the person forwarding it.
        application.add_handler(
            CommandHandler(
                spec.name,
                partial(_on_command, spec),
                filters=filters.UpdateType.MESSAGE & ~filters.FORWARDED,
            )
        )
    # A command typed as the caption of a photo or a file, and an edited command (only what
    # starts with "/" is taken, so that other media and edits reach later handlers).
    # A photo of a parcel label (handlers.photos), then any other captioned command.
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE
            & ~filters.FORWARDED
            & (filters.PHOTO | filters.Document.IMAGE),
            partial(photos.on_photo, commands=BY_NAME, rerun=_rerun),
        )
    )
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & ~filters.FORWARDED & filters.CaptionRegex(r"^\s*/"),
            partial(captions.on_caption, commands=BY_NAME),
        )
    )
    application.add_handler(
        MessageHandler(
            filters.UpdateType.EDITED_MESSAGE
            & (filters.Regex(r"^\s*/") | filters.CaptionRegex(r"^\s*/")),
            partial(edits.on_edit, commands=BY_NAME),
        )
    )
    application.add_handler(
        CallbackQueryHandler(partial(questions.on_press, rerun=_rerun), pattern=questions.PATTERN)
    )
    application.add_handler(CallbackQueryHandler(approvals.on_press, pattern=approvals.PATTERN))
    application.add_handler(
        CallbackQueryHandler(partial(datepicker.on_press, rerun=_rerun), pattern=datepicker.PATTERN)
    )
    _install_cards(application)
    application.add_handler(CallbackQueryHandler(_stale_button))
    # Last: a new text message no command took gets one line in private (handlers.fallback).
    application.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.TEXT & ~filters.FORWARDED,
            partial(fallback_on_text, commands=tuple(BY_NAME)),
        )
    )
