"""The access decision: every command's rule, every kind of person, every kind of chat."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from handlers.access import (
    AccessRequest,
    Actor,
    Allowed,
    CampaignSource,
    ChatKind,
    ChooseCampaign,
    CommandRule,
    Decision,
    Denied,
    DenyReason,
    InviteView,
    Role,
    TargetCheck,
    check_invite,
    decide,
)
from handlers.context import StrangerLimiter
from handlers.registry import BY_NAME

PRIVATE = ChatKind.PRIVATE
GROUP = ChatKind.GROUP
R = DenyReason

USER = Actor(user_id=1001)
OWNER: Mapping[int, Role] = {1: "owner"}
MANAGER: Mapping[int, Role] = {1: "manager"}
COURIER: Mapping[int, Role] = {1: "courier"}
STRANGER: Mapping[int, Role] = {}


def req(
    command: str,
    chat: ChatKind = PRIVATE,
    memberships: Mapping[int, Role] = STRANGER,
    *,
    actor: Actor = USER,
    bound: int | None = None,
    requested: int | None = None,
    default: int | None = None,
    target: Role | None = None,
    current: Role | None = None,
    owners: int = 0,
) -> tuple[str, AccessRequest]:
    """The request, with the name of the command whose registered rule decides it."""
    return command, AccessRequest(
        actor=actor,
        chat_kind=chat,
        memberships=memberships,
        bound_campaign=bound,
        requested_campaign=requested,
        default_campaign=default,
        target_role=target,
        target_current=current,
        owner_count=owners,
    )


CASES = [
    # start, help, connect: no campaign at all
    pytest.param(req("start"), Allowed(None, None), id="start-stranger-private"),
    pytest.param(req("help", GROUP), Allowed(None, None), id="help-stranger-unbound-group"),
    pytest.param(req("connect"), Allowed(None, None), id="connect-stranger-private"),
    pytest.param(req("language", GROUP), Allowed(None, None), id="language-anyone-anywhere"),
    pytest.param(req("connect", GROUP, OWNER, bound=1), Denied(R.PRIVATE_ONLY), id="connect-group"),
    # who is acting, and where
    pytest.param(
        req("help", GROUP, actor=Actor(None, anonymous=True), bound=1),
        Denied(R.ANONYMOUS),
        id="anonymous-admin",
    ),
    pytest.param(req("track", GROUP, actor=Actor(None), bound=1), Denied(R.ANONYMOUS), id="no-id"),
    pytest.param(
        req("track", GROUP, OWNER, actor=Actor(1001, is_bot=True), bound=1),
        Denied(R.BOT_SENDER),
        id="bot-sender",
    ),
    pytest.param(req("track", ChatKind.CHANNEL, OWNER), Denied(R.UNSUPPORTED_CHAT), id="channel"),
    # track/move/members/log in the bound group
    pytest.param(req("track", GROUP, COURIER, bound=1), Allowed(1, "courier"), id="track-courier"),
    pytest.param(req("move", GROUP, OWNER, bound=1), Allowed(1, "owner"), id="move-owner-group"),
    pytest.param(
        req("track", GROUP, STRANGER, bound=1), Denied(R.NOT_MEMBER, 1), id="track-stranger-group"
    ),
    pytest.param(
        req("track", GROUP, COURIER, bound=2),
        Denied(R.NOT_MEMBER, 2),
        id="track-courier-other-campaigns-group",
    ),
    pytest.param(
        req("track", GROUP, COURIER, bound=2, requested=1),
        Denied(R.NOT_MEMBER, 2),
        id="track-group-ignores-requested",
    ),
    pytest.param(req("track", GROUP, COURIER), Denied(R.GROUP_NOT_BOUND), id="track-unbound"),
    pytest.param(
        req("members", GROUP, COURIER, bound=1),
        Denied(R.ROLE_TOO_LOW, 1),
        id="members-courier-group",
    ),
    pytest.param(req("members", GROUP, MANAGER, bound=1), Allowed(1, "manager"), id="members-mgr"),
    pytest.param(req("log", PRIVATE, OWNER), Allowed(1, "owner"), id="log-owner-private"),
    # private: which campaign
    pytest.param(req("track", PRIVATE, COURIER), Allowed(1, "courier"), id="track-only-campaign"),
    pytest.param(req("track", PRIVATE, STRANGER), Denied(R.NOT_MEMBER), id="track-stranger"),
    pytest.param(
        req("move", PRIVATE, STRANGER, default=1), Denied(R.NOT_MEMBER), id="revoked-member-default"
    ),
    pytest.param(
        req("track", PRIVATE, COURIER, requested=2),
        Denied(R.NOT_MEMBER, 2),
        id="track-requested-not-member",
    ),
    pytest.param(
        req("track", PRIVATE, {1: "courier", 2: "owner"}, requested=2),
        Allowed(2, "owner"),
        id="track-requested",
    ),
    pytest.param(
        req("track", PRIVATE, {3: "courier", 1: "manager"}),
        ChooseCampaign((1, 3)),
        id="track-many-choose-sorted",
    ),
    pytest.param(
        req("move", PRIVATE, {1: "courier", 3: "courier"}, default=3),
        Allowed(3, "courier"),
        id="move-default",
    ),
    pytest.param(
        req("move", PRIVATE, {1: "courier", 3: "courier"}, default=2),
        ChooseCampaign((1, 3)),
        id="move-default-no-longer-member",
    ),
    pytest.param(
        req("members", PRIVATE, {1: "courier", 2: "manager", 3: "owner"}),
        ChooseCampaign((2, 3)),
        id="members-choose-only-sufficient",
    ),
    pytest.param(
        req("members", PRIVATE, {1: "courier", 2: "courier"}),
        Denied(R.ROLE_TOO_LOW),
        id="members-no-sufficient-role",
    ),
    pytest.param(
        req("members", PRIVATE, {1: "courier", 2: "manager"}, default=1),
        Denied(R.ROLE_TOO_LOW, 1),
        id="members-default-role-too-low",
    ),
    # use, disconnect: never guessed
    pytest.param(req("use", PRIVATE, COURIER, requested=1), Allowed(1, "courier"), id="use"),
    pytest.param(req("use", PRIVATE, COURIER, requested=2), Denied(R.NOT_MEMBER, 2), id="use-not"),
    pytest.param(req("use", PRIVATE, COURIER), ChooseCampaign((1,)), id="use-without-id"),
    pytest.param(req("use", GROUP, COURIER, bound=1), Denied(R.PRIVATE_ONLY), id="use-group"),
    pytest.param(req("disconnect", PRIVATE, OWNER, requested=1), Allowed(1, "owner"), id="disc"),
    pytest.param(
        req("disconnect", PRIVATE, MANAGER, requested=1),
        Denied(R.ROLE_TOO_LOW, 1),
        id="disconnect-manager",
    ),
    # invite
    pytest.param(
        req("invite", PRIVATE, MANAGER, target="courier"), Allowed(1, "manager"), id="inv-c-by-m"
    ),
    pytest.param(
        req("invite", PRIVATE, MANAGER, target="manager"),
        Denied(R.ROLE_TOO_LOW, 1),
        id="invite-manager-by-manager",
    ),
    pytest.param(
        req("invite", PRIVATE, OWNER, target="manager"), Allowed(1, "owner"), id="inv-m-by-owner"
    ),
    pytest.param(
        req("invite", PRIVATE, COURIER, target="courier"),
        Denied(R.ROLE_TOO_LOW, 1),
        id="invite-courier-by-courier",
    ),
    pytest.param(
        req("invite", PRIVATE, {1: "manager", 2: "owner"}, target="manager"),
        ChooseCampaign((2,)),
        id="invite-manager-choose-where-owner",
    ),
    pytest.param(
        req("invite", GROUP, OWNER, bound=1, target="courier"),
        Denied(R.PRIVATE_ONLY),
        id="invite-in-group",
    ),
    # grant
    pytest.param(
        req("grant", GROUP, OWNER, bound=1, target="manager"), Allowed(1, "owner"), id="grant"
    ),
    pytest.param(
        req("grant", GROUP, MANAGER, bound=1, target="courier"),
        Denied(R.ROLE_TOO_LOW, 1),
        id="grant-by-manager",
    ),
    pytest.param(
        req("grant", GROUP, OWNER, target="courier"), Denied(R.GROUP_NOT_BOUND), id="grant-unbound"
    ),
    pytest.param(
        req("grant", PRIVATE, OWNER, target="courier"), Denied(R.GROUP_ONLY), id="grant-private"
    ),
    pytest.param(
        req("grant", GROUP, OWNER, bound=2, target="courier"),
        Denied(R.NOT_MEMBER, 2),
        id="grant-owner-of-other-campaign",
    ),
    # grant to someone who already has a role: the rank rules of revoke
    pytest.param(
        req("grant", GROUP, OWNER, bound=1, target="courier", current="owner", owners=1),
        Denied(R.LAST_OWNER, 1),
        id="grant-demotes-last-owner",
    ),
    pytest.param(
        req("grant", GROUP, OWNER, bound=1, target="manager", current="owner", owners=1),
        Denied(R.LAST_OWNER, 1),
        id="grant-manager-to-last-owner",
    ),
    pytest.param(
        req("grant", GROUP, OWNER, bound=1, target="courier", current="owner", owners=2),
        Allowed(1, "owner"),
        id="grant-demotes-one-of-two-owners",
    ),
    pytest.param(
        req("grant", GROUP, OWNER, bound=1, target="courier", current="manager", owners=1),
        Allowed(1, "owner"),
        id="grant-demotes-manager",
    ),
    pytest.param(
        req("grant", GROUP, OWNER, bound=1, target="manager", current="courier", owners=1),
        Allowed(1, "owner"),
        id="grant-promotes-courier",
    ),
    pytest.param(
        req("grant", GROUP, MANAGER, bound=1, target="courier", current="courier"),
        Denied(R.ROLE_TOO_LOW, 1),
        id="grant-by-manager-to-courier",
    ),
    # revoke
    pytest.param(
        req("revoke", GROUP, OWNER, bound=1, target="manager"), Allowed(1, "owner"), id="rev-m"
    ),
    pytest.param(
        req("revoke", GROUP, MANAGER, bound=1, target="courier"),
        Allowed(1, "manager"),
        id="revoke-courier-by-manager",
    ),
    pytest.param(
        req("revoke", GROUP, MANAGER, bound=1, target="manager"),
        Denied(R.ROLE_TOO_LOW, 1),
        id="revoke-manager-by-manager",
    ),
    pytest.param(
        req("revoke", PRIVATE, MANAGER, target="owner", owners=2),
        Denied(R.ROLE_TOO_LOW, 1),
        id="revoke-owner-by-manager",
    ),
    pytest.param(
        req("revoke", PRIVATE, COURIER, target="courier"),
        Denied(R.ROLE_TOO_LOW, 1),
        id="revoke-by-courier",
    ),
    pytest.param(
        req("revoke", PRIVATE, OWNER, target="owner", owners=1),
        Denied(R.LAST_OWNER, 1),
        id="revoke-last-owner",
    ),
    pytest.param(
        req("revoke", PRIVATE, OWNER, target="owner", owners=2),
        Allowed(1, "owner"),
        id="revoke-one-of-two-owners",
    ),
    pytest.param(
        req("revoke", PRIVATE, OWNER, target=None),
        Denied(R.TARGET_NOT_MEMBER, 1),
        id="revoke-target-not-member",
    ),
    # bind, unbind
    pytest.param(req("bind", GROUP, OWNER), Allowed(1, "owner"), id="bind-only-owned"),
    pytest.param(
        req("bind", GROUP, {1: "owner", 2: "courier"}), Allowed(1, "owner"), id="bind-only-owned-2"
    ),
    pytest.param(
        req("bind", GROUP, {1: "owner", 5: "owner"}), ChooseCampaign((1, 5)), id="bind-choose"
    ),
    pytest.param(
        req("bind", GROUP, {1: "owner", 5: "owner"}, requested=5), Allowed(5, "owner"), id="bind-5"
    ),
    pytest.param(
        req("bind", GROUP, MANAGER, requested=1), Denied(R.ROLE_TOO_LOW, 1), id="bind-by-manager"
    ),
    pytest.param(req("bind", GROUP, MANAGER), Denied(R.ROLE_TOO_LOW), id="bind-owns-nothing"),
    pytest.param(req("bind", GROUP, STRANGER, bound=1), Denied(R.NOT_MEMBER), id="bind-stranger"),
    pytest.param(
        req("bind", GROUP, OWNER, requested=4), Denied(R.NOT_MEMBER, 4), id="bind-requested-other"
    ),
    pytest.param(
        req("bind", GROUP, OWNER, bound=2),
        Denied(R.ROLE_TOO_LOW, 2),
        id="rebind-group-of-other-campaign",
    ),
    pytest.param(
        req("bind", GROUP, {1: "owner", 5: "owner"}, bound=2),
        Denied(R.ROLE_TOO_LOW, 2),
        id="rebind-other-campaign-before-choice",
    ),
    pytest.param(
        req("bind", GROUP, {1: "owner", 2: "owner"}, bound=2),
        ChooseCampaign((1, 2)),
        id="rebind-own-campaigns-choose",
    ),
    pytest.param(
        req("bind", GROUP, {1: "owner", 2: "owner"}, bound=2, requested=1),
        Allowed(1, "owner"),
        id="rebind-owner-of-both",
    ),
    pytest.param(req("bind", GROUP, OWNER, bound=1), Allowed(1, "owner"), id="bind-again-same"),
    pytest.param(req("bind", PRIVATE, OWNER), Denied(R.GROUP_ONLY), id="bind-private"),
    pytest.param(req("unbind", GROUP, OWNER, bound=1), Allowed(1, "owner"), id="unbind-owner"),
    pytest.param(
        req("unbind", GROUP, MANAGER, bound=1), Denied(R.ROLE_TOO_LOW, 1), id="unbind-manager"
    ),
    pytest.param(req("unbind", GROUP, OWNER), Denied(R.GROUP_NOT_BOUND), id="unbind-unbound"),
    # the order feed's commands and the status writes
    pytest.param(req("shipped", GROUP, COURIER, bound=1), Allowed(1, "courier"), id="shipped"),
    pytest.param(req("delivered", PRIVATE, COURIER), Allowed(1, "courier"), id="delivered"),
    pytest.param(req("delivered", GROUP, STRANGER, bound=1), Denied(R.NOT_MEMBER, 1), id="dlv-x"),
    pytest.param(req("orders", GROUP, COURIER, bound=1), Allowed(1, "courier"), id="orders"),
    pytest.param(req("plan", PRIVATE, COURIER), Allowed(1, "courier"), id="plan"),
    pytest.param(req("feed", GROUP, MANAGER, bound=1), Denied(R.ROLE_TOO_LOW, 1), id="feed-mgr"),
    pytest.param(req("feed", GROUP, OWNER, bound=1), Allowed(1, "owner"), id="feed-owner"),
    pytest.param(req("service", GROUP, COURIER, bound=1), Denied(R.ROLE_TOO_LOW, 1), id="svc-c"),
    pytest.param(req("service", PRIVATE, MANAGER), Allowed(1, "manager"), id="service-manager"),
]


@pytest.mark.parametrize(("case", "expected"), CASES)
def test_decide(case: tuple[str, AccessRequest], expected: Decision) -> None:
    command, request_ = case
    assert decide(request_, BY_NAME[command].rule) == expected


def test_every_command_has_a_case() -> None:
    covered = {case.values[0][0] for case in CASES}  # type: ignore[index]
    assert set(BY_NAME) <= covered, sorted(set(BY_NAME) - covered)
    assert len(CASES) >= 35


NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


GIVE_BY_MANAGER = CommandRule(
    frozenset({GROUP}), CampaignSource.ACTIVE, "manager", TargetCheck.GIVE
)

# A rule under which managers may give roles too (none is registered so today): who may
# change whose role, by rank.
GIVE_CASES = [
    pytest.param(MANAGER, "courier", None, 0, Allowed(1, "manager"), id="mgr-new-courier"),
    pytest.param(MANAGER, "courier", "courier", 0, Allowed(1, "manager"), id="mgr-courier-again"),
    pytest.param(MANAGER, "courier", "manager", 0, Denied(R.ROLE_TOO_LOW, 1), id="mgr-demotes-mgr"),
    pytest.param(MANAGER, "courier", "owner", 2, Denied(R.ROLE_TOO_LOW, 1), id="mgr-demotes-own"),
    pytest.param(MANAGER, "manager", None, 0, Denied(R.ROLE_TOO_LOW, 1), id="mgr-gives-mgr"),
    pytest.param(OWNER, "courier", "manager", 1, Allowed(1, "owner"), id="owner-demotes-mgr"),
    pytest.param(OWNER, "manager", "owner", 2, Allowed(1, "owner"), id="owner-demotes-owner"),
    pytest.param(OWNER, "courier", "owner", 1, Denied(R.LAST_OWNER, 1), id="owner-last-owner"),
    pytest.param(OWNER, "owner", "owner", 1, Allowed(1, "owner"), id="owner-stays-owner"),
]


@pytest.mark.parametrize(("memberships", "give", "current", "owners", "expected"), GIVE_CASES)
def test_changing_a_role_follows_rank(
    memberships: Mapping[int, Role],
    give: Role,
    current: Role | None,
    owners: int,
    expected: Decision,
) -> None:
    _, request_ = req(
        "grant", GROUP, memberships, bound=1, target=give, current=current, owners=owners
    )
    assert decide(request_, GIVE_BY_MANAGER) == expected


def invite(
    role: Role = "courier",
    *,
    expires_at: datetime = LATER,
    used_by: int | None = None,
    creator: Role | None = "owner",
) -> InviteView:
    return InviteView(
        campaign_id=7, role=role, expires_at=expires_at, used_by=used_by, creator_role=creator
    )


INVITE_CASES = [
    pytest.param(invite(), PRIVATE, STRANGER, USER, NOW, Allowed(7, "courier"), id="valid"),
    pytest.param(
        invite("manager"), PRIVATE, COURIER, USER, NOW, Allowed(7, "manager"), id="valid-manager"
    ),
    pytest.param(
        invite(), PRIVATE, STRANGER, USER, LATER, Denied(R.INVITE_EXPIRED, 7), id="expired-exactly"
    ),
    pytest.param(
        invite(),
        PRIVATE,
        STRANGER,
        USER,
        LATER - timedelta(microseconds=1),
        Allowed(7, "courier"),
        id="just-before-expiry",
    ),
    pytest.param(
        invite(used_by=2002), PRIVATE, STRANGER, USER, NOW, Denied(R.INVITE_USED, 7), id="used"
    ),
    pytest.param(
        invite(used_by=1001),
        PRIVATE,
        {7: "courier"},
        USER,
        NOW,
        Denied(R.INVITE_USED, 7),
        id="reused-by-same-person",
    ),
    pytest.param(None, PRIVATE, STRANGER, USER, NOW, Denied(R.INVITE_UNKNOWN), id="unknown"),
    pytest.param(invite(), GROUP, STRANGER, USER, NOW, Denied(R.PRIVATE_ONLY, 7), id="in-group"),
    pytest.param(
        invite(),
        PRIVATE,
        {7: "courier"},
        USER,
        NOW,
        Denied(R.ALREADY_MEMBER, 7),
        id="already-courier",
    ),
    pytest.param(
        invite(),
        PRIVATE,
        {7: "owner"},
        USER,
        NOW,
        Denied(R.ALREADY_MEMBER, 7),
        id="already-higher",
    ),
    pytest.param(
        invite("manager"),
        PRIVATE,
        {7: "courier"},
        USER,
        NOW,
        Allowed(7, "manager"),
        id="upgrade-courier-to-manager",
    ),
    pytest.param(
        invite(), PRIVATE, {8: "owner"}, USER, NOW, Allowed(7, "courier"), id="member-elsewhere"
    ),
    pytest.param(
        invite(),
        PRIVATE,
        STRANGER,
        Actor(1001, is_bot=True),
        NOW,
        Denied(R.BOT_SENDER),
        id="bot",
    ),
    pytest.param(
        invite(), PRIVATE, STRANGER, Actor(None), NOW, Denied(R.ANONYMOUS), id="no-user-id"
    ),
    # The creator's role now, not when the invite was made, decides whether it still works.
    pytest.param(
        invite(creator="manager"), PRIVATE, STRANGER, USER, NOW, Allowed(7, "courier"), id="by-mgr"
    ),
    pytest.param(
        invite(creator=None),
        PRIVATE,
        STRANGER,
        USER,
        NOW,
        Denied(R.INVITE_WITHDRAWN, 7),
        id="creator-revoked",
    ),
    pytest.param(
        invite(creator="courier"),
        PRIVATE,
        STRANGER,
        USER,
        NOW,
        Denied(R.INVITE_WITHDRAWN, 7),
        id="creator-demoted-to-courier",
    ),
    pytest.param(
        invite("manager", creator="manager"),
        PRIVATE,
        STRANGER,
        USER,
        NOW,
        Denied(R.INVITE_WITHDRAWN, 7),
        id="manager-invite-of-demoted-owner",
    ),
    pytest.param(
        invite(creator=None, used_by=2002),
        PRIVATE,
        STRANGER,
        USER,
        NOW,
        Denied(R.INVITE_USED, 7),
        id="used-before-withdrawn",
    ),
]


@pytest.mark.parametrize(("view", "chat", "memberships", "actor", "now", "expected"), INVITE_CASES)
def test_check_invite(
    view: InviteView | None,
    chat: ChatKind,
    memberships: Mapping[int, Role],
    actor: Actor,
    now: datetime,
    expected: Allowed | Denied,
) -> None:
    assert check_invite(view, actor=actor, chat_kind=chat, memberships=memberships, now=now) == (
        expected
    )


@pytest.mark.parametrize(
    ("chat_type", "kind"),
    [
        ("private", PRIVATE),
        ("group", GROUP),
        ("supergroup", GROUP),
        ("channel", ChatKind.CHANNEL),
        ("sender", ChatKind.CHANNEL),
    ],
)
def test_chat_kind_from_telegram(chat_type: str, kind: ChatKind) -> None:
    assert ChatKind.from_telegram(chat_type) is kind


def test_check_invite_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_invite(
            invite(),
            actor=USER,
            chat_kind=PRIVATE,
            memberships=STRANGER,
            now=NOW.replace(tzinfo=None),
        )


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: CommandRule(frozenset(), CampaignSource.NONE, None), id="no-chats"),
        pytest.param(
            lambda: CommandRule(frozenset({ChatKind.CHANNEL}), CampaignSource.NONE, None),
            id="channel",
        ),
        pytest.param(
            lambda: CommandRule(frozenset({PRIVATE}), CampaignSource.ACTIVE, None),
            id="campaign-without-role",
        ),
        pytest.param(
            lambda: CommandRule(frozenset({PRIVATE}), CampaignSource.NONE, "owner"),
            id="role-without-campaign",
        ),
        pytest.param(
            lambda: CommandRule(
                frozenset({PRIVATE}), CampaignSource.NONE, None, TargetCheck.REVOKE
            ),
            id="target-without-campaign",
        ),
    ],
)
def test_inconsistent_rules_are_refused(make: Callable[[], CommandRule]) -> None:
    with pytest.raises(ValueError):
        make()


def test_strangers_are_limited_per_person_and_together() -> None:
    limiter = StrangerLimiter(per_person=3, overall=5, window=timedelta(minutes=1))
    assert [limiter.allow(1, NOW) for _ in range(4)] == [True, True, True, False]
    # Two more from someone else fill the overall limit.
    assert [limiter.allow(2, NOW) for _ in range(3)] == [True, True, False]
    assert limiter.allow(3, NOW) is False
    # A valid invite is not stopped by the crowd, only by the person's own limit.
    assert limiter.allow(3, NOW, vouched=True) is True
    # Dropped commands are not counted: a minute after the first ones, everyone may again.
    later = NOW + timedelta(minutes=1, microseconds=1)
    assert [limiter.allow(1, later) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow(2, later) is True
