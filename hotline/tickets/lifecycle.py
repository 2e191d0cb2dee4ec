"""The ticket lifecycle as one visible table (DOMAIN.md "Lifecycle").

Each action names the states it may start from, the state it leads to (None when
it depends on the input, e.g. a review's decision), and the roles that may take
it. Unit checks (a handler acts only for a unit holding the ticket) are made by
the services, which know the assignment.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.errors import InvalidTransition, PermissionDenied
from hotline.models.enums import OPEN_STATUSES, Role
from hotline.models.enums import TicketStatus as S

OFFICE = frozenset({Role.AGENT, Role.DISPATCHER, Role.ADMIN})
REVIEWERS = frozenset({Role.DISPATCHER, Role.ADMIN})
UNIT = frozenset({Role.HANDLER})
OPEN = frozenset(OPEN_STATUSES)


@dataclass(frozen=True)
class Transition:
    sources: frozenset[S]
    target: S | None
    roles: frozenset[Role]
    label_zh: str


TRANSITIONS: dict[str, Transition] = {
    "answer_directly": Transition(frozenset({S.ACCEPTED}), S.CLOSED, OFFICE, "直接答复"),
    "reject": Transition(frozenset({S.ACCEPTED}), S.CLOSED, OFFICE, "不予受理"),
    "hand_to_emergency": Transition(frozenset({S.ACCEPTED}), S.CLOSED, OFFICE, "转紧急热线"),
    "merge": Transition(frozenset({S.ACCEPTED}), S.MERGED, OFFICE, "并单"),
    "dispatch": Transition(frozenset({S.ACCEPTED}), S.PENDING_SIGN, OFFICE, "派单"),
    # Lead unit: pending_sign -> in_progress; assisting units sign their own part later too.
    "sign": Transition(frozenset({S.PENDING_SIGN, S.IN_PROGRESS}), None, UNIT, "签收"),
    "send_back": Transition(
        frozenset({S.PENDING_SIGN, S.IN_PROGRESS}), S.RETURN_REVIEW, UNIT, "退单"
    ),
    "review_return": Transition(frozenset({S.RETURN_REVIEW}), None, REVIEWERS, "退单审核"),
    "request_extension": Transition(
        frozenset({S.IN_PROGRESS}), S.EXTENSION_REVIEW, UNIT, "申请延期"
    ),
    "review_extension": Transition(
        frozenset({S.EXTENSION_REVIEW}), S.IN_PROGRESS, REVIEWERS, "延期审核"
    ),
    "contact": Transition(frozenset({S.IN_PROGRESS}), S.IN_PROGRESS, UNIT, "联系来电人"),
    "note": Transition(frozenset({S.IN_PROGRESS}), S.IN_PROGRESS, UNIT, "办理进展"),
    "reply": Transition(frozenset({S.IN_PROGRESS}), S.REPLY_REVIEW, UNIT, "办理回复"),
    "review_reply": Transition(
        frozenset({S.REPLY_REVIEW}), None, REVIEWERS | {Role.SUPERVISOR}, "回复审核"
    ),
    "visit": Transition(frozenset({S.PENDING_VISIT}), None, OFFICE, "回访"),
    "urge": Transition(OPEN, None, REVIEWERS | {Role.SUPERVISOR}, "催办"),
    "supervise": Transition(OPEN, None, frozenset({Role.SUPERVISOR, Role.ADMIN}), "督办"),
}

ACTIONS = tuple(TRANSITIONS)


def check(action: str, status: str, role: str) -> Transition:
    """Refuse an action the actor's role or the ticket's state does not allow."""
    transition = TRANSITIONS[action]
    if role not in transition.roles:
        raise PermissionDenied(
            f"role {role!r} may not {action.replace('_', ' ')}",
            f"当前角色无权执行“{transition.label_zh}”",
            action=action,
        )
    if status not in transition.sources:
        allowed = ", ".join(sorted(transition.sources))
        raise InvalidTransition(
            f"cannot {action.replace('_', ' ')} a ticket in state {status!r} "
            f"(allowed from: {allowed})",
            f"工单当前状态（{STATUS_ZH.get(status, status)}）不能执行“{transition.label_zh}”",
            action=action,
            status=status,
        )
    return transition


STATUS_ZH = {
    S.ACCEPTED: "已受理",
    S.PENDING_SIGN: "待签收",
    S.IN_PROGRESS: "办理中",
    S.RETURN_REVIEW: "退单审核",
    S.EXTENSION_REVIEW: "延期审核",
    S.REPLY_REVIEW: "回复审核",
    S.PENDING_VISIT: "待回访",
    S.CLOSED: "已办结",
    S.MERGED: "已并单",
}
