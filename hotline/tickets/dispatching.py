"""按责转办: dispatch to units, signing, send-backs and their review, designation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from typing import Any

from sqlalchemy import select

from hotline import messaging
from hotline.clock.deadlines import send_back_limit, sign_limit
from hotline.clock.service import deadline_for
from hotline.errors import (
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    RuleViolation,
)
from hotline.extensions import db
from hotline.models import (
    Assignment,
    Category,
    Department,
    ReturnRequest,
    Role,
    RoutingDecision,
    Territory,
    Ticket,
    TicketStatus,
    User,
    utcnow,
)
from hotline.tickets.common import (
    begin_action,
    config,
    department_by_code,
    handling_deadline,
    record,
    unit_assignment,
)


def _current_catalogue_version_id() -> int | None:
    from routing.catalogue import current_version

    version = current_version()
    return version.id if version is not None else None


# How many of routing's suggestions a decision keeps (the ones an agent is shown).
KEPT_SUGGESTIONS = 3


def _computed_suggestions(ticket: Ticket) -> list[Any] | None:
    """What routing suggests for the ticket now, or None while routing has no `suggest`.

    Imported here, not at the top: the routing engine is optional to this module, and
    its absence (not its failure) is the one thing that is quietly tolerated.
    """
    try:
        from routing.suggest import suggest
    except ModuleNotFoundError as exc:
        if exc.name not in ("routing.suggest", "routing"):
            raise  # the engine is there but one of its own imports is broken: a bug
        return None
    phone = ticket.contact.phone if ticket.contact is not None else None
    return list(
        suggest(ticket.content, address=ticket.address, phone=phone, lat=ticket.lat, lng=ticket.lng)
    )


def _as_plain(suggestion: Any) -> dict[str, Any]:
    """One suggestion as the JSON the decision keeps (DESIGN.md's /routing/suggest shape)."""
    if isinstance(suggestion, Mapping):
        raw = dict(suggestion)
    elif is_dataclass(suggestion) and not isinstance(suggestion, type):
        raw = asdict(suggestion)
    else:
        raw = {
            key: getattr(suggestion, key, None)
            for key in ("category", "department", "territory", "score", "reasons")
        }
    score = raw.get("score")
    return {
        "category": raw.get("category"),
        "department": raw.get("department"),
        "territory": raw.get("territory"),
        "score": round(float(score), 4) if score is not None else None,
        "reasons": [str(reason) for reason in raw.get("reasons") or []],
    }


def _record_decision(
    ticket: Ticket, actor: User, lead: Department, suggestions: Sequence[Any] | None
) -> RoutingDecision:
    """Keep what routing suggested next to what the office chose: overrides are training
    data and a KPI of routing quality (`routing.quality.override_rate`)."""
    if suggestions is None:
        suggestions = _computed_suggestions(ticket) or []
    kept = [_as_plain(s) for s in suggestions[:KEPT_SUGGESTIONS]]
    rank = next((i for i, s in enumerate(kept, start=1) if s["department"] == lead.code), None)
    territory_id = ticket.territory_id
    if territory_id is None and rank is not None and kept[rank - 1]["territory"]:
        # The office followed a suggestion whose place the ticket does not record yet.
        territory_id = db.session.scalar(
            select(Territory.id).where(Territory.code == kept[rank - 1]["territory"])
        )
    decision = RoutingDecision(
        ticket_id=ticket.id,
        suggestions=kept,
        chosen_category_id=ticket.category_id,
        chosen_department_id=lead.id,
        chosen_territory_id=territory_id,
        followed_rank=rank,
        overridden=bool(kept) and rank != 1,
        decided_by_id=actor.id,
        decided_at=utcnow(),
        catalogue_version_id=ticket.catalogue_version_id,
    )
    db.session.add(decision)
    return decision


def _reclassify(ticket: Ticket, code: str) -> str | None:
    """The agent (re)classifies at dispatch; returns the previous category code."""
    category = db.session.scalar(
        select(Category).where(Category.code == code, Category.active.is_(True))
    )
    if category is None or category.parent_id is None:
        raise NotFound(
            f"no second-level category {code!r}", f"没有二级诉求分类 {code!r}", field="category"
        )
    previous = ticket.category.code if ticket.category is not None else None
    ticket.category = category
    return previous


def _relocate(ticket: Ticket, code: str) -> None:
    """The agent confirms where it happened (a street/town or district code)."""
    territory = db.session.scalar(
        select(Territory).where(Territory.code == code, Territory.active.is_(True))
    )
    if territory is None:
        raise NotFound(f"no territory {code!r}", f"没有区划 {code!r}", field="territory")
    ticket.territory = territory
    ticket.territory_source = "agent"


def _dispatch(
    ticket: Ticket,
    actor: User,
    department: str,
    assisting: list[str],
    note: str | None,
    *,
    suggestions: Sequence[Any] | None = None,
    **event: Any,
) -> None:
    """Assign lead (+ assisting) units for a new round and record the routing decision;
    the caller checked the state. `suggestions` None: ask routing now."""
    lead = department_by_code(department)
    helpers = [department_by_code(code, field="assisting") for code in dict.fromkeys(assisting)]
    if any(h.id == lead.id for h in helpers):
        raise InvalidInput(
            "the lead unit cannot also assist", "主办单位不能同时作为协办单位", field="assisting"
        )
    rounds = config()["MAX_DISPATCH_ROUNDS"]
    designated = ticket.dispatch_round >= rounds
    if designated and actor.role not in (Role.DISPATCHER, Role.ADMIN):
        raise PermissionDenied(
            f"after {rounds} dispatch rounds only a dispatcher designates the unit",
            f"派单已满 {rounds} 轮，须由派单员指定承办单位",
            rounds=rounds,
        )
    now = utcnow()
    sign_due = deadline_for(now, sign_limit(config(), ticket.urgency))
    send_back_due = deadline_for(now, send_back_limit(config(), ticket.urgency))
    due = handling_deadline(ticket, ticket.received_at)
    ticket.dispatch_round += 1
    ticket.designated = designated
    ticket.department = lead
    ticket.dispatched_at = now
    ticket.sign_due_at = sign_due.at
    ticket.signed_at = None
    if ticket.redo_count == 0 and ticket.extension_count == 0:
        ticket.due_at = due.at
    ticket.deadline_provisional = sign_due.provisional or due.provisional
    ticket.catalogue_version_id = _current_catalogue_version_id()
    for role, unit in [("lead", lead)] + [("assist", h) for h in helpers]:
        db.session.add(
            Assignment(
                ticket=ticket,
                department=unit,
                role=role,
                round=ticket.dispatch_round,
                dispatched_at=now,
                dispatched_by_id=actor.id,
                sign_due_at=sign_due.at,
                send_back_due_at=send_back_due.at,
                note=note,
            )
        )
    decision = _record_decision(ticket, actor, lead, suggestions)
    if decision.suggestions:
        event.update(followed_rank=decision.followed_rank, overridden=decision.overridden)
    db.session.flush()
    record(
        ticket,
        "dispatch",
        actor,
        to_status=TicketStatus.PENDING_SIGN,
        note=note,
        department_id=lead.id,
        department=lead.code,
        assisting=[h.code for h in helpers],
        round=ticket.dispatch_round,
        designated=designated,
        sign_due_at=ticket.sign_due_at,
        due_at=ticket.due_at,
        provisional=ticket.deadline_provisional or None,
        **event,
    )
    messaging.notify_ticket(ticket, "dispatch")  # the citizen hears which unit, and by when


def dispatch_ticket(
    reference: str,
    actor: User,
    *,
    department: str,
    assisting: list[str] | None = None,
    note: str | None = None,
    category: str | None = None,
    territory: str | None = None,
    suggestions: Sequence[Mapping[str, Any]] | None = None,
) -> Ticket:
    """派单: to a lead unit (+ assisting units), optionally (re)classifying and placing
    the ticket; `suggestions` are what routing showed the agent (None: ask routing)."""
    ticket = begin_action(reference, "dispatch", actor)
    event: dict[str, Any] = {}
    if category is not None:
        previous = _reclassify(ticket, category)
        if previous != category:
            event.update(category=category, previous_category=previous)
    if territory is not None:
        _relocate(ticket, territory)
        event["territory"] = territory
    _dispatch(ticket, actor, department, assisting or [], note, suggestions=suggestions, **event)
    db.session.commit()
    return ticket


def sign_ticket(reference: str, actor: User) -> Ticket:
    """签收: the lead's signature starts the handling; assisting units sign their part."""
    ticket = begin_action(reference, "sign", actor)
    assignment = unit_assignment(ticket, actor, lead_only=False)
    if assignment.signed_at is not None:
        raise InvalidTransition("your unit has already signed this ticket", "本单位已签收该工单")
    now = utcnow()
    assignment.signed_at = now
    assignment.signed_by_id = actor.id
    target = None
    if assignment.role == "lead":
        if ticket.status != TicketStatus.PENDING_SIGN:
            raise InvalidTransition("ticket is not waiting to be signed", "工单不在待签收状态")
        ticket.signed_at = now
        target = TicketStatus.IN_PROGRESS
    on_time = assignment.sign_due_at is None or now <= assignment.sign_due_at
    record(ticket, "sign", actor, to_status=target, role=assignment.role, on_time=on_time)
    db.session.commit()
    return ticket


def send_back_ticket(reference: str, actor: User, *, reason: str, basis: str) -> Ticket:
    """退单: the lead unit says the ticket is not its responsibility, with the basis for it."""
    ticket = begin_action(reference, "send_back", actor)
    assignment = unit_assignment(ticket, actor, lead_only=True)
    if ticket.designated:
        raise RuleViolation(
            "a designated unit cannot send the ticket back",
            "指定承办单位不能退单",
        )
    now = utcnow()
    if assignment.send_back_due_at is not None and now > assignment.send_back_due_at:
        raise RuleViolation(
            f"the send-back window closed at {assignment.send_back_due_at.isoformat()}",
            "已超过退单时限，不能退单",
            send_back_due_at=assignment.send_back_due_at.isoformat(),
        )
    if not reason.strip() or not basis.strip():
        raise InvalidInput("reason and basis are required", "退单须填写理由和依据")
    db.session.add(
        ReturnRequest(
            ticket_id=ticket.id,
            assignment_id=assignment.id,
            department_id=assignment.department_id,
            round=ticket.dispatch_round,
            reason=reason,
            basis=basis,
            previous_status=ticket.status,
            requested_by_id=actor.id,
            requested_at=now,
        )
    )
    record(
        ticket, "send_back", actor, to_status=TicketStatus.RETURN_REVIEW, note=reason, basis=basis
    )
    db.session.commit()
    return ticket


def _pending_return(ticket: Ticket) -> ReturnRequest:
    request = db.session.scalar(
        select(ReturnRequest)
        .where(ReturnRequest.ticket_id == ticket.id, ReturnRequest.decision == "pending")
        .order_by(ReturnRequest.id.desc())
    )
    if request is None:  # state and rows disagree: a bug, not user error
        raise InvalidTransition("no pending send-back on this ticket", "该工单没有待审核的退单")
    return request


def review_return(
    reference: str,
    actor: User,
    *,
    approve: bool,
    department: str | None = None,
    note: str | None = None,
) -> Ticket:
    """退单审核: approve (back to the office, optionally re-dispatched at once) or refuse."""
    ticket = begin_action(reference, "review_return", actor)
    request = _pending_return(ticket)
    now = utcnow()
    request.reviewed_by_id = actor.id
    request.reviewed_at = now
    request.review_note = note
    if approve:
        request.decision = "approved"
        for assignment in ticket.current_assignments():
            assignment.state = "returned"
        ticket.department = None
        record(
            ticket,
            "review_return",
            actor,
            to_status=TicketStatus.ACCEPTED,
            note=note,
            approve=True,
            returned_by=request.department.code,
            reason=request.reason,
        )
        if department:
            _dispatch(ticket, actor, department, [], note or request.reason)
    else:
        if department:
            raise InvalidInput(
                "a refused send-back stays with the same unit",
                "退单不予通过时不能改派",
                field="department",
            )
        request.decision = "rejected"
        request.wrongful = True
        lead = ticket.lead_assignment()
        if lead is not None:
            lead.signed_at = None
            lead.signed_by_id = None
            sign_due = deadline_for(now, sign_limit(config(), ticket.urgency))
            lead.sign_due_at = sign_due.at
            ticket.sign_due_at = sign_due.at
            ticket.deadline_provisional = ticket.deadline_provisional or sign_due.provisional
        ticket.signed_at = None
        record(
            ticket,
            "review_return",
            actor,
            to_status=TicketStatus.PENDING_SIGN,
            note=note,
            approve=False,
            wrongful=True,
            returned_by=request.department.code,
        )
    db.session.commit()
    return ticket
