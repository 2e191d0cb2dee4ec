"""Who may see which tickets, and how much of a caller's identity they see."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, false, select, true

from hotline.errors import PermissionDenied
from hotline.models import Assignment, Role, Ticket, User

SEE_ALL = frozenset({Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
FULL_IDENTITY = frozenset({Role.AGENT, Role.DISPATCHER, Role.ADMIN})


def unit_holds(
    ticket_id_column: ColumnElement[int] | int, department_id: int
) -> ColumnElement[bool]:
    """The unit has a live (not returned) assignment on the ticket."""
    return exists(
        select(Assignment.id).where(
            Assignment.ticket_id == ticket_id_column,
            Assignment.department_id == department_id,
            Assignment.state != "returned",
        )
    )


def visible_clause(user: User) -> ColumnElement[bool]:
    """A WHERE clause limiting a ticket query to what `user` may see."""
    if user.role in SEE_ALL:
        return true()
    if user.role == Role.HANDLER and user.department_id is not None:
        return unit_holds(Ticket.id, user.department_id)
    return false()


def can_view(user: User, ticket: Ticket) -> bool:
    if user.role in SEE_ALL:
        return True
    if user.role == Role.HANDLER and user.department_id is not None:
        return any(
            a.department_id == user.department_id and a.state != "returned"
            for a in ticket.assignments
        )
    return False


def require_view(user: User, ticket: Ticket) -> None:
    if not can_view(user, ticket):
        raise PermissionDenied(
            f"ticket {ticket.reference} is not held by your unit",
            f"工单 {ticket.reference} 不属于本单位",
        )


def identity_mode(user: User, ticket: Ticket) -> str:
    """ "full", "masked" or "hidden": how the caller's name and phone are shown to `user`."""
    if user.role in FULL_IDENTITY:
        return "full"
    if ticket.confidential and user.role == Role.HANDLER:
        return "hidden"
    if user.role == Role.HANDLER:
        return "full"  # the unit must be able to call the caller back (联系来电人)
    return "masked"
