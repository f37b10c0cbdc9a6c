"""What a registry entry says about a command: everything the wrapper and /help need.

A command is one ``CommandSpec``: its handler, its access rule, how its arguments bear on
access (``facts``), for Market writes how one line is parsed (``line``), its example and menus.
``handlers.registry`` lists them; ``handlers.dispatch`` runs them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.market.writes import OperationKind, Payload
from handlers.access import Allowed, CommandRule
from handlers.context import Outcome, Request
from handlers.lines import LineContext, Question
from handlers.parsing import InputError
from storage.members import Role

Handler = Callable[[Request, Allowed], Awaitable[Outcome]]


@dataclass(frozen=True)
class AccessFacts:
    """What a command's arguments say about access: the campaign it names, the role it gives
    (or, for a revoke, the person whose role it takes away)."""

    requested_campaign: int | None = None
    target_role: Role | None = None
    target_user: int | None = None


FactsReader = Callable[[Request], AccessFacts | InputError]
LineParser = Callable[[Sequence[str], LineContext], Payload | InputError | Question]


@dataclass(frozen=True)
class LineSpec:
    """How one line of a Market-write command becomes an operation of ``kind``."""

    kind: OperationKind[Any]
    parse: LineParser
    reply_prompt: Callable[[Sequence[str]], int | None] | None = None
    """For a line that names only its order: the order id, when the rest may come as a reply
    to a prompt (a typed code, or a photo of the label); None for the usual answer."""


@dataclass(frozen=True)
class CommandSpec:
    name: str
    handler: Handler
    rule: CommandRule
    example: str
    facts: FactsReader | None = None
    line: LineSpec | None = None
    private_menu: bool = True
    group_menu: bool = False
