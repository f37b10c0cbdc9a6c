"""Who may run which command, on which campaign: one pure decision for every command.

Each command declares what it needs in its ``CommandRule`` (the chats it may run in, how its
campaign is found, the least role, and whether it gives or takes away a role), carried by its
registry entry; ``decide`` reads the rule and answers ``Allowed``, ``Denied`` (with a reason) or
``ChooseCampaign``. Nothing
here talks to Telegram, storage or the clock: the caller gathers plain facts into an
``AccessRequest`` (or, for an invite link, an ``InviteView``) and acts on the answer.

People are identified by numeric Telegram user id only, and everything not explicitly allowed
is denied. ``decide`` checks, in this order:

1. the chat: a channel is ``UNSUPPORTED_CHAT``;
2. the sender: an anonymous group admin or a missing user id is ``ANONYMOUS``, a bot is
   ``BOT_SENDER``;
3. the chat kind the command allows: ``PRIVATE_ONLY`` / ``GROUP_ONLY``;
4. the campaign (``GROUP_NOT_BOUND``, ``NOT_MEMBER``, ``ChooseCampaign``) and the sender's role
   on it (``ROLE_TOO_LOW``);
5. for a command that takes a role away, or gives one to someone who already has a role, the
   target (``TARGET_NOT_MEMBER``, ``ROLE_TOO_LOW``, ``LAST_OWNER``): only an owner may change
   an owner's or a manager's role, a manager only a courier's, and the last owner keeps theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from storage.members import ROLE_RANK, Role, role_at_least


class ChatKind(StrEnum):
    """The kinds of chat the bot tells apart."""

    PRIVATE = "private"
    GROUP = "group"
    CHANNEL = "channel"

    @classmethod
    def from_telegram(cls, chat_type: str) -> ChatKind:
        """Map a Telegram ``Chat.type``: groups and supergroups are one kind, and anything
        unknown is treated as a channel so that it is refused."""
        if chat_type == "private":
            return cls.PRIVATE
        if chat_type in ("group", "supergroup"):
            return cls.GROUP
        return cls.CHANNEL


class DenyReason(StrEnum):
    """Why a command or an invite was refused; the values are stable keys for reply texts."""

    ANONYMOUS = "anonymous"
    BOT_SENDER = "bot_sender"
    UNSUPPORTED_CHAT = "unsupported_chat"
    PRIVATE_ONLY = "private_only"
    GROUP_ONLY = "group_only"
    GROUP_NOT_BOUND = "group_not_bound"
    NOT_MEMBER = "not_member"
    ROLE_TOO_LOW = "role_too_low"
    LAST_OWNER = "last_owner"
    TARGET_NOT_MEMBER = "target_not_member"
    INVITE_UNKNOWN = "invite_unknown"
    INVITE_EXPIRED = "invite_expired"
    INVITE_USED = "invite_used"
    INVITE_WITHDRAWN = "invite_withdrawn"
    ALREADY_MEMBER = "already_member"


@dataclass(frozen=True)
class Actor:
    """The sender of a message.

    ``anonymous`` is set when the message came on behalf of a chat (``sender_chat``), as an
    anonymous group admin's does; such a sender has no user id the bot could trust.
    """

    user_id: int | None
    is_bot: bool = False
    anonymous: bool = False


@dataclass(frozen=True)
class AccessRequest:
    """Everything ``decide`` needs to know about one command, as plain values.

    ``memberships`` maps campaign id to the actor's role there. ``bound_campaign`` is the
    campaign the group chat is bound to (groups only). ``requested_campaign`` is the campaign
    id the command named, ``default_campaign`` the one the actor chose with ``/use``.
    ``target_role`` is, for ``invite``/``grant``, the role being given and, for ``revoke``, the
    target's current role on the campaign (None: not a member). ``target_current`` is, for
    ``grant``, the target's current role on the campaign (None: not a member yet).
    ``owner_count`` is, for ``revoke`` and ``grant``, how many owners the campaign has now.
    """

    actor: Actor
    chat_kind: ChatKind
    memberships: Mapping[int, Role] = field(default_factory=dict)
    bound_campaign: int | None = None
    requested_campaign: int | None = None
    default_campaign: int | None = None
    target_role: Role | None = None
    target_current: Role | None = None
    owner_count: int = 0


@dataclass(frozen=True)
class Allowed:
    """The command may run on ``campaign_id`` with the actor's ``role`` there (both None for
    commands that act on no campaign)."""

    campaign_id: int | None
    role: Role | None


@dataclass(frozen=True)
class Denied:
    """The command is refused; ``campaign_id`` names the campaign concerned when one was
    determined."""

    reason: DenyReason
    campaign_id: int | None = None


@dataclass(frozen=True)
class ChooseCampaign:
    """The campaign is ambiguous: ask the actor to pick one of ``campaign_ids`` (ascending)."""

    campaign_ids: tuple[int, ...]


Decision = Allowed | Denied | ChooseCampaign


class CampaignSource(StrEnum):
    """How a command finds the campaign it acts on."""

    NONE = "none"
    """Acts on no campaign (``start``, ``help``, ``connect``)."""
    ACTIVE = "active"
    """Group: the bound campaign. Private: the requested one, else the only membership, else
    the ``/use`` default, else a choice."""
    EXPLICIT = "explicit"
    """Group: the bound campaign. Private: the requested one, else a choice; never guessed,
    because the command changes which campaign is used or removes one."""
    TO_BIND = "to_bind"
    """Group: the requested campaign, else the only one the actor has the role for, else a
    choice; an already bound group also needs that role on the bound campaign."""


class TargetCheck(StrEnum):
    """What a command does to another person's role, which raises the role it needs."""

    NONE = "none"
    GIVE = "give"
    """Gives ``target_role``: see ``ROLE_NEEDED_TO_GIVE``. Changing the role of someone who
    has one (``target_current``) also follows the rules of ``REVOKE``."""
    REVOKE = "revoke"
    """Takes the target's role away: only from a member, only below the actor's own rank
    unless the actor is an owner, and never from the last owner."""


ROLE_NEEDED_TO_GIVE: Mapping[Role, Role] = MappingProxyType(
    {"courier": "manager", "manager": "owner", "owner": "owner"}
)
"""The least role that may give each role. Giving an unnamed role (None) needs an owner."""

ANY_CHAT = frozenset({ChatKind.PRIVATE, ChatKind.GROUP})
PRIVATE = frozenset({ChatKind.PRIVATE})
GROUP = frozenset({ChatKind.GROUP})


@dataclass(frozen=True)
class CommandRule:
    """What one command needs. Raises ValueError if the rule is inconsistent: a command on a
    campaign must name its least role, one on no campaign must not, and channels are never
    allowed."""

    chats: frozenset[ChatKind]
    campaign: CampaignSource
    min_role: Role | None
    target: TargetCheck = TargetCheck.NONE

    def __post_init__(self) -> None:
        if not self.chats or ChatKind.CHANNEL in self.chats:
            raise ValueError("a command must run in private or group chats only")
        if (self.campaign is CampaignSource.NONE) != (self.min_role is None):
            raise ValueError("min_role must be set exactly when the command needs a campaign")
        if self.target is not TargetCheck.NONE and self.campaign is CampaignSource.NONE:
            raise ValueError("a command that changes roles needs a campaign")

    @classmethod
    def public(cls) -> CommandRule:
        """Anyone, in private or in a group, on no campaign (``/start``, ``/help``)."""
        return cls(ANY_CHAT, CampaignSource.NONE, None)

    @property
    def is_public(self) -> bool:
        return self.campaign is CampaignSource.NONE and self.chats == ANY_CHAT

    def without_target(self) -> CommandRule:
        """The same rule ignoring whom the command acts on (to check before arguments make
        sense, e.g. to answer a usage error only to people who may run the command)."""
        return CommandRule(self.chats, self.campaign, self.min_role)


def decide(req: AccessRequest, rule: CommandRule) -> Decision:
    """Decide whether ``req.actor`` may run a command with ``rule`` here, and on which campaign.

    Returns ``Allowed`` with the campaign and the actor's role on it, ``Denied`` with the first
    reason that applies (see the module docstring for the order), or ``ChooseCampaign`` when a
    private command could act on several campaigns.

    For ``revoke`` the target's role depends on the campaign, which may not be known before
    the call: call with ``target_role=None`` first; ``Denied(TARGET_NOT_MEMBER, campaign_id=c)``
    then names the resolved campaign, so look the target up on ``c`` and call again with
    ``requested_campaign=c`` (it resolves to the same campaign). For ``grant`` likewise: the
    first answer names the campaign; look up ``target_current`` and ``owner_count`` there.
    """
    if req.chat_kind is ChatKind.CHANNEL:
        return Denied(DenyReason.UNSUPPORTED_CHAT)
    actor_refusal = _refuse_actor(req.actor)
    if actor_refusal is not None:
        return actor_refusal
    if req.chat_kind not in rule.chats:
        if ChatKind.GROUP in rule.chats:
            return Denied(DenyReason.GROUP_ONLY)
        return Denied(DenyReason.PRIVATE_ONLY)
    if rule.min_role is None:
        return Allowed(campaign_id=None, role=None)

    needed = _needed_role(rule, rule.min_role, req.target_role)
    found = _find_campaign(req, rule.campaign, needed)
    if not isinstance(found, int):
        return found
    role = req.memberships.get(found)
    if role is None:
        return Denied(DenyReason.NOT_MEMBER, found)
    if not role_at_least(role, needed):
        return Denied(DenyReason.ROLE_TOO_LOW, found)
    if rule.campaign is CampaignSource.TO_BIND:
        bound = req.bound_campaign
        if bound is not None and not role_at_least(req.memberships.get(bound), needed):
            return Denied(DenyReason.ROLE_TOO_LOW, bound)
    refusal = _refuse_target(req, rule.target, found, role)
    if refusal is not None:
        return refusal
    return Allowed(campaign_id=found, role=role)


def _refuse_actor(actor: Actor) -> Denied | None:
    """Refuse senders that cannot be identified as one person, or that are bots."""
    if actor.anonymous or actor.user_id is None:
        return Denied(DenyReason.ANONYMOUS)
    if actor.is_bot:
        return Denied(DenyReason.BOT_SENDER)
    return None


def _needed_role(rule: CommandRule, min_role: Role, target_role: Role | None) -> Role:
    """The least role the actor needs: the rule's, raised to what giving the target role takes."""
    if rule.target is not TargetCheck.GIVE:
        return min_role
    # An unnamed role could be anything, so only the highest role may give it.
    to_give: Role = "owner" if target_role is None else ROLE_NEEDED_TO_GIVE[target_role]
    return to_give if ROLE_RANK[to_give] > ROLE_RANK[min_role] else min_role


def _find_campaign(
    req: AccessRequest, source: CampaignSource, needed: Role
) -> int | Denied | ChooseCampaign:
    """The campaign the command acts on, before the role on it is checked."""
    if source is CampaignSource.TO_BIND:
        return _find_campaign_to_bind(req, needed)
    if req.chat_kind is ChatKind.GROUP:
        # In a group the binding decides; a campaign id typed into the command does not.
        if req.bound_campaign is None:
            return Denied(DenyReason.GROUP_NOT_BOUND)
        return req.bound_campaign
    if req.requested_campaign is not None:
        return req.requested_campaign
    if not req.memberships:
        return Denied(DenyReason.NOT_MEMBER)
    if source is CampaignSource.ACTIVE:
        if len(req.memberships) == 1:
            return next(iter(req.memberships))
        if req.default_campaign is not None and req.default_campaign in req.memberships:
            return req.default_campaign
    return _choose(req.memberships, needed)


def _find_campaign_to_bind(req: AccessRequest, needed: Role) -> int | Denied | ChooseCampaign:
    """The campaign ``bind`` binds: the requested one, else the only one the actor may bind,
    else a choice; an already bound group the actor may not rebind is refused before a choice
    is offered, since every choice would be refused."""
    if req.requested_campaign is not None:
        return req.requested_campaign
    if not req.memberships:
        return Denied(DenyReason.NOT_MEMBER)
    eligible = _eligible(req.memberships, needed)
    if len(eligible) == 1:
        return eligible[0]
    bound = req.bound_campaign
    if eligible and bound is not None and not role_at_least(req.memberships.get(bound), needed):
        return Denied(DenyReason.ROLE_TOO_LOW, bound)
    return _choose(req.memberships, needed)


def _eligible(memberships: Mapping[int, Role], needed: Role) -> tuple[int, ...]:
    """The campaigns where the role suffices, ascending."""
    return tuple(sorted(cid for cid, role in memberships.items() if role_at_least(role, needed)))


def _choose(memberships: Mapping[int, Role], needed: Role) -> Denied | ChooseCampaign:
    """Offer the campaigns where the role suffices; refuse if there are none."""
    if not memberships:
        return Denied(DenyReason.NOT_MEMBER)
    eligible = _eligible(memberships, needed)
    if not eligible:
        return Denied(DenyReason.ROLE_TOO_LOW)
    return ChooseCampaign(eligible)


def _refuse_target(
    req: AccessRequest, check: TargetCheck, campaign_id: int, role: Role
) -> Denied | None:
    """Refuse taking the target's role away (``REVOKE``: ``req.target_role``), or changing it
    (``GIVE`` to someone with ``req.target_current``), on ``campaign_id`` by an actor with
    ``role``."""
    current: Role | None
    new: Role | None
    if check is TargetCheck.REVOKE:
        current, new = req.target_role, None
        if current is None:
            return Denied(DenyReason.TARGET_NOT_MEMBER, campaign_id)
    elif check is TargetCheck.GIVE and req.target_current is not None:
        current, new = req.target_current, req.target_role
    else:
        return None
    # Owners may change anyone's role; everyone else only people strictly below their own rank.
    if role != "owner" and ROLE_RANK[current] >= ROLE_RANK[role]:
        return Denied(DenyReason.ROLE_TOO_LOW, campaign_id)
    if current == "owner" and new != "owner" and req.owner_count <= 1:
        return Denied(DenyReason.LAST_OWNER, campaign_id)
    return None


@dataclass(frozen=True)
class InviteView:
    """The facts of one invite code: what it grants, until when, who used it (if anyone), and
    the role its creator has on the campaign *now* (None: none any more)."""

    campaign_id: int
    role: Role
    expires_at: datetime
    used_by: int | None
    creator_role: Role | None


def check_invite(
    invite: InviteView | None,
    *,
    actor: Actor,
    chat_kind: ChatKind,
    memberships: Mapping[int, Role],
    now: datetime,
) -> Allowed | Denied:
    """Decide whether ``actor`` may accept ``invite`` (None: no such code) at ``now``.

    Returns ``Allowed(invite.campaign_id, invite.role)``, or ``Denied`` with the first of:
    ``INVITE_UNKNOWN``, ``INVITE_USED`` (by anyone, the actor included), ``INVITE_EXPIRED``
    (``now >= expires_at``), ``INVITE_WITHDRAWN`` (its creator may no longer give its role:
    see ``ROLE_NEEDED_TO_GIVE``), ``PRIVATE_ONLY``, ``ANONYMOUS``/``BOT_SENDER``, ``ALREADY_MEMBER``
    (the actor already has the invite's role or higher; a lower role is upgraded).
    ``memberships`` maps campaign id to the actor's role. Raises ValueError if ``now`` or
    ``expires_at`` is naive, since comparing local times across a clock change is wrong.
    """
    if invite is None:
        return Denied(DenyReason.INVITE_UNKNOWN)
    if now.tzinfo is None or invite.expires_at.tzinfo is None:
        raise ValueError("invite times must be timezone-aware")
    if invite.used_by is not None:
        return Denied(DenyReason.INVITE_USED, invite.campaign_id)
    if now >= invite.expires_at:
        return Denied(DenyReason.INVITE_EXPIRED, invite.campaign_id)
    if not role_at_least(invite.creator_role, ROLE_NEEDED_TO_GIVE[invite.role]):
        return Denied(DenyReason.INVITE_WITHDRAWN, invite.campaign_id)
    if chat_kind is not ChatKind.PRIVATE:
        return Denied(DenyReason.PRIVATE_ONLY, invite.campaign_id)
    actor_refusal = _refuse_actor(actor)
    if actor_refusal is not None:
        return actor_refusal
    if role_at_least(memberships.get(invite.campaign_id), invite.role):
        return Denied(DenyReason.ALREADY_MEMBER, invite.campaign_id)
    return Allowed(campaign_id=invite.campaign_id, role=invite.role)
