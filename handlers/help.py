"""/help: the commands a person may use, read from the registry's access rules.

A command is listed for a role when its rule lets that role run it: a public command for
everyone; a command on a campaign from its least role up; a command on no campaign that is not
public (``/connect``, which makes its sender an owner) for owners. Someone with no role sees what
a courier sees. In private the person's highest role in any shop counts, and every such command
is listed, one line each with its example, with a word on several orders at once; in a group,
the role in the group's shop (the highest, while the group is not bound), and only commands of
the group menu. A short line points to ``/help all``, which lists every command for every role.
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers.access import ChatKind, CommandRule
from handlers.context import Outcome, Request, Result
from handlers.spec import CommandSpec
from handlers.texts import Lang, t
from storage import bindings, members
from storage.members import ROLE_RANK, Role, role_at_least

ALL_WORDS = ("all", "все", "всё")
# Someone with no role is shown what a courier may do: what they will do once invited.
NO_ROLE_SHOWN_AS: Role = "courier"


def least_role(rule: CommandRule) -> Role | None:
    """The least role /help lists a command for; None: everyone."""
    if rule.is_public:
        return None
    return rule.min_role or "owner"


def commands_for(commands: Sequence[CommandSpec], role: Role, *, group: bool) -> list[CommandSpec]:
    """The commands ``role`` may use, in registry order; in a group, those of the group menu."""
    return [
        spec
        for spec in commands
        if (needed := least_role(spec.rule)) is None or role_at_least(role, needed)
        if spec.group_menu or not group
    ]


def help_text(
    lang: Lang,
    commands: Sequence[CommandSpec],
    *,
    role: Role | None = None,
    group: bool = False,
) -> str:
    """The help for ``role`` (None: every command, as ``/help all``), in a group or in private."""
    shown = list(commands) if role is None else commands_for(commands, role, group=group)
    lines = [t(lang, "help.title")]
    for spec in shown:
        if role is not None:
            lines.append(f"{spec.example} — {t(lang, f'cmd.{spec.name}')}")
            continue
        lines.append(f"/{spec.name} — {t(lang, f'cmd.{spec.name}')}")
        if spec.example != f"/{spec.name}":
            lines.append("   " + t(lang, "help.example", example=spec.example))
    if not group or role is None:
        lines += ["", t(lang, "help.footer")]
    if len(shown) < len(commands):
        lines.append(t(lang, "help.more"))
    return "\n".join(lines)


async def help_command(request: Request, commands: Sequence[CommandSpec]) -> Outcome:
    """Answer /help with the sender's commands, or ``/help all`` with every command."""
    everything = bool(request.args) and request.args[0].casefold() in ALL_WORDS
    role = None if everything else (role_of(request) or NO_ROLE_SHOWN_AS)
    group = request.chat_kind == ChatKind.GROUP
    await request.reply(help_text(request.lang, commands, role=role, group=group))
    return Outcome(Result.OK)


def role_of(request: Request) -> Role | None:
    """The sender's role in the group's shop, else their highest role in any shop."""
    if request.user_id is None:
        return None
    db = request.services.db
    roles = {m.campaign_id: m.role for m in members.memberships_of(db, request.user_id)}
    if request.chat_kind == ChatKind.GROUP:
        binding = bindings.binding_of(db, request.chat_id)
        if binding is not None:
            return roles.get(binding.campaign_id)
    return max(roles.values(), key=ROLE_RANK.__getitem__, default=None)
