"""Tickets as JSON, shown in Asia/Shanghai time and with the viewer's identity rights."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from hotline import privacy
from hotline.extensions import db
from hotline.models import (
    Category,
    Department,
    Event,
    IncidentGroup,
    Message,
    RoutingDecision,
    Territory,
    Ticket,
    User,
)
from hotline.tickets.access import identity_mode


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).isoformat()


def caller(ticket: Ticket, viewer: User) -> dict[str, Any]:
    mode = identity_mode(viewer, ticket)
    name = ticket.caller_name
    phone = ticket.contact.phone if ticket.contact else None
    if mode == "masked":
        name, phone = privacy.mask_name(name), privacy.mask_phone(phone)
    elif mode == "hidden":
        name, phone = None, None
    return {
        "name": name,
        "phone": phone,
        "caller_type": ticket.contact.caller_type if ticket.contact else None,
        "confidential": ticket.confidential,
        "anonymous": ticket.anonymous,
        "wants_reply": ticket.wants_reply,
        "identity": mode,
    }


def _text_for(mode: str) -> Callable[[str | None], str | None]:
    """Free text as the viewer may read it: scrubbed of ID and phone numbers when the
    caller's identity is hidden from them (a confidential caller, seen by a unit)."""
    return privacy.scrub_text if mode == "hidden" else (lambda text: text)


def ticket_summary(ticket: Ticket, viewer: User) -> dict[str, Any]:
    text = _text_for(identity_mode(viewer, ticket))
    return {
        "reference": ticket.reference,
        "status": ticket.status,
        "channel": ticket.channel,
        "type": ticket.type,
        "urgency": ticket.urgency,
        "title": text(ticket.title),
        "content": text(ticket.content),
        "category": ticket.category.code if ticket.category else None,
        "category_name": ticket.category.name if ticket.category else None,
        "department": ticket.department.code if ticket.department else None,
        "department_name": ticket.department.short_name if ticket.department else None,
        "territory": ticket.territory.code if ticket.territory else None,
        "address": ticket.address,
        "lat": ticket.lat,
        "lng": ticket.lng,
        "tags": ticket.tags or [],
        "received_at": iso(ticket.received_at),
        "dispatched_at": iso(ticket.dispatched_at),
        "sign_due_at": iso(ticket.sign_due_at),
        "signed_at": iso(ticket.signed_at),
        "due_at": iso(ticket.due_at),
        "deadline_provisional": ticket.deadline_provisional,
        "first_contact_at": iso(ticket.first_contact_at),
        "replied_at": iso(ticket.replied_at),
        "visit_due_at": iso(ticket.visit_due_at),
        "closed_at": iso(ticket.closed_at),
        "disposition": ticket.disposition,
        "dispatch_round": ticket.dispatch_round,
        "designated": ticket.designated,
        "extension_count": ticket.extension_count,
        "redo_count": ticket.redo_count,
        "urge_count": ticket.urge_count,
        "supervise_count": ticket.supervise_count,
        "merged_into": ticket.merged_into.reference if ticket.merged_into else None,
        "incident_group": ticket.incident_group_id,
        "caller": caller(ticket, viewer),
    }


def ticket_detail(ticket: Ticket, viewer: User) -> dict[str, Any]:
    body = ticket_summary(ticket, viewer)
    mode = identity_mode(viewer, ticket)
    text = _text_for(mode)
    body.update(
        {
            "line_dialled": ticket.line_dialled,
            "occurred_at_text": ticket.occurred_at_text,
            "cause": text(ticket.cause),
            "course": text(ticket.course),
            "reply_result": ticket.reply_result,
            "reply_text": text(ticket.reply_text),
            "reject_reason": ticket.reject_reason,
            "emergency_line": ticket.emergency_line,
            "visit_attempts": ticket.visit_attempts,
            "catalogue_version": ticket.catalogue_version.number
            if ticket.catalogue_version
            else None,
            "articles": [a.article_key for a in ticket.articles],
            "routing": _routing(ticket),
            "assignments": [
                {
                    "department": a.department.code,
                    "department_name": a.department.short_name,
                    "role": a.role,
                    "round": a.round,
                    "state": a.state,
                    "dispatched_at": iso(a.dispatched_at),
                    "sign_due_at": iso(a.sign_due_at),
                    "signed_at": iso(a.signed_at),
                }
                for a in ticket.assignments
            ],
            "events": [
                {
                    "id": e.id,
                    "action": e.action,
                    "from": e.from_status,
                    "to": e.to_status,
                    "at": iso(e.at),
                    "actor": e.actor_name,
                    "actor_role": e.actor_role,
                    "department": e.department.code if e.department else None,
                    "note": text(e.note),
                    "data": e.data,
                }
                for e in db.session.scalars(
                    select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id)
                )
            ],
            "messages": [
                {
                    "direction": m.direction,
                    "channel": m.channel,
                    "body": text(m.body),
                    "status": m.status,
                    "at": iso(m.at),
                    "peer": _peer(m.peer, mode),
                }
                for m in db.session.scalars(
                    select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)
                )
            ],
        }
    )
    return body


def _peer(peer: str | None, mode: str) -> str | None:
    if mode == "hidden":
        return None
    return privacy.mask_phone(peer) if mode == "masked" else peer


def _routing(ticket: Ticket) -> dict[str, Any] | None:
    """The latest dispatch's routing decision: what was suggested, and whether it was followed."""
    decision = db.session.scalar(
        select(RoutingDecision)
        .where(RoutingDecision.ticket_id == ticket.id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
    )
    if decision is None:
        return None
    chosen = db.session.get(Department, decision.chosen_department_id)
    return {
        "suggestions": decision.suggestions,
        "chosen_department": chosen.code if chosen else None,
        "followed_rank": decision.followed_rank,
        "overridden": decision.overridden,
        "decided_at": iso(decision.decided_at),
    }


def duplicate_candidate(candidate: Any) -> dict[str, Any]:
    """A `routing.duplicates.Candidate` for the agent deciding on a merge (并单)."""
    return {
        "reference": candidate.reference,
        "score": candidate.score,
        "reasons": candidate.reasons,
        "status": candidate.status,
        "title": candidate.title,
        "received_at": iso(candidate.received_at),
        "incident_group": candidate.incident_group,
    }


def incident_candidate(candidate: Any) -> dict[str, Any]:
    """A `routing.incidents.IncidentCandidate`: a burst the dispatcher may group."""
    return {
        "references": candidate.references,
        "parent": candidate.parent,
        "title": candidate.title,
        "category": candidate.category,
        "territory": candidate.territory,
        "count": len(candidate.references),
        "first_received_at": iso(candidate.first_received_at),
        "last_received_at": iso(candidate.last_received_at),
        "score": candidate.score,
        "reasons": candidate.reasons,
    }


def incident_group(
    group: IncidentGroup, members: list[tuple[Ticket, str]], viewer: User
) -> dict[str, Any]:
    """An incident group with its tickets and each one's part (parent, merged, linked)."""
    return {
        "id": group.id,
        "title": group.title,
        "category": _code(Category, group.category_id),
        "territory": _code(Territory, group.territory_id),
        "parent": group.parent_reference,
        "note": group.note,
        "created_at": iso(group.created_at),
        "closed_at": iso(group.closed_at),
        "tickets": [
            {
                "reference": t.reference,
                "role": role,
                "status": t.status,
                "title": _text_for(identity_mode(viewer, t))(t.title),
                "department": t.department.code if t.department else None,
                "received_at": iso(t.received_at),
                "closed_at": iso(t.closed_at),
            }
            for t, role in members
        ],
    }


def _code(model: type[Category] | type[Territory], row_id: int | None) -> str | None:
    row = db.session.get(model, row_id) if row_id is not None else None
    return row.code if row is not None else None
