"""办理: extensions, contacting the caller, the reply and its review."""

from __future__ import annotations

from sqlalchemy import select

from hotline import messaging
from hotline.clock.service import deadline_for
from hotline.errors import InvalidInput, InvalidTransition, RuleViolation
from hotline.extensions import db
from hotline.models import ExtensionRequest, Ticket, TicketStatus, User, utcnow
from hotline.models.enums import ReplyResult
from hotline.tickets.common import begin_action, config, record, unit_assignment


def request_extension(reference: str, actor: User, *, days: int, reason: str) -> Ticket:
    """延期申请: once per ticket (configurable), at most N working days."""
    ticket = begin_action(reference, "request_extension", actor)
    assignment = unit_assignment(ticket, actor, lead_only=True)
    ceiling = config()["EXTENSION_MAX_DAYS"]
    if not 1 <= days <= ceiling:
        raise InvalidInput(
            f"days must be 1 to {ceiling} working days",
            f"延期天数须为 1 至 {ceiling} 个工作日",
            field="days",
        )
    if ticket.extension_count >= config()["EXTENSION_MAX_COUNT"]:
        raise RuleViolation(
            "this ticket has already been extended the allowed number of times",
            "该工单已延期，不能再次申请",
        )
    if not reason.strip():
        raise InvalidInput("reason is required", "请填写延期理由", field="reason")
    db.session.add(
        ExtensionRequest(
            ticket_id=ticket.id,
            department_id=assignment.department_id,
            days=days,
            reason=reason,
            requested_by_id=actor.id,
        )
    )
    record(
        ticket,
        "request_extension",
        actor,
        to_status=TicketStatus.EXTENSION_REVIEW,
        note=reason,
        days=days,
    )
    db.session.commit()
    return ticket


def review_extension(
    reference: str, actor: User, *, approve: bool, note: str | None = None
) -> Ticket:
    """延期审核: approval moves the due date by the requested working days."""
    ticket = begin_action(reference, "review_extension", actor)
    request = db.session.scalar(
        select(ExtensionRequest)
        .where(ExtensionRequest.ticket_id == ticket.id, ExtensionRequest.decision == "pending")
        .order_by(ExtensionRequest.id.desc())
    )
    if request is None:
        raise InvalidTransition("no pending extension on this ticket", "该工单没有待审核的延期申请")
    request.reviewed_by_id = actor.id
    request.reviewed_at = utcnow()
    request.review_note = note
    request.old_due_at = ticket.due_at
    if approve:
        request.decision = "approved"
        base = ticket.due_at or utcnow()
        moved = deadline_for(base, {"amount": request.days, "unit": "working_days"})
        ticket.due_at = moved.at
        ticket.deadline_provisional = ticket.deadline_provisional or moved.provisional
        ticket.extension_count += 1
        request.new_due_at = moved.at
        messaging.notify_ticket(ticket, "extension")
    else:
        request.decision = "rejected"
    record(
        ticket,
        "review_extension",
        actor,
        to_status=TicketStatus.IN_PROGRESS,
        note=note,
        approve=approve,
        days=request.days,
        old_due_at=request.old_due_at,
        due_at=ticket.due_at,
    )
    db.session.commit()
    return ticket


def contact_caller(reference: str, actor: User, *, method: str, note: str | None = None) -> Ticket:
    """联系来电人: the first contact drives the response rate (响应率)."""
    ticket = begin_action(reference, "contact", actor)
    unit_assignment(ticket, actor, lead_only=False)
    now = utcnow()
    first = ticket.first_contact_at is None
    if first:
        ticket.first_contact_at = now
    record(ticket, "contact", actor, note=note, method=method, first=first)
    db.session.commit()
    return ticket


def note_progress(reference: str, actor: User, *, note: str) -> Ticket:
    """办理进展: what the unit has done so far, in the ticket's history for everyone."""
    ticket = begin_action(reference, "note", actor)
    unit_assignment(ticket, actor, lead_only=False)
    if not note.strip():
        raise InvalidInput("the note is empty", "请填写办理进展", field="note")
    record(ticket, "note", actor, note=note)
    db.session.commit()
    return ticket


def reply_ticket(reference: str, actor: User, *, result: str, text: str) -> Ticket:
    """办理回复: the lead unit's point-by-point answer and the result."""
    ticket = begin_action(reference, "reply", actor)
    unit_assignment(ticket, actor, lead_only=True)
    if result not in {r.value for r in ReplyResult}:
        raise InvalidInput(
            f"unknown result {result!r}", f"办理结果 {result!r} 无效", field="result"
        )
    if not text.strip():
        raise InvalidInput("reply text is required", "请填写答复内容", field="text")
    now = utcnow()
    ticket.reply_result = result
    ticket.reply_text = text
    ticket.replied_at = now
    on_time = ticket.due_at is None or now <= ticket.due_at
    record(
        ticket,
        "reply",
        actor,
        to_status=TicketStatus.REPLY_REVIEW,
        note=text,
        result=result,
        on_time=on_time,
    )
    db.session.commit()
    return ticket


def review_reply(reference: str, actor: User, *, approve: bool, note: str | None = None) -> Ticket:
    """回复审核: pass -> follow-up visit due within the visit limit; fail -> back to the unit."""
    ticket = begin_action(reference, "review_reply", actor)
    if approve:
        due = deadline_for(utcnow(), config()["VISIT_LIMIT"])
        ticket.visit_due_at = due.at
        ticket.deadline_provisional = ticket.deadline_provisional or due.provisional
        ticket.visit_attempts = 0
        record(
            ticket,
            "review_reply",
            actor,
            to_status=TicketStatus.PENDING_VISIT,
            note=note,
            approve=True,
            visit_due_at=due.at,
        )
        messaging.notify_ticket(ticket, "reply")  # the unit's answer, then the visit
    else:
        ticket.replied_at = None
        record(
            ticket,
            "review_reply",
            actor,
            to_status=TicketStatus.IN_PROGRESS,
            note=note,
            approve=False,
        )
    db.session.commit()
    return ticket
