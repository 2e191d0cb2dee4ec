"""催办 and 督办: pressure on the unit holding an open ticket; the state does not change."""

from __future__ import annotations

from hotline.errors import InvalidInput, InvalidTransition
from hotline.extensions import db
from hotline.models import Supervision, Ticket, User
from hotline.models.enums import SupervisionKind
from hotline.tickets.common import begin_action, is_open, load_for_update, record


def supervise_ticket(
    reference: str, actor: User | None, *, kind: str, note: str, automatic: bool = False
) -> Ticket:
    """Record an urge or supervision; `actor` None means the deadline sweep did it."""
    action = SupervisionKind(kind).value
    if actor is not None:
        ticket = begin_action(reference, action, actor)
    else:
        ticket = load_for_update(reference)
        if not is_open(ticket):
            raise InvalidTransition(
                f"ticket {reference} is no longer open", f"工单 {reference} 已办结"
            )
    if not note.strip():
        raise InvalidInput("a note is required", "请填写催办/督办意见", field="note")
    db.session.add(
        Supervision(
            ticket_id=ticket.id,
            kind=action,
            department_id=ticket.department_id,
            note=note,
            automatic=automatic,
            created_by_id=actor.id if actor is not None else None,
        )
    )
    if action == SupervisionKind.URGE:
        ticket.urge_count += 1
    else:
        ticket.supervise_count += 1
    record(
        ticket,
        action,
        actor,
        note=note,
        department_id=ticket.department_id,
        automatic=automatic or None,
    )
    db.session.commit()
    return ticket
