"""Shared steps of every ticket action: lock, check, record, notify, close."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from hotline.audit import record_event
from hotline.clock.deadlines import handling_limit
from hotline.clock.service import DeadlineResult, deadline_for
from hotline.errors import NotFound, PermissionDenied
from hotline.extensions import db
from hotline.models import Assignment, Department, Role, Ticket, TicketStatus, User, utcnow
from hotline.outbox import notify_on_commit
from hotline.tickets import lifecycle


def config() -> Any:
    return current_app.config


def load_for_update(reference: str) -> Ticket:
    """The ticket row, locked for the rest of the transaction (serialises actions on it)."""
    ticket = db.session.scalar(
        select(Ticket).where(Ticket.reference == reference).with_for_update()
    )
    if ticket is None:
        raise NotFound(f"no ticket {reference}", f"工单 {reference} 不存在")
    return ticket


def department_by_code(code: str, field: str = "department") -> Department:
    department = db.session.scalar(
        select(Department).where(Department.code == code, Department.active.is_(True))
    )
    if department is None:
        raise NotFound(f"no active unit {code!r}", f"没有单位 {code!r}", field=field)
    return department


def unit_assignment(ticket: Ticket, actor: User, *, lead_only: bool) -> Assignment:
    """The actor's unit's live assignment in the current round, or 403."""
    for assignment in ticket.current_assignments():
        if assignment.department_id == actor.department_id and (
            not lead_only or assignment.role == "lead"
        ):
            return assignment
    what = "the lead unit" if lead_only else "a unit"
    raise PermissionDenied(
        f"your unit is not {what} of ticket {ticket.reference}",
        f"本单位不是工单 {ticket.reference} 的{'主办' if lead_only else '承办'}单位",
    )


def begin_action(reference: str, action: str, actor: User) -> Ticket:
    from hotline.tickets.locks import check_not_locked

    check_not_locked(reference, actor)
    ticket = load_for_update(reference)
    lifecycle.check(action, ticket.status, actor.role)
    return ticket


def record(
    ticket: Ticket,
    action: str,
    actor: User | None,
    *,
    to_status: str | None = None,
    note: str | None = None,
    department_id: int | None = None,
    created: bool = False,
    **data: Any,
) -> None:
    """Move the ticket (if `to_status`), append the event, and queue the push."""
    from_status = None if created else ticket.status
    if to_status is not None:
        ticket.status = to_status
    record_event(
        action,
        actor=actor,
        ticket=ticket,
        from_status=from_status,
        to_status=ticket.status,
        note=note,
        department_id=department_id
        if department_id is not None
        else (actor.department_id if actor is not None else None),
        data=_jsonable(data),
    )
    rooms = ["office", f"ticket:{ticket.reference}"]
    rooms += [f"unit:{a.department.code}" for a in ticket.current_assignments()]
    notify_on_commit(
        "ticket.updated",
        {"reference": ticket.reference, "status": ticket.status, "action": action},
        rooms=rooms,
        ticket_id=ticket.id,
    )


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif value is not None:
            out[key] = value
    return out


def close(ticket: Ticket, actor: User | None, disposition: str) -> None:
    """Closing a ticket also closes the duplicates merged into it (并单随主单办结)."""
    now = utcnow()
    ticket.closed_at = now
    ticket.disposition = disposition
    for assignment in ticket.current_assignments():
        assignment.state = "closed"
    children = db.session.scalars(
        select(Ticket).where(Ticket.merged_into_id == ticket.id, Ticket.closed_at.is_(None))
    ).all()
    for child in children:
        child.closed_at = now
        record(child, "close_with_parent", actor, parent=ticket.reference)


def handling_deadline(ticket: Ticket, start: datetime) -> DeadlineResult:
    return deadline_for(start, handling_limit(config(), ticket.type, ticket.urgency))


def require_role(actor: User, *roles: Role, what_en: str, what_zh: str) -> None:
    if actor.role not in roles:
        raise PermissionDenied(f"only {what_en}", f"仅{what_zh}可以执行此操作")


def is_open(ticket: Ticket) -> bool:
    return ticket.status not in (TicketStatus.CLOSED, TicketStatus.MERGED)
